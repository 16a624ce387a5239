import Foundation

/// A user name and password (or identity token used as a password).
public struct RegistryCredentials: Sendable, Equatable {
  public var username: String
  public var password: String

  public init(username: String, password: String) {
    self.username = username
    self.password = password
  }

  /// Parses `USER:PASSWORD` as `--src-creds`/`--dest-creds` take it (the password may hold colons).
  public init?(parsing text: String) {
    guard let colon = text.firstIndex(of: ":") else { return nil }
    username = String(text[..<colon])
    password = String(text[text.index(after: colon)...])
  }

  /// `Basic base64(user:password)`.
  var basicHeader: String {
    "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
  }
}

/// One `registry.auths.<host>` entry of a KubeKey manifest or cluster config.
///
/// Field names are KubeKey's so the YAML decodes directly into it.
public struct RegistryAuthEntry: Sendable, Equatable, Codable {
  public var username: String?
  public var password: String?
  public var skipTLSVerify: Bool?
  public var plainHTTP: Bool?
  /// A directory like `/etc/docker/certs.d/<host>`: `*.crt` are CAs, `*.cert` + `*.key` a client pair.
  public var certsPath: String?

  public init(
    username: String? = nil, password: String? = nil, skipTLSVerify: Bool? = nil,
    plainHTTP: Bool? = nil, certsPath: String? = nil
  ) {
    self.username = username
    self.password = password
    self.skipTLSVerify = skipTLSVerify
    self.plainHTTP = plainHTTP
    self.certsPath = certsPath
  }
}

/// How to back off between attempts. Defaults suit a real network; tests shrink the delays.
public struct RetryPolicy: Sendable {
  /// Total tries of one request, the first included.
  public var attempts: Int
  public var baseDelay: Double
  public var maxDelay: Double

  /// The longest `Retry-After` obeyed; a server asking for more gets this much.
  public var maxRetryAfter: Double

  public init(
    attempts: Int = 5, baseDelay: Double = 0.5, maxDelay: Double = 20, maxRetryAfter: Double = 60
  ) {
    self.attempts = max(1, attempts)
    self.baseDelay = baseDelay
    self.maxDelay = maxDelay
    self.maxRetryAfter = maxRetryAfter
  }

  /// Exponential backoff with full jitter, unless the server said how long (`Retry-After`).
  func delay(afterAttempt attempt: Int, retryAfter: String?) -> Double {
    if let retryAfter, let seconds = Double(retryAfter.trimmingSpaces()), seconds >= 0 {
      return min(seconds, maxRetryAfter)
    }
    let cap = min(maxDelay, baseDelay * pow(2, Double(attempt - 1)))
    return Double.random(in: cap / 2...max(cap, cap / 2))
  }
}

/// How one registry is reached: scheme, TLS, credentials, retries and upload shape.
///
/// Built from a KubeKey auth entry, from command-line flags, or both; credentials not given
/// explicitly are looked up in the Docker and containers auth files.
public struct RegistryOptions: Sendable {
  public enum Scheme: Sendable, Equatable {
    case https
    case http
    /// Try HTTPS, fall back to HTTP when the server does not speak TLS (skopeo's
    /// `--tls-verify=false`).
    case httpsThenHTTP
  }

  public var credentials: RegistryCredentials?
  /// Where `credentials` came from (`"cluster.yaml (spec.registry.auths)"`, `"--dest-creds"`,
  /// an auth file's path): a 401 names it, so the user fixes the file kk actually read.
  public var credentialsSource: String?
  public var tls: TLSOptions
  public var scheme: Scheme
  public var retry: RetryPolicy
  /// What a TLS failure should tell the user to change, in the words of the command that
  /// was run (its flags for this side, or the config fields); nil for a generic hint.
  public var tlsAdvice: String?
  /// Blobs at least this large are uploaded in PATCH chunks instead of one PUT.
  public var chunkedUploadThreshold: Int64
  /// Size of each PATCH chunk (raised to the registry's `OCI-Chunk-Min-Length`).
  public var chunkSize: Int64

  public init(
    credentials: RegistryCredentials? = nil, tls: TLSOptions = TLSOptions(),
    scheme: Scheme = .https,
    retry: RetryPolicy = RetryPolicy(), chunkedUploadThreshold: Int64 = 512 << 20,
    chunkSize: Int64 = 64 << 20
  ) {
    self.credentials = credentials
    self.tls = tls
    self.scheme = scheme
    self.retry = retry
    self.chunkedUploadThreshold = chunkedUploadThreshold
    self.chunkSize = chunkSize
  }

  /// Options from a KubeKey auth entry. `plainHTTP: true` implies skipping verification,
  /// as in KubeKey.
  /// `source` names the file and field the entry was read from, for error messages.
  public init(entry: RegistryAuthEntry, source: String? = nil) throws(RegistryError) {
    self.init()
    if let user = entry.username, !user.isEmpty {
      credentials = RegistryCredentials(username: user, password: entry.password ?? "")
      credentialsSource = source
    }
    if entry.plainHTTP == true {
      scheme = .http
      tls.verify = false
    }
    if entry.skipTLSVerify == true { tls.verify = false }
    if let dir = entry.certsPath, !dir.isEmpty { try loadCertificates(from: dir) }
  }

