import Foundation

/// The `kk` executable built alongside the tests, so CLI tests run the real command line
/// (argument parsing, exit codes, stderr) rather than calling library functions.
public enum KKBinary {
  /// `$KK_BINARY`, else `kk` in the directory of the running test bundle (SwiftPM builds
  /// every product of the package into the same directory before it runs tests).
  public static var path: String {
    if let explicit = ProcessInfo.processInfo.environment["KK_BINARY"], !explicit.isEmpty {
      return explicit
    }
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    // On Linux the runner is `<bin>/kkPackageTests.xctest`; on macOS it sits inside a bundle.
    for _ in 0..<4 {
      let candidate = directory.appendingPathComponent("kk").path
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
      directory.deleteLastPathComponent()
    }
    return TestPaths.repoRoot + "/.build/debug/kk"
  }

  /// Runs `kk` with `arguments`; the result carries the exit code, stdout and stderr.
  public static func run(
    _ arguments: [String], environment: [String: String] = [:],
    timeout: Duration = .seconds(600)
  ) async throws -> ProcessOutput {
    try await ProcessRunner.run(path, arguments, environment: environment, timeout: timeout)
  }
}
