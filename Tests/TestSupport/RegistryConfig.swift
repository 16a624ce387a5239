import Foundation

/// A username and password accepted by a test registry or token server.
public struct Credentials: Sendable, Hashable {
  public let username: String
  public let password: String

  public init(username: String, password: String) {
    self.username = username
    self.password = password
  }

  /// `user:pass`, as skopeo's `--creds` and curl's `-u` want it.
  public var colonSeparated: String { "\(username):\(password)" }
}

/// Who may do what on the `.token` registry.
///
/// Why: token registries grant per repository and per action; tests of pull-only
/// accounts, denied pushes and anonymous pulls need to describe that policy.
public struct TokenPolicy: Sendable {
  /// One grant: `actions` (`pull`, `push`, `delete`, or `*`) on resources of `type`
  /// (`repository`, or `registry` for `registry:catalog:*`) whose name matches the
  /// shell pattern `name`.
  public struct Rule: Sendable, Hashable {
    public var type: String
    public var name: String
    public var actions: [String]

    public init(type: String = "repository", name: String, actions: [String]) {
      self.type = type
      self.name = name
      self.actions = actions
    }
  }

  public struct User: Sendable, Hashable {
    public var credentials: Credentials
    public var rules: [Rule]

    public init(_ credentials: Credentials, rules: [Rule]) {
      self.credentials = credentials
      self.rules = rules
    }
  }

  public var users: [User]
  /// Grants for requests without credentials; nil means anonymous requests get 401.
  public var anonymous: [Rule]?

  public init(users: [User], anonymous: [Rule]? = nil) {
    self.users = users
    self.anonymous = anonymous
  }

  /// The main account: pull and push on every repository, plus the catalog.
  public static let admin = Credentials(username: "kk", password: "kk-test-password")
  /// A pull-only account on every repository, for denied-push tests.
  public static let reader = Credentials(username: "reader", password: "reader-password")

  /// `admin` (pull, push, catalog) and `reader` (pull only); no anonymous access.
  public static let standard = TokenPolicy(users: [
    User(
      admin,
      rules: [
        Rule(name: "*", actions: ["*"]), Rule(type: "registry", name: "catalog", actions: ["*"]),
      ]),
    User(reader, rules: [Rule(name: "*", actions: ["pull"])]),
  ])

  /// `standard` plus anonymous pull on repositories matching `pattern`.
  public static func standard(anonymousPull pattern: String) -> TokenPolicy {
    var policy = standard
    policy.anonymous = [Rule(name: pattern, actions: ["pull"])]
    return policy
  }

  /// The JSON file read by `testdata/fixtures/token-server.py`.
  func json(service: String) throws -> Data {
    func rules(_ list: [Rule]) -> [[String: Any]] {
      list.map { ["type": $0.type, "name": $0.name, "actions": $0.actions] }
    }
    var users: [String: Any] = [:]
    for user in self.users {
      users[user.credentials.username] = [
        "password": user.credentials.password, "access": rules(user.rules),
      ]
    }
    var root: [String: Any] = ["service": service, "users": users]
    if let anonymous { root["anonymous"] = rules(anonymous) }
    return try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys])
  }
}

/// The `config.yml` given to `docker-registry serve`.
struct RegistryConfig {
  var storage: String
  var address: String
  var tls: (certificate: String, key: String)?
  var htpasswd: String?
  var token: (realm: String, service: String, issuer: String, rootCertBundle: String)?

  /// YAML for distribution 2.8; every value is quoted so paths need no escaping rules.
  var yaml: String {
    func q(_ value: String) -> String {
      "\""
        + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(
          of: "\"", with: "\\\"") + "\""
    }
    var lines = [
      "version: 0.1",
      "log:",
      "  level: info",
      "  formatter: text",
      "storage:",
      "  filesystem:",
      "    rootdirectory: \(q(storage))",
      "  delete:",
      "    enabled: true",
      "  redirect:",
      "    disable: true",
      "http:",
      "  addr: \(q(address))",
      "  secret: \(q("kk-test-secret"))",
    ]
    if let tls {
      lines += ["  tls:", "    certificate: \(q(tls.certificate))", "    key: \(q(tls.key))"]
    }
    if let htpasswd {
      lines += [
        "auth:", "  htpasswd:", "    realm: \(q("kk-test-registry"))", "    path: \(q(htpasswd))",
      ]
    } else if let token {
      lines += [
        "auth:", "  token:", "    realm: \(q(token.realm))", "    service: \(q(token.service))",
        "    issuer: \(q(token.issuer))", "    rootcertbundle: \(q(token.rootCertBundle))",
      ]
    }
    return lines.joined(separator: "\n") + "\n"
  }
}
