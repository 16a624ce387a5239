import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// What a finished process printed and how it ended.
public struct ProcessOutput: Sendable, CustomStringConvertible {
  public let command: [String]
  public let exitCode: Int32
  /// Standard output as bytes, exactly as written (e.g. `skopeo inspect --raw`).
  public let stdoutData: Data
  public let stderr: String

  /// Standard output decoded as UTF-8.
  public var stdout: String { String(decoding: stdoutData, as: UTF8.self) }

  public var succeeded: Bool { exitCode == 0 }

  public var description: String {
    "`\(command.joined(separator: " "))` exited \(exitCode)\nstdout: \(Self.clip(stdout))\nstderr: \(Self.clip(stderr))"
  }

  /// The start and the end of a long output: a crash report names its cause at the top and
  /// the failing frames further down, an error message comes last.
  static func clip(_ text: String) -> String {
    guard text.count > 4000 else { return text }
    return text.prefix(2000) + "\n...\n" + text.suffix(2000)
  }
}

/// Runs external tools (skopeo, ctr, curl, python3) from tests.
///
/// Why: tests compare kk against the tools users already trust, so they must run them
/// without ever hanging CI. Output goes to temporary files rather than pipes, so a chatty
/// tool can never block on a full pipe, and every run has a deadline after which the
/// process is killed.
public enum ProcessRunner {
  /// The apt package that provides each tool the fixtures use, for error messages.
  static let packages: [String: String] = [
    "docker-registry": "docker-registry", "skopeo": "skopeo", "containerd": "containerd",
    "ctr": "containerd", "htpasswd": "apache2-utils", "curl": "curl", "python3": "python3",
  ]

  /// The absolute path of `name` on `PATH`, or nil when it is not installed.
  public static func which(_ name: String) -> String? {
    if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for dir in path.split(separator: ":") {
      let candidate = "\(dir)/\(name)"
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
  }

  /// Like ``which(_:)`` but throws an error that says which apt package to install.
  public static func require(_ name: String) throws(TestSupportError) -> String {
    guard let path = which(name) else {
      throw .missingTool(name, package: packages[name] ?? name)
    }
    return path
  }

  /// Runs `tool` with `arguments` and returns its output, whatever the exit code.
  ///
  /// - Parameters:
  ///   - tool: a name looked up on `PATH`, or an absolute path.
  ///   - environment: extra variables on top of the test process's environment.
  ///   - timeout: the process is killed (SIGKILL) and ``TestSupportError/timedOut`` is
  ///     thrown when it runs longer than this; cancellation kills it too.
  public static func run(
    _ tool: String, _ arguments: [String], environment: [String: String] = [:],
    timeout: Duration = .seconds(300)
  ) async throws -> ProcessOutput {
    let executable = try require(tool)
    let scratch = try TemporaryDirectory(prefix: "kk-run")
    defer { scratch.remove() }
    let outPath = scratch.path + "/stdout"
    let errPath = scratch.path + "/stderr"
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    let outHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    defer {
      try? outHandle.close()
      try? errHandle.close()
    }

    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = outHandle
    process.standardError = errHandle
    let exit = ExitWaiter(process)
    try process.run()
    let pid = process.processIdentifier

    let status: Int32? = await withTaskGroup(of: Int32?.self) { group in
      group.addTask { await exit.wait() }
      group.addTask {
        try? await Task.sleep(for: timeout)
        return nil
      }
      let first = await group.next() ?? nil
      if first == nil {
        kill(pid, SIGKILL)
        _ = await exit.wait()
      }
      group.cancelAll()
      return first
    }
    let command = [tool] + arguments
    let stdoutData = (try? Data(contentsOf: URL(fileURLWithPath: outPath))) ?? Data()
    let stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
    guard let status else {
      let seconds = Double(timeout.components.seconds)
      throw TestSupportError.timedOut(
        command: command, seconds: seconds,
        output: String(decoding: stdoutData, as: UTF8.self) + stderr)
    }
    return ProcessOutput(command: command, exitCode: status, stdoutData: stdoutData, stderr: stderr)
  }

  /// Like ``run(_:_:environment:timeout:)`` but throws ``TestSupportError/processFailed(_:)``
  /// unless the process exits 0.
  @discardableResult
  public static func checked(
    _ tool: String, _ arguments: [String], environment: [String: String] = [:],
    timeout: Duration = .seconds(300)
  ) async throws -> ProcessOutput {
    let output = try await run(tool, arguments, environment: environment, timeout: timeout)
    guard output.succeeded else { throw TestSupportError.processFailed(output) }
    return output
  }
}

/// Turns `Process.terminationHandler` into something a task can await, whichever of the
/// two (the handler or the waiter) comes first.
final class ExitWaiter: @unchecked Sendable {
  private let lock = NSLock()
  private var status: Int32?
  private var waiters: [CheckedContinuation<Int32, Never>] = []

  init(_ process: Process) {
    process.terminationHandler = { [self] finished in
      let code = finished.terminationStatus
      let pending = lock.withLock {
        status = code
        defer { waiters = [] }
        return waiters
      }
      for waiter in pending { waiter.resume(returning: code) }
    }
  }

  var hasExited: Bool { lock.withLock { status != nil } }

  func wait() async -> Int32 {
    await withCheckedContinuation { continuation in
      let done: Int32? = lock.withLock {
        if let status { return status }
        waiters.append(continuation)
        return nil
      }
      if let done { continuation.resume(returning: done) }
    }
  }

  /// Waits at most `limit`; nil when the process is still running.
  func wait(atMost limit: Duration) async -> Int32? {
    let clock = ContinuousClock()
    let deadline = clock.now + limit
    while clock.now < deadline {
      if let code = lock.withLock({ status }) { return code }
      try? await Task.sleep(for: .milliseconds(20))
    }
    return lock.withLock { status }
  }
}
