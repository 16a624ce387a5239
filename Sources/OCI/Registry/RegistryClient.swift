import Foundation

/// A client of one registry host, speaking the OCI distribution (registry v2) API.
///
/// It handles what every call shares — scheme, TLS, authentication (anonymous, basic,
/// bearer tokens cached per scope), retries with backoff and redirects that drop credentials
/// when they leave the registry's origin — so the per-area files (manifests, blob pull,
/// blob push) only say what to send and how to read the answer. Transfers run on the shared
/// `TransferPool`, which bounds parallelism.
public final class RegistryClient: Sendable {
  /// `host[:port]` as written in image references (`docker.io` is mapped to its API host).
  public let host: String
  public let options: RegistryOptions
  let pool: TransferPool
  let auth = Locked(AuthState())
  private let base: Locked<String>

  public init(host: String, options: RegistryOptions = RegistryOptions(), pool: TransferPool) {
    self.host = host
    self.options = options
    self.pool = pool
    let apiHost = host == "docker.io" ? "registry-1.docker.io" : host
    base = Locked((options.scheme == .http ? "http://" : "https://") + apiHost)
  }

  /// `scheme://host`, after any HTTPS → HTTP fallback.
  var baseURL: String { base.withLock { $0 } }

  /// Scope strings of the token protocol.
  static func pullScope(_ repository: String) -> String { "repository:\(repository):pull" }
  static func pushScope(_ repository: String) -> String { "repository:\(repository):pull,push" }

  /// One logical registry call.
  struct Call: Sendable {
    var method: String
    /// A path under the base URL (`/v2/...`) or an absolute URL (a `Location`).
    var target: String
    var headers = HTTPHeaders()
    /// Made afresh for every attempt, since a streamed body cannot be rewound.
    var body: @Sendable () throws -> HTTPBody = { .none }
    /// Adjusts headers before each attempt (a resumed download adds `Range`).
    var prepare: @Sendable (inout HTTPHeaders) -> Void = { _ in }
    var scopes: [String] = []
    var repository: String?
    var sink: (@Sendable (HTTPResponseHead) throws -> (any ByteSink)?)? = nil
    /// Retry connection failures, 408, 429 and 5xx. Off for steps that cannot be repeated
    /// alone (a PATCH of an upload session).
    var retries = true
    var bufferLimit = 8 << 20
    /// Bytes delivered so far (a download's sink count): a failure after progress does not
    /// use up the retry budget, so a long transfer over a flaky link keeps going.
    var progress: (@Sendable () -> Int64)? = nil
  }

