/// Why a fixture could not do its job, phrased so the person reading the test log knows
/// what to install or where to look.
public enum TestSupportError: Error, CustomStringConvertible {
  /// A tool the fixture needs is not on `PATH`.
  case missingTool(String, package: String)
  /// A process exited non-zero where success was required.
  case processFailed(ProcessOutput)
  /// A process outlived its deadline and was killed.
  case timedOut(command: [String], seconds: Double, output: String)
  /// A server exited or never answered; `log` is the tail of its log file.
  case serverDidNotStart(String, log: String)
  /// Output of a tool (generator, token server) did not have the expected shape.
  case badOutput(String)

  public var description: String {
    switch self {
    case .missingTool(let tool, let package):
      return "\(tool) is not installed: run `apt-get install \(package)` (or `bash .ci/run`)"
    case .processFailed(let output):
      return "command failed: \(output)"
    case .timedOut(let command, let seconds, let output):
      return
        "`\(command.joined(separator: " "))` did not finish within \(seconds)s and was killed; "
        + "output so far: \(output.suffix(2000))"
    case .serverDidNotStart(let what, let log):
      return "\(what) did not start; its log ends with:\n\(log)"
    case .badOutput(let message):
      return message
    }
  }
}
