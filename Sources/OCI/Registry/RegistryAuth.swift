import Foundation

/// One challenge of a `WWW-Authenticate` header: `Bearer realm="…",service="…",scope="…"`.
public struct AuthChallenge: Sendable, Equatable {
  public var scheme: String
  public var parameters: [String: String]

  public var realm: String? { parameters["realm"] }
  public var service: String? { parameters["service"] }
  public var scope: String? { parameters["scope"] }

  /// Parses every challenge of a header value. Quoted values may hold commas
  /// (`scope="repository:a:pull,push"`), which is why this is not a split on ",".
  public static func parse(_ header: String) -> [AuthChallenge] {
    var result: [AuthChallenge] = []
    var chars = Array(header)
    chars.append(",")
    var i = 0
    func skipSpaces() { while i < chars.count, chars[i] == " " || chars[i] == "\t" { i += 1 } }
    func token() -> String {
      let start = i
      while i < chars.count, !" \t,=\"".contains(chars[i]) { i += 1 }
      return String(chars[start..<i])
    }
    while i < chars.count {
      skipSpaces()
      if i < chars.count, chars[i] == "," {
        i += 1
        continue
      }
      let word = token()
      guard !word.isEmpty else {
        i += 1
        continue
      }
      skipSpaces()
      if i < chars.count, chars[i] == "=", var last = result.popLast() {
        // key=value belonging to the current challenge
        i += 1
        skipSpaces()
        var value = ""
        if i < chars.count, chars[i] == "\"" {
          i += 1
          while i < chars.count, chars[i] != "\"" {
            if chars[i] == "\\", i + 1 < chars.count { i += 1 }
            value.append(chars[i])
            i += 1
          }
          i += 1
        } else {
          value = token()
        }
        last.parameters[word.lowercased()] = value
        result.append(last)
      } else {
        result.append(AuthChallenge(scheme: word.lowercased(), parameters: [:]))
      }
    }
    return result
  }
}

/// What the client knows about authenticating to one registry: which scheme it asked for
/// and the bearer tokens it handed out, per scope set.
struct AuthState: Sendable {
  struct Token: Sendable {
    var value: String
    var expires: Date
  }

  /// Set once the registry has answered 401 with a challenge.
  var bearer: AuthChallenge?
  var basic = false
  var tokens: [String: Token] = [:]
  /// Token requests in flight, per scope set.
  var fetching: [String: Task<String, any Error>] = [:]

  static func key(_ scopes: [String]) -> String { Set(scopes).sorted().joined(separator: " ") }

  func token(for scopes: [String], now: Date = Date()) -> String? {
    guard let token = tokens[Self.key(scopes)], token.expires > now else { return nil }
    return token.value
  }
}

extension RegistryClient {
  /// The `Authorization` value for a request needing `scopes`, fetching a token first when
  /// the registry is known to want one and none is cached.
  func authorization(for scopes: [String]) async throws(RegistryError) -> String? {
    let key = AuthState.key(scopes)
    let (cached, pending, basic): (String?, Task<String, any Error>?, Bool) = auth.withLock {
      state in
      if let token = state.token(for: scopes) { return (token, nil, state.basic) }
      guard let challenge = state.bearer else { return (nil, nil, state.basic) }
      // One token request per scope set, however many transfers start at once.
      if let running = state.fetching[key] { return (nil, running, state.basic) }
      let task = Task<String, any Error> {
        defer { self.auth.withLock { $0.fetching[key] = nil } }
        return try await self.fetchToken(challenge, scopes: scopes)
      }
      state.fetching[key] = task
      return (nil, task, state.basic)
    }
    if let cached { return "Bearer " + cached }
    if let pending {
      do {
        return "Bearer " + (try await pending.value)
      } catch let error as RegistryError {
        throw error
      } catch {
        throw .local("\(error)")
      }
    }
    if basic, let credentials = options.credentials { return credentials.basicHeader }
    return nil
  }

