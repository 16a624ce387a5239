import Foundation
import OCI

/// The one Kubernetes API call `kk create manifest` makes: list the nodes, page by page.
///
/// Runs over the project's libcurl transport, so a kubeconfig's CA, client certificate,
/// proxy and `tls-server-name` behave exactly as they do for registries, and every failure
/// comes back as one ``KubeError`` line that says what to fix.
public struct KubeClient: Sendable {
  public let connection: KubeConnection
  private let pool: TransferPool

  public init(connection: KubeConnection, pool: TransferPool) {
    self.connection = connection
    self.pool = pool
  }

  /// Every node of the cluster: `GET /api/v1/nodes?limit=<pageSize>`, following
  /// `metadata.continue` until the last page (large clusters answer in pages).
  ///
  /// As client-go's pager does, a continue token that expired between two pages (410 Gone)
  /// is answered with one unpaged list; a server that hands back the token it was asked
  /// with would page forever and is refused instead.
  public func listNodes(pageSize: Int = 500) async throws(KubeError) -> [KubeNode] {
    var nodes: [KubeNode] = []
    var token: String?
    var pages = 0
    repeat {
      var query = "limit=\(pageSize)"
      if let token { query += "&continue=" + Self.percentEncoded(token) }
      let page: KubeNodeList
      do {
        page = try await get("/api/v1/nodes?" + query)
      } catch .http(_, 410, _) where token != nil {
        return try await get("/api/v1/nodes").items
      }
      nodes += page.items
      let next = page.continueToken.flatMap { $0.isEmpty ? nil : $0 }
      if let next, next == token {
        throw .badResponse(
          server: connection.server,
          reason: "page \(pages + 1) gave back the continue token it was asked with, so its "
            + "paging would never end")
      }
      token = next
      pages += 1
      if pages > 100_000 {
        throw .badResponse(server: connection.server, reason: "the continue tokens never end")
      }
    } while token != nil
    return nodes
  }

  private func get(_ pathAndQuery: String) async throws(KubeError) -> KubeNodeList {
    let server = connection.server
    let (url, connectTo) = target(pathAndQuery)
    var headers = HTTPHeaders()
    headers.set("Accept", "application/json")
    switch connection.credential {
    case .bearer(let token): headers.set("Authorization", "Bearer \(token)")
    case .basic(let user, let password):
      headers.set(
        "Authorization", "Basic " + Data("\(user):\(password)".utf8).base64EncodedString())
    case .none, .clientCertificate: break
    }
    let request = HTTPRequest(
      method: "GET", url: url, headers: headers, tls: connection.tls, bufferLimit: 256 << 20,
      proxy: connection.proxy, connectTo: connectTo)
    let response: HTTPResponse
    do {
      response = try await pool.send(request)
    } catch let error as TransportError {
      throw mapTransport(error)
    } catch {
      throw .unreachable(server: server, detail: String(describing: error))
    }
    switch response.status {
    case 200:
      let list: KubeNodeList
      do {
        list = try KubeNodeList.decode(response.body)
      } catch {
        throw .badResponse(server: server, reason: "not a NodeList JSON document (\(error))")
      }
      if let kind = list.kind, !kind.isEmpty, kind != "NodeList" {
        throw .badResponse(
          server: server,
          reason: "it answered a \(kind), not a NodeList (is the server URL a proxy or "
            + "dashboard rather than the API server?)")
      }
      return list
    case 401:
      throw .unauthorized(server: server, credential: credentialDescription)
    case 403:
      let who = connection.userName.isEmpty ? "the anonymous user" : "user '\(connection.userName)'"
      throw .forbidden(server: server, user: who, message: Self.statusMessage(response.body))
    default:
      throw .http(
        server: server, status: response.status, message: Self.statusMessage(response.body))
    }
  }

  /// What was presented, and what a 401 for it usually means.
  var credentialDescription: String {
    switch connection.credential {
    case .none:
      return "request without credentials (the kubeconfig user has none)"
    case .bearer:
      return "bearer token of user '\(connection.userName)': it is expired, revoked or for "
        + "another cluster; get a fresh one"
    case .basic:
      return "username/password of user '\(connection.userName)'"
    case .clientCertificate:
      return "client certificate of user '\(connection.userName)': it is not signed by a CA "
        + "the API server trusts, or has expired"
    }
  }

  /// The URL to request and, with `tls-server-name`, the CONNECT_TO entry that sends the
  /// connection to the real host while TLS checks the configured name.
  func target(_ pathAndQuery: String) -> (String, [String]) {
    var base = connection.server
    while base.hasSuffix("/") { base.removeLast() }
    guard let name = connection.tlsServerName, !name.isEmpty,
      var components = URLComponents(string: base), let host = components.host
    else { return (base + pathAndQuery, []) }
    let port = components.port ?? (components.scheme == "http" ? 80 : 443)
    components.host = name
    components.port = port
    let connectHost = host.contains(":") ? "[\(host)]" : host
    return (
      (components.string ?? base) + pathAndQuery, ["\(name):\(port):\(connectHost):\(port)"]
    )
  }

  private func mapTransport(_ error: TransportError) -> KubeError {
    let server = connection.server
    let message = error.message
    switch error.kind {
    case .tlsVerification:
      let lower = message.lowercased()
      if lower.contains("subject name") || lower.contains("host name")
        || lower.contains("hostname")
      {
        let name =
          connection.tlsServerName ?? URLComponents(string: server)?.host ?? server
        return .tlsNameMismatch(server: server, name: name, detail: message)
      }
      return .tlsUntrusted(server: server, detail: message)
    case .tls:
      return .tls(server: server, detail: message)
    case .connection, .timeout, .tooLarge, .other:
      if let proxy = connection.proxy, !proxy.isEmpty {
        return .unreachable(server: server, detail: "\(message); through proxy-url \(proxy)")
      }
      return .unreachable(server: server, detail: message)
    }
  }

  /// `message` of a Kubernetes `Status` body, else the body's start.
  static func statusMessage(_ body: [UInt8]) -> String {
    struct Status: Decodable { var message: String? }
    if let status = try? JSONDecoder().decode(Status.self, from: Data(body)),
      let message = status.message
    {
      return message
    }
    let text = String(decoding: body.prefix(300), as: UTF8.self)
      .trimmingCharacters(in: .whitespacesAndNewlines)
    return text.isEmpty ? "(no message)" : text
  }

  static func percentEncoded(_ value: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
  }
}
