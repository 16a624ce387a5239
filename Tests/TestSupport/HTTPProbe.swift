import Foundation

/// One HTTP response as curl saw it.
public struct HTTPReply: Sendable {
  public let status: Int
  /// Header names lowercased; the last value wins.
  public let headers: [String: String]
  public let body: String
}

/// Plain HTTP requests from tests through the `curl` binary.
///
/// Why curl and not URLSession: readiness probes and auth-flow checks must trust a test
/// CA file (`--cacert`), which FoundationNetworking on Linux cannot do per request, and
/// an independent client keeps fixture checks from depending on kk's own HTTP code.
public enum HTTPProbe {
  /// Performs one request (`form`: an `application/x-www-form-urlencoded` body) and returns status, headers and body; throws only when curl
  /// itself fails (connection refused, TLS failure, timeout).
  public static func fetch(
    _ url: String, method: String = "GET", caCert: String? = nil, basic: Credentials? = nil,
    bearer: String? = nil, form: String? = nil, timeout: Duration = .seconds(10)
  ) async throws -> HTTPReply {
    let scratch = try TemporaryDirectory(prefix: "kk-curl")
    defer { scratch.remove() }
    var args = [
      "-sS", "-X", method, "-D", scratch.path + "/headers", "-o", scratch.path + "/body",
      "-w", "%{http_code}", "--max-time", "\(timeout.components.seconds)",
    ]
    if let caCert { args += ["--cacert", caCert] }
    if let basic { args += ["-u", basic.colonSeparated] }
    if let bearer { args += ["-H", "Authorization: Bearer \(bearer)"] }
    if let form { args += ["--data-raw", form] }
    args.append(url)
    let output = try await ProcessRunner.checked("curl", args, timeout: timeout + .seconds(5))
    guard let status = Int(output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
      throw TestSupportError.badOutput("curl printed no status code for \(url): \(output)")
    }
    var headers: [String: String] = [:]
    let rawHeaders = (try? String(contentsOfFile: scratch.path + "/headers", encoding: .utf8)) ?? ""
    for line in rawHeaders.split(whereSeparator: \.isNewline) {
      guard let colon = line.firstIndex(of: ":") else { continue }
      let name = line[..<colon].lowercased()
      headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    let body = (try? String(contentsOfFile: scratch.path + "/body", encoding: .utf8)) ?? ""
    return HTTPReply(status: status, headers: headers, body: body)
  }
}
