import Foundation

/// One request as docker-registry logged it ("response completed", with or without error).
public struct LoggedRequest: Equatable, Sendable {
  public var method: String
  public var uri: String
}

/// docker-registry's own view of what a client did: its access log and the upload sessions
/// it still holds. Tests count requests and leftovers from here rather than trusting the
/// client's own report.
extension TestRegistry {
  /// The requests the registry logged after the first `skipping` bytes of its log.
  public func loggedRequests(after skipping: Int = 0) throws -> [LoggedRequest] {
    let log = try Data(contentsOf: URL(fileURLWithPath: logPath))
    let text = String(decoding: log.dropFirst(skipping), as: UTF8.self)
    return text.split(separator: "\n").compactMap { line in
      // 4xx answers are logged as "response completed with error".
      guard line.contains("msg=\"response completed"),
        let method = Self.field(line, "http.request.method="),
        let uri = Self.field(line, "http.request.uri=")
      else { return nil }
      return LoggedRequest(method: method, uri: uri)
    }
  }

  private static func field(_ line: Substring, _ key: String) -> String? {
    guard let start = line.range(of: key)?.upperBound else { return nil }
    let rest = line[start...]
    if rest.first == "\"" {
      let body = rest.dropFirst()
      return body.firstIndex(of: "\"").map { String(body[..<$0]) }
    }
    return String(rest.prefix { $0 != " " })
  }

  public func logSize() throws -> Int {
    try Data(contentsOf: URL(fileURLWithPath: logPath)).count
  }

  /// docker-registry writes its access log line after the response: waits until the log has
  /// stopped growing before counting.
  public func settledLog() async throws {
    var last = -1
    while true {
      let size = try logSize()
      if size == last { return }
      last = size
      try await Task.sleep(nanoseconds: 150_000_000)
    }
  }

  /// Paths of the upload session directories the registry still holds (`_uploads/<uuid>`).
  public func leftoverUploadSessions() -> [String] {
    let root = storagePath + "/docker/registry/v2/repositories"
    guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
    var found: [String] = []
    while let path = walker.nextObject() as? String {
      let parts = path.split(separator: "/")
      if parts.count >= 2, parts[parts.count - 2] == "_uploads" { found.append(root + "/" + path) }
    }
    return found
  }
}