  /// Handles a 401: learns the challenge, drops any stale token for these scopes, and tells
  /// whether trying again can help.
  func learnChallenge(
    _ head: HTTPHeaders, scopes: [String], repository: String?, sent: String?
  ) throws(RegistryError) {
    let challenges = head.values("WWW-Authenticate").flatMap(AuthChallenge.parse)
    if let bearer = challenges.first(where: { $0.scheme == "bearer" }), bearer.realm != nil {
      auth.withLock {
        $0.bearer = bearer
        // Drop the token only if it is the one refused: a concurrent request may already
        // have fetched a fresh one.
        let key = AuthState.key(scopes)
        if let token = $0.tokens[key], sent == "Bearer " + token.value { $0.tokens[key] = nil }
      }
      return
    }
    if challenges.contains(where: { $0.scheme == "basic" }) {
      guard options.credentials != nil else {
        throw .unauthorized(
          host: host, repository: repository, detail: "the registry needs a user name and password",
          advice: options.credentialsAdvice(host: host))
      }
      auth.withLock { $0.basic = true }
      return
    }
    throw .unauthorized(
      host: host, repository: repository, detail: "no usable WWW-Authenticate challenge")
  }

  /// Asks the token realm for a token covering `scopes` (plus the scope the registry named).
  func fetchToken(_ challenge: AuthChallenge, scopes: [String]) async throws(RegistryError)
    -> String
  {
    guard var realm = challenge.realm, var components = URLComponents(string: realm) else {
      throw .invalidResponse(host: host, detail: "bearer challenge without a usable realm")
    }
    // Harbor behind plain HTTP still advertises an https realm on its own host.
    if components.scheme == "https", baseURL.hasPrefix("http://"),
      components.host.map({ host.hasPrefix($0) }) == true
    {
      components.scheme = "http"
      realm = components.string ?? realm
    }
    var items = components.queryItems ?? []
    if let service = challenge.service {
      items.append(URLQueryItem(name: "service", value: service))
    }
    var allScopes = scopes
    if let named = challenge.scope, !allScopes.contains(named) { allScopes.append(named) }
    for scope in allScopes { items.append(URLQueryItem(name: "scope", value: scope)) }
    if let user = options.credentials?.username {
      items.append(URLQueryItem(name: "account", value: user))
    }
    components.queryItems = items
    let url = components.string ?? realm
    var headers = HTTPHeaders()
    if let credentials = options.credentials {
      headers.add("Authorization", credentials.basicHeader)
    }
    let response = try await transfer(
      HTTPRequest(
        method: "GET", url: url, headers: headers, tls: options.tls, bufferLimit: 1 << 20),
      retries: true)
    guard response.status == 200 else {
      let detail =
        RegistryErrorEntry.parse(response.body).first?.message
        ?? "token service \(url) answered \(response.status)"
      if response.status == 401 || response.status == 403 {
        throw .unauthorized(
          host: host, repository: nil, detail: detail,
          advice: options.credentialsAdvice(host: host))
      }
      throw .invalidResponse(host: host, detail: detail)
    }
    struct Reply: Decodable {
      var token: String?
      var accessToken: String?
      var expiresIn: Int?

      enum CodingKeys: String, CodingKey {
        case token
        case accessToken = "access_token"
        case expiresIn = "expires_in"
      }
    }
    guard let reply = try? JSONDecoding.decode(Reply.self, from: response.body),
      let token = reply.token ?? reply.accessToken, !token.isEmpty
    else {
      throw .invalidResponse(host: host, detail: "token service \(url) sent no token")
    }
    let lifetime = Double(max(reply.expiresIn ?? 60, 10)) - 5
    auth.withLock {
      $0.tokens[AuthState.key(scopes)] = AuthState.Token(
        value: token, expires: Date().addingTimeInterval(lifetime))
    }
    return token
  }
}

extension RegistryClient {
  /// A 401 that carries `error="insufficient_scope"` after a token was issued: the password
  /// was fine, the account lacks the right (a pull-only account pushing). Saying "check the
  /// password" would send the user the wrong way.
  func insufficientScope(_ headers: HTTPHeaders, repository: String?) -> RegistryError? {
    guard let header = headers["WWW-Authenticate"],
      let challenge = AuthChallenge.parse(header).first(where: { $0.scheme == "bearer" }),
      challenge.parameters["error"] == "insufficient_scope"
    else { return nil }
    let account = options.credentials.map { "account '\($0.username)'" } ?? "anonymous access"
    let wanted = challenge.scope.map { " (asked: \($0))" } ?? ""
    return .denied(
      host: host, repository: repository ?? challenge.scope ?? "the repository",
      detail: "the token issued to \(account) does not grant this action\(wanted)")
  }
}
