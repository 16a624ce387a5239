import Foundation
import OCI

/// What ``HarborProjects/ensure(_:public:dryRun:)`` found and did, project by project.
public struct HarborProjectsReport: Sendable, Equatable {
  /// Projects that were there already (untouched).
  public var existing: [String] = []
  /// Projects this call created.
  public var created: [String] = []
  /// Projects that were missing at the check but answered 409 to the create: someone else
  /// created them in between, which is as good as created.
  public var raced: [String] = []
  /// `dryRun` only: the projects a real run would create.
  public var wouldCreate: [String] = []

  public init() {}
}

/// Creates the Harbor projects a push needs, through Harbor's v2.0 REST API.
///
/// Why: Harbor refuses a push into a project that does not exist (with a 401, the same answer
/// as a wrong password), and KubeKey creates the projects before pushing with `type: harbor`.
/// The calls are the ones Harbor documents: `HEAD /api/v2.0/projects?project_name=P` (200
/// exists, 404 missing; `GET ?name=P` when HEAD is not allowed) and `POST /api/v2.0/projects`
/// (201 created, 409 exists), with basic auth, the registry's own credentials. Basic auth
/// needs no CSRF token (Harbor wants one only for cookie sessions, which kk never opens).
/// HTTP goes through the OCI module's libcurl pool, with the registry's TLS options.
public final class HarborProjects: Sendable {
  public let host: String
  public let options: RegistryOptions
  let pool: TransferPool
  /// `https://host` or `http://host`; an `.httpsThenHTTP` scheme switches after a TLS failure.
  private let base: HarborBase

  public init(host: String, options: RegistryOptions, pool: TransferPool) {
    self.host = host
    self.options = options
    self.pool = pool
    base = HarborBase((options.scheme == .http ? "http://" : "https://") + host)
  }

  /// The Harbor project of a target repository: its first path segment, or `library` for a
  /// one-segment name (Harbor keeps every repository inside a project).
  public static func project(of repository: String) -> String {
    let parts = repository.split(separator: "/", omittingEmptySubsequences: false)
    return parts.count > 1 ? String(parts[0]) : "library"
  }

  /// The distinct projects of `repositories`, in first-use order.
  public static func projects(for repositories: [String]) -> [String] {
    var seen: Set<String> = []
    return repositories.map(project(of:)).filter { seen.insert($0).inserted }
  }

  /// A push target as Harbor stores it: a one-segment repository goes into `library`
  /// (`host/nginx:1` → `host/library/nginx:1`), where ``project(of:)`` created it.
  public static func harborTarget(_ target: Reference) -> Reference {
    guard !target.repository.contains("/") else { return target }
    return
      (try? Reference(
        registry: target.registry, repository: "library/" + target.repository, tag: target.tag,
        digest: target.digest)) ?? target
  }

  /// Checks every project and creates the missing ones (`public` sets Harbor's
  /// `metadata.public`). With `dryRun` nothing is created: the report lists what would be.
  public func ensure(_ projects: [String], public isPublic: Bool, dryRun: Bool = false)
    async throws(HarborError) -> HarborProjectsReport
  {
    var report = HarborProjectsReport()
    for project in projects {
      if try await exists(project) {
        report.existing.append(project)
      } else if dryRun {
        report.wouldCreate.append(project)
      } else if try await create(project, public: isPublic) {
        report.created.append(project)
      } else {
        report.raced.append(project)
      }
    }
    return report
  }

  /// True when `project` exists: `HEAD ?project_name=`, or `GET ?name=` if HEAD is refused.
  public func exists(_ project: String) async throws(HarborError) -> Bool {
    let head = try await send("HEAD", "/api/v2.0/projects?project_name=" + escape(project))
    switch head.status {
    case 200: return true
    case 404: return false
    case 401: throw unauthorized
    case 405, 501:
      guard let found = try await listed(project) else {
        throw failure(head, "HEAD", "/api/v2.0/projects?project_name=\(project)", project)
      }
      return found
    default:
      throw failure(head, "HEAD", "/api/v2.0/projects?project_name=\(project)", project)
    }
  }

  /// Whether `GET /api/v2.0/projects?name=P` lists `project`; nil when the answer is not
  /// Harbor's project list (a plain registry answers 404). Used to explain a failed push.
  public func listed(_ project: String) async throws(HarborError) -> Bool? {
    let path = "/api/v2.0/projects?name=" + escape(project)
    let response = try await send("GET", path)
    switch response.status {
    case 200:
      struct Entry: Decodable { var name: String }
      guard let list = try? JSONDecoder().decode([Entry].self, from: Data(response.body)) else {
        return nil
      }
      return list.contains { $0.name == project }
    case 401: throw unauthorized
    default: return nil
    }
  }