  /// Adds the CAs (`*.crt`) and the client pair (`*.cert` + `*.key` of the same stem) of a
  /// Docker-style `certs.d` directory.
  public mutating func loadCertificates(from directory: String) throws(RegistryError) {
    let names: [String]
    do {
      names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    } catch {
      throw .credentials(
        path: directory,
        detail:
          "the certificate directory (certsPath, or a --*cert-dir flag) is missing or not a readable "
          + "directory; fix the path or create it with the registry's ca.crt")
    }
    var pem: [UInt8] = tls.caPEM ?? []
    for name in names where name.hasSuffix(".crt") {
      guard let data = FileManager.default.contents(atPath: directory + "/" + name) else {
        throw .credentials(
          path: directory + "/" + name,
          detail: "unreadable CA file; fix its permissions or remove it")
      }
      pem += Array(data)
      if pem.last != UInt8(ascii: "\n") { pem.append(UInt8(ascii: "\n")) }
    }
    if !pem.isEmpty { tls.caPEM = pem }
    for name in names where name.hasSuffix(".cert") {
      let key = String(name.dropLast(5)) + ".key"
      guard names.contains(key) else {
        throw .credentials(
          path: directory + "/" + name,
          detail: "client certificate without \(key); add the key or remove the .cert")
      }
      tls.clientCertFile = directory + "/" + name
      tls.clientKeyFile = directory + "/" + key
      break
    }
  }

  /// Fills `credentials` from the auth files when none were given.
  public mutating func resolveCredentials(
    for host: String, environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws(RegistryError) {
    guard credentials == nil else { return }
    for path in CredentialFiles.paths(environment: environment) {
      guard let data = FileManager.default.contents(atPath: path) else { continue }
      if let found = try CredentialFiles.lookup(host: host, in: Array(data), path: path) {
        credentials = found
        credentialsSource = path
        return
      }
    }
  }

  /// What a 401 should tell the user to check, given what was sent and where it came from.
  func credentialsAdvice(host: String) -> String {
    guard credentials != nil else {
      return "kk sent no credentials for \(host): add username and password for \(host) under "
        + "registry.auths of the manifest or cluster config you pass, run `docker login \(host)` "
        + "(~/.docker/config.json), or pass them with the command's --*-creds flag"
    }
    guard let credentialsSource else {
      return "check the user name and password given for \(host)"
    }
    return "check the user name and password for \(host) in \(credentialsSource)"
  }
}

/// Docker's `config.json` and containers' `auth.json`, read the way docker and podman read them.
public enum CredentialFiles {
  /// The auth files consulted, most specific first.
  public static func paths(environment: [String: String]) -> [String] {
    var paths: [String] = []
    if let file = environment["REGISTRY_AUTH_FILE"] { paths.append(file) }
    if let runtime = environment["XDG_RUNTIME_DIR"] {
      paths.append(runtime + "/containers/auth.json")
    }
    if let dir = environment["DOCKER_CONFIG"] {
      paths.append(dir + "/config.json")
    } else if let home = environment["HOME"] {
      paths.append(home + "/.docker/config.json")
    }
    return paths
  }

  /// Credentials for `host` from the first file that has an entry for it.
  public static func lookup(host: String, environment: [String: String]) throws(RegistryError)
    -> RegistryCredentials?
  {
    for path in paths(environment: environment) {
      guard let data = FileManager.default.contents(atPath: path) else { continue }
      if let found = try lookup(host: host, in: Array(data), path: path) { return found }
    }
    return nil
  }

  /// Credentials for `host` in one file's bytes.
  public static func lookup(host: String, in bytes: [UInt8], path: String) throws(RegistryError)
    -> RegistryCredentials?
  {
    struct Entry: Decodable {
      var auth: String?
      var username: String?
      var password: String?
    }
    struct File: Decodable { var auths: [String: Entry]? }
    let file: File
    do {
      file = try JSONDecoding.decode(File.self, from: bytes)
    } catch {
      throw .credentials(path: path, detail: "not valid JSON; fix or remove the file")
    }
    let wanted = normalizedHost(host)
    guard let entry = file.auths?.first(where: { normalizedHost($0.key) == wanted })?.value else {
      return nil
    }
    if let auth = entry.auth, !auth.isEmpty {
      guard let decoded = Data(base64Encoded: auth),
        let text = String(data: decoded, encoding: .utf8),
        let creds = RegistryCredentials(parsing: text)
      else {
        throw .credentials(
          path: path,
          detail: "auths.\(host).auth is not base64 of user:password; fix or remove the file")
      }
      return creds
    }
    if let user = entry.username, let password = entry.password {
      return RegistryCredentials(username: user, password: password)
    }
    return nil
  }

  /// `https://index.docker.io/v1/` → `docker.io`; `http://h:5000/` → `h:5000`.
  static func normalizedHost(_ key: String) -> String {
    var text = Substring(key)
    for prefix in ["https://", "http://"] where text.hasPrefix(prefix) {
      text = text.dropFirst(prefix.count)
    }
    if let slash = text.firstIndex(of: "/") { text = text[..<slash] }
    let host = text.lowercased()
    return ["index.docker.io", "registry-1.docker.io"].contains(host) ? "docker.io" : host
  }
}
