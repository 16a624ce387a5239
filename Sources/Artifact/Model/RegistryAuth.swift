import Yams

/// Credentials and TLS settings for one registry host, as KubeKey's `registry.auths` entries
/// (shared by the manifest and the cluster config).
public struct RegistryAuth: Hashable, Sendable {
  public var username: String?
  /// Removed by ``KubeKeyManifest/redacted()`` before a manifest goes into a bundle.
  public var password: String?
  /// Always true when ``plainHTTP`` is: KubeKey's rule, applied when decoding so callers
  /// only ever look at this one flag to decide whether to verify certificates.
  public var skipTLSVerify: Bool
  /// Talk HTTP instead of HTTPS.
  public var plainHTTP: Bool
  /// Directory holding `*.crt` (CA) and `*.cert` + `*.key` (client pair) files.
  public var certsPath: String?

  public init(
    username: String? = nil, password: String? = nil, skipTLSVerify: Bool = false,
    plainHTTP: Bool = false, certsPath: String? = nil
  ) {
    self.username = username
    self.password = password
    self.skipTLSVerify = skipTLSVerify || plainHTTP
    self.plainHTTP = plainHTTP
    self.certsPath = certsPath
  }

  static let fieldNames = ["username", "password", "skipTLSVerify", "plainHTTP", "certsPath"]
}

/// `registry.auths`: host[:port] (lower-cased) → ``RegistryAuth``.
public struct RegistryAuths: Hashable, Sendable {
  public var auths: [String: RegistryAuth]

  public init(auths: [String: RegistryAuth] = [:]) {
    self.auths = auths
  }

  /// The entry for a registry host, compared case-insensitively.
  public func auth(forHost host: String) -> RegistryAuth? {
    auths[host.lowercased()]
  }
}

/// Checks that `host` is `name[:port]`, an IPv4 address or `[ipv6]`, optionally with a port.
/// Returns a reason when it is not.
func registryHostProblem(_ host: String) -> String? {
  if host.contains("://") {
    return "'\(host)' has a scheme; write the host[:port] only (use plainHTTP: true for http)"
  }
  if host.contains("/") {
    return "'\(host)' has a path; auths are per host[:port]"
  }
  var name = Substring(host)
  var port: Substring?
  if name.hasPrefix("[") {
    guard let close = name.firstIndex(of: "]") else { return "'\(host)' has an unclosed '['" }
    let rest = name[name.index(after: close)...]
    if !rest.isEmpty {
      guard rest.hasPrefix(":") else { return "'\(host)' is not a valid host[:port]" }
      port = rest.dropFirst()
    }
    name = name[name.index(after: name.startIndex)..<close]
    guard !name.isEmpty, name.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
      return "'\(host)' is not a valid IPv6 address"
    }
  } else {
    if let colon = name.lastIndex(of: ":") {
      port = name[name.index(after: colon)...]
      name = name[..<colon]
    }
    let labels = name.split(separator: ".", omittingEmptySubsequences: false)
    let valid =
      !name.isEmpty
      && labels.allSatisfy { label in
        !label.isEmpty && label.count <= 63 && !label.hasPrefix("-")
          && !label.hasSuffix("-")
          && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
      }
    if !valid { return "'\(host)' is not a valid host name" }
  }
  if let port {
    guard let number = Int(port), (1...65535).contains(number), port.allSatisfy(\.isNumber)
    else { return "'\(host)' has an invalid port '\(port)' (1-65535)" }
  }
  return nil
}

extension NodeReader {
  /// Decodes a `registry.auths` mapping.
  mutating func registryAuths(_ node: Node, path: String) -> [String: RegistryAuth] {
    if Self.isNull(node) { return [:] }
    guard case .mapping(let mapping) = node else {
      error("\(path) must be a mapping of host[:port] to credentials", at: node.mark)
      return [:]
    }
    var result: [String: RegistryAuth] = [:]
    for (key, value) in mapping {
      guard let rawHost = string(key, path: path), !rawHost.isEmpty else {
        error("\(path) has an empty host", at: key.mark)
        continue
      }
      // A bad host is reported, and its entry still checked so all problems show at once.
      var usable = true
      if let problem = registryHostProblem(rawHost) {
        error("\(path): \(problem)", at: key.mark)
        usable = false
      }
      let host = rawHost.lowercased()
      let entryPath = "\(path).\"\(rawHost)\""
      if usable && result[host] != nil {
        error("\(path) lists '\(host)' twice", at: key.mark)
        usable = false
      }
      if Self.isNull(value) {
        if usable { result[host] = RegistryAuth() }
        continue
      }
      guard let fields = fields(value, path: entryPath, known: RegistryAuth.fieldNames)
      else { continue }
      var auth = RegistryAuth()
      auth.username = fields["username"].flatMap {
        string($0.value, path: "\(entryPath).username")
      }
      auth.password = fields["password"].flatMap {
        string($0.value, path: "\(entryPath).password")
      }
      auth.certsPath = fields["certsPath"].flatMap {
        string($0.value, path: "\(entryPath).certsPath")
      }
      let skip = fields["skipTLSVerify"].flatMap {
        bool($0.value, path: "\(entryPath).skipTLSVerify")
      }
      let plain = fields["plainHTTP"].flatMap {
        bool($0.value, path: "\(entryPath).plainHTTP")
      }
      auth.plainHTTP = plain ?? false
      auth.skipTLSVerify = (skip ?? false) || auth.plainHTTP
      if auth.password != nil && auth.username == nil {
        warning("\(entryPath) has a password but no username", at: value.mark)
      }
      if usable { result[host] = auth }
    }
    return result
  }
}
