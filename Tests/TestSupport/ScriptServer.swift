import Foundation

/// One of our Python fixture servers under `testdata/fixtures` (faultproxy.py,
/// quirkregistry.py) on a free port, guarded so it dies with the test.
///
/// Why public here: the registry tests keep their own helper inside OCITests; push and
/// import tests in other targets need the same servers without copying the guard logic.
public final class ScriptServer: @unchecked Sendable {
  public let port: UInt16
  public let logPath: String
  private let process: GuardedProcess

  /// Starts `script --port <free port> arguments...` and waits until it prints `PORT `.
  public init(script: String, arguments: [String], logDirectory: String) async throws {
    port = try FreePort.find()
    logPath = logDirectory + "/" + script + "-\(port).log"
    process = try GuardedProcess(
      name: script,
      command: [TestPaths.python, TestPaths.fixture(script), "--port", String(port)] + arguments,
      logPath: logPath)
    let log = logPath
    do {
      try await waitUntilReady(process) { fileContains(log, "PORT ") }
    } catch {
      await process.stop()
      throw error
    }
  }

  /// `127.0.0.1:<port>`.
  public var host: String { "127.0.0.1:\(port)" }

  /// Everything the server printed so far.
  public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

  /// Lines of the log starting with `prefix` (`CUT ` for the fault proxy).
  public func lines(startingWith prefix: String) -> [String] {
    log.split(separator: "\n").filter { $0.hasPrefix(prefix) }.map(String.init)
  }

  public func stop() async { await process.stop() }
}

/// Runs `body` with a fixture server, stopping it whatever happens.
public func withScriptServer<T>(
  _ script: String, _ arguments: [String], logDirectory: String,
  _ body: (ScriptServer) async throws -> T
) async throws -> T {
  let server = try await ScriptServer(
    script: script, arguments: arguments, logDirectory: logDirectory)
  do {
    let result = try await body(server)
    await server.stop()
    return result
  } catch {
    await server.stop()
    throw error
  }
}