  /// Runs `call` with authentication, redirects and retries; returns the final response,
  /// whatever its status (callers map statuses to errors).
  func perform(_ call: Call) async throws(RegistryError) -> HTTPResponse {
    var url = absolute(call.target)
    var method = call.method
    var attempt = 0
    var challenged = false
    var redirects = 0
    var delivered = call.progress?() ?? 0
    while true {
      attempt += 1
      var headers = call.headers
      call.prepare(&headers)
      if sameOrigin(url, baseURL), let value = try await authorization(for: call.scopes) {
        headers.set("Authorization", value)
      }
      let body: HTTPBody
      do {
        body = method == call.method ? try call.body() : .none
      } catch {
        throw .local("cannot read the upload body: \(error)")
      }
      let request = HTTPRequest(
        method: method, url: url, headers: headers, body: body, tls: options.tls,
        bodySink: call.sink, bufferLimit: call.bufferLimit)
      let response: HTTPResponse
      do {
        response = try await transfer(request, retries: false)
      } catch {
        let plain = "http://" + url.dropFirst("https://".count)
        if case .tls = error, options.scheme == .httpsThenHTTP, url.hasPrefix("https://"),
          sameOrigin(url, baseURL) || sameOrigin(plain, baseURL)
        {
          // Concurrent calls may all fail over TLS; the first switches the base, the
          // others find it switched.
          base.withLock {
            if $0.hasPrefix("https://") { $0 = "http://" + $0.dropFirst("https://".count) }
          }
          url = plain
          attempt -= 1
          continue
        }
        if case .connection = error, let progress = call.progress {
          let now = progress()
          if now > delivered {
            delivered = now
            attempt = 1
          }
        }
        if case .connection = error, call.retries, attempt < options.retry.attempts {
          try await pause(options.retry.delay(afterAttempt: attempt, retryAfter: nil))
          continue
        }
        if case .timedOut = error, call.retries, attempt < Self.timedOutAttempts(options) {
          try await pause(options.retry.delay(afterAttempt: attempt, retryAfter: nil))
          continue
        }
        if case .connection(let h, let detail, _) = error {
          throw .connection(host: h, detail: detail, attempts: attempt)
        }
        if case .timedOut(let h, let detail, _) = error {
          throw .timedOut(host: h, detail: detail, attempts: attempt)
        }
        throw error
      }
      switch response.status {
      case 401 where !challenged && sameOrigin(url, baseURL):
        challenged = true
        try learnChallenge(
          response.headers, scopes: call.scopes, repository: call.repository,
          sent: headers["Authorization"])
        attempt -= 1
        continue
      case 401:
        if let refusal = insufficientScope(response.headers, repository: call.repository) {
          throw refusal
        }
        let detail = RegistryErrorEntry.parse(response.body).first?.message
        throw .unauthorized(
          host: host, repository: call.repository, detail: detail,
          advice: options.credentialsAdvice(host: host))
      case 301, 302, 303, 307, 308:
        guard let location = response.headers["Location"], redirects < 10 else { return response }
        redirects += 1
        url = resolve(location, against: url)
        if response.status == 303 { method = "GET" }
        attempt -= 1
        continue
      case 408, 429, 500, 502, 503, 504:
        guard call.retries, attempt < options.retry.attempts else { return response }
        let wait = options.retry.delay(
          afterAttempt: attempt, retryAfter: response.headers["Retry-After"])
        try await pause(wait)
        continue
      default:
        return response
      }
    }
  }

  /// What curl reports when a TLS server drops the connection just after the handshake
  /// (TLS 1.3 servers refuse a missing or untrusted client certificate only then): the
  /// first write or the peer lookup fails on a closed socket.
  static func looksLikeClientCertificateRefusal(_ message: String) -> Bool {
    message.contains("getpeername() failed") || message.contains("SSL_write: Broken pipe")
      || message.contains("alert certificate required") || message.contains("alert unknown ca")
      || message.contains("alert bad certificate")
  }

  /// Tries of one request that timed out: one retry at most. A connection cut is usually a
  /// moment's trouble; a registry that let a whole stall timeout pass without a byte is
  /// usually hung, and five tries of a minute each per blob looked like a push hung for ever.
  static func timedOutAttempts(_ options: RegistryOptions) -> Int {
    min(2, options.retry.attempts)
  }

