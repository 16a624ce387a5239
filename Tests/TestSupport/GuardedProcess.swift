import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A long-running server (registry, token server, containerd) started for one test.
///
/// Why: a server left behind by a failed or crashed test breaks every later run on the
/// machine. The command runs under `testdata/fixtures/guard.py`, which holds a pipe from
/// this process on its stdin: when the pipe closes — `stop()`, deinit, or the test
/// process dying for any reason, even SIGKILL — the guard stops the server's whole
/// process group.
final class GuardedProcess: @unchecked Sendable {
  let name: String
  let logPath: String
  private let process: Process
  private let stdin: Pipe
  private let exit: ExitWaiter
  private let pidFile: String
  private let lock = NSLock()
  private var stopped = false

  /// Starts `command` with stdout and stderr appended to `logPath`.
  ///
  /// - Parameter cleanupIfOrphaned: a directory the guard deletes once the server has
  ///   stopped, but only when the test process died without calling `stop()`.
  init(name: String, command: [String], logPath: String, cleanupIfOrphaned: String? = nil) throws {
    guard let tool = command.first else {
      throw TestSupportError.badOutput("GuardedProcess \(name): empty command")
    }
    let python = try ProcessRunner.require(TestPaths.python)
    _ = try ProcessRunner.require(tool)
    self.name = name
    self.logPath = logPath
    pidFile = logPath + ".pid"
    _ = FileManager.default.createFile(atPath: logPath, contents: nil)
    let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
    defer { try? log.close() }
    stdin = Pipe()
    process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [TestPaths.fixture("guard.py"), pidFile] + command
    if let cleanupIfOrphaned {
      process.environment = ProcessInfo.processInfo.environment.merging([
        "KK_GUARD_CLEANUP": cleanupIfOrphaned, "KK_GUARD_PARENT": String(getpid()),
      ]) { $1 }
    }
    process.standardInput = stdin
    process.standardOutput = log
    process.standardError = log
    exit = ExitWaiter(process)
    try process.run()
  }

  deinit {
    try? stdin.fileHandleForWriting.close()
  }

  /// True while the guard (and so the server) has not exited.
  var isRunning: Bool { !exit.hasExited }

  /// The last `bytes` of the log, for error messages.
  func logTail(_ bytes: Int = 3000) -> String {
    let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "(no log at \(logPath))"
    return String(text.suffix(bytes))
  }

  /// Stops the server and waits until it is gone; safe to call twice.
  ///
  /// Closing the guard's stdin makes it send SIGTERM, then SIGKILL after 5 s, to the
  /// server's process group. Should the guard itself hang, it and the group are killed.
  func stop() async {
    let first = lock.withLock {
      defer { stopped = true }
      return !stopped
    }
    guard first else {
      _ = await exit.wait(atMost: .seconds(10))
      return
    }
    try? stdin.fileHandleForWriting.close()
    if await exit.wait(atMost: .seconds(10)) != nil { return }
    if let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
      let child = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    {
      kill(-child, SIGKILL)
    }
    kill(process.processIdentifier, SIGKILL)
    _ = await exit.wait(atMost: .seconds(5))
  }
}