  /// Creates `project`; true when created (201), false when it already existed (409).
  public func create(_ project: String, public isPublic: Bool) async throws(HarborError) -> Bool {
    struct Metadata: Encodable { var `public`: String }
    struct Body: Encodable {
      var projectName: String
      var metadata: Metadata
      enum CodingKeys: String, CodingKey {
        case projectName = "project_name"
        case metadata
      }
    }
    let body: [UInt8]
    do {
      body = Array(
        try JSONEncoder().encode(
          Body(projectName: project, metadata: Metadata(public: isPublic ? "true" : "false"))))
    } catch {
      throw .transport(host: host, detail: "cannot encode the request: \(error)")
    }
    let response = try await send("POST", "/api/v2.0/projects", body: body)
    switch response.status {
    case 200, 201: return true
    case 409: return false
    default: throw failure(response, "POST", "/api/v2.0/projects", project)
    }
  }

  /// A 401, naming where the credentials came from (or that there were none).
  private var unauthorized: HarborError {
    .unauthorized(
      host: host, source: options.credentialsSource, sent: options.credentials != nil)
  }

  private func failure(
    _ response: HTTPResponse, _ method: String, _ path: String, _ project: String
  )
    -> HarborError
  {
    switch response.status {
    case 401: return unauthorized
    case 403: return .forbidden(host: host, user: options.credentials?.username, project: project)
    default:
      return .status(
        host: host, method: method, path: path, status: response.status,
        message: RegistryErrorEntry.firstMessage(response.body))
    }
  }

  private func escape(_ value: String) -> String {
    value.addingPercentEncoding(
      withAllowedCharacters: .urlQueryAllowed.subtracting(["+", "&", "="])) ?? value
  }

  /// One exchange with basic auth; connection failures are retried twice, and an
  /// `.httpsThenHTTP` scheme falls back to HTTP when the server does not speak TLS.
  private func send(_ method: String, _ path: String, body: [UInt8]? = nil)
    async throws(HarborError) -> HTTPResponse
  {
    var headers = HTTPHeaders()
    headers.set("Accept", "application/json")
    if let credentials = options.credentials {
      let token = Data("\(credentials.username):\(credentials.password)".utf8)
        .base64EncodedString()
      headers.set("Authorization", "Basic " + token)
    }
    if body != nil { headers.set("Content-Type", "application/json") }
    var attempt = 0
    while true {
      attempt += 1
      let url = base.url + path
      let request = HTTPRequest(
        method: method, url: url, headers: headers, body: body.map { .bytes($0) } ?? .none,
        tls: options.tls, bufferLimit: 1 << 20)
      do {
        return try await pool.send(request)
      } catch let error as TransportError {
        if error.kind == .tls, options.scheme == .httpsThenHTTP, base.fallBackToHTTP() {
          continue
        }
        if error.isRetryable, attempt < 3 {
          try? await Task.sleep(nanoseconds: 200_000_000 * UInt64(attempt))
          continue
        }
        throw .transport(host: host, detail: error.description)
      } catch {
        throw .transport(host: host, detail: "\(error)")
      }
    }
  }
}

extension RegistryErrorEntry {
  /// `errors[0].message` of a Harbor or registry error document, if the body is one.
  static func firstMessage(_ body: [UInt8]) -> String? {
    struct Entry: Decodable { var message: String? }
    struct Document: Decodable { var errors: [Entry]? }
    return (try? JSONDecoder().decode(Document.self, from: Data(body)))?.errors?.first?.message
  }
}

/// The API's scheme and host, switched once from HTTPS to HTTP for `.httpsThenHTTP`.
private final class HarborBase: @unchecked Sendable {
  // @unchecked: `value` is guarded by `lock`.
  private let lock = NSLock()
  private var value: String

  init(_ value: String) { self.value = value }

  var url: String { lock.withLock { value } }

  /// Switches to HTTP; false when already on HTTP (the TLS error was not a plain server).
  func fallBackToHTTP() -> Bool {
    lock.withLock {
      guard value.hasPrefix("https://") else { return false }
      value = "http://" + value.dropFirst("https://".count)
      return true
    }
  }
}