  /// One HTTP exchange on the pool, with transport failures mapped to `RegistryError`.
  /// With `retries`, connection failures are retried (used for idempotent side requests).
  func transfer(_ request: HTTPRequest, retries: Bool) async throws(RegistryError) -> HTTPResponse {
    var attempt = 0
    while true {
      attempt += 1
      do {
        return try await pool.send(request)
      } catch let error as TransportError {
        switch error.kind {
        case .tlsVerification:
          throw .tlsVerification(host: host, detail: error.message, advice: options.tlsAdvice)
        case .tls: throw .tls(host: host, detail: error.message, advice: options.tlsAdvice)
        case .connection
        where request.url.hasPrefix("https://")
          && Self.looksLikeClientCertificateRefusal(error.message):
          // Not a network problem: retrying only repeats the refusal.
          let what =
            options.tls.clientCertPEM == nil && options.tls.clientCertFile == nil
            ? "the registry closed the connection right after the TLS handshake, as one that "
              + "requires a client certificate (mutual TLS) does, and kk has none for it"
            : "the registry closed the connection right after the TLS handshake: it did not "
              + "accept the client certificate (not signed by a CA it trusts, or expired)"
          throw .tls(
            host: host, detail: "\(what); curl: \(error.message)", advice: options.tlsAdvice)
        case .connection:
          if retries, attempt < options.retry.attempts {
            try await pause(options.retry.delay(afterAttempt: attempt, retryAfter: nil))
            continue
          }
          throw .connection(host: host, detail: error.message, attempts: attempt)
        case .timeout:
          if retries, attempt < Self.timedOutAttempts(options) {
            try await pause(options.retry.delay(afterAttempt: attempt, retryAfter: nil))
            continue
          }
          throw .timedOut(host: host, detail: error.message, attempts: attempt)
        case .tooLarge: throw .invalidResponse(host: host, detail: error.message)
        case .other: throw .connection(host: host, detail: error.message, attempts: attempt)
        }
      } catch let error as RegistryError {
        throw error
      } catch is CancellationError {
        throw .local("cancelled")
      } catch {
        throw .local("\(error)")
      }
    }
  }

  private func pause(_ seconds: Double) async throws(RegistryError) {
    do {
      try await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1_000_000_000))
    } catch {
      throw .local("cancelled")
    }
  }

  /// Maps a failed response to the error that says what to do.
  func failure(
    _ response: HTTPResponse, method: String, path: String, repository: String,
    reference: String? = nil, digest: Digest? = nil
  ) -> RegistryError {
    let errors = RegistryErrorEntry.parse(response.body)
    let codes = Set(errors.map(\.code))
    switch response.status {
    case 401:
      return .unauthorized(
        host: host, repository: repository, detail: errors.first?.message,
        advice: options.credentialsAdvice(host: host))
    case 403 where codes.isEmpty || codes.contains("DENIED"):
      return .denied(host: host, repository: repository, detail: errors.first?.message)
    case 404 where codes.contains("NAME_UNKNOWN"):
      return .nameUnknown(host: host, repository: repository)
    case 404
    where codes.contains("BLOB_UNKNOWN") || (digest != nil && codes.isEmpty && reference == nil):
      if let digest { return .blobUnknown(host: host, repository: repository, digest: digest) }
    case 404 where reference != nil:
      return .manifestUnknown(host: host, repository: repository, reference: reference ?? "")
    default: break
    }
    return .registry(
      host: host, method: method, path: path, status: response.status, errors: errors)
  }

  // MARK: URLs

  func absolute(_ target: String) -> String {
    target.hasPrefix("http://") || target.hasPrefix("https://") ? target : baseURL + target
  }

  /// Resolves a `Location` (absolute, host-relative or path-relative) against the URL it came from.
  func resolve(_ location: String, against url: String) -> String {
    if location.hasPrefix("http://") || location.hasPrefix("https://") { return location }
    guard let base = URL(string: url), let resolved = URL(string: location, relativeTo: base) else {
      return absolute(location)
    }
    return resolved.absoluteString
  }

  /// Same scheme, host and port: only then may credentials travel.
  func sameOrigin(_ a: String, _ b: String) -> Bool {
    func origin(_ s: String) -> String {
      guard let c = URLComponents(string: s) else { return s }
      let port = c.port ?? (c.scheme == "https" ? 443 : 80)
      return "\(c.scheme ?? "")://\(c.host?.lowercased() ?? ""):\(port)"
    }
    return origin(a) == origin(b)
  }

  /// Appends a query parameter to a URL that may already carry some (upload `Location`s do).
  static func appending(query name: String, _ value: String, to url: String) -> String {
    let escaped =
      value.addingPercentEncoding(
        withAllowedCharacters: .urlQueryAllowed.subtracting(["+", "&", "="])) ?? value
    return url + (url.contains("?") ? "&" : "?") + name + "=" + escaped
  }
}
