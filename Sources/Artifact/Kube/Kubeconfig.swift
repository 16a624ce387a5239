import Foundation
import Yams

/// The kubeconfig files of a command run, merged the way kubectl merges them.
///
/// `$KUBECONFIG` lists several files; kubectl takes, for every cluster, user and context
/// name, the entry of the first file that defines it, and `current-context` from the first
/// file that sets one. Entries remember their file, because relative paths inside them
/// (`certificate-authority: ca.crt`, an exec command `./bin/helper`) resolve against that
/// file's directory.
public struct Kubeconfig: Sendable {
  public var files: [String]
  public var currentContext: String?
  public var clusters: [String: Sourced<Cluster>] = [:]
  public var users: [String: Sourced<User>] = [:]
  public var contexts: [String: Context] = [:]

  /// An entry and the directory of the file it came from.
  public struct Sourced<Value: Sendable>: Sendable {
    public var value: Value
    public var directory: String
  }

  public struct Cluster: Decodable, Sendable {
    public var server: String?
    public var certificateAuthority: String?
    public var certificateAuthorityData: String?
    public var insecureSkipTLSVerify: Bool?
    public var tlsServerName: String?
    public var proxyURL: String?

    enum CodingKeys: String, CodingKey {
      case server
      case certificateAuthority = "certificate-authority"
      case certificateAuthorityData = "certificate-authority-data"
      case insecureSkipTLSVerify = "insecure-skip-tls-verify"
      case tlsServerName = "tls-server-name"
      case proxyURL = "proxy-url"
    }
  }

  public struct User: Decodable, Sendable {
    public var clientCertificate: String?
    public var clientCertificateData: String?
    public var clientKey: String?
    public var clientKeyData: String?
    public var token: String?
    public var tokenFile: String?
    public var username: String?
    public var password: String?
    public var exec: ExecConfig?
    public var authProvider: AuthProvider?

    enum CodingKeys: String, CodingKey {
      case clientCertificate = "client-certificate"
      case clientCertificateData = "client-certificate-data"
      case clientKey = "client-key"
      case clientKeyData = "client-key-data"
      case authProvider = "auth-provider"
      case token, tokenFile, username, password, exec
    }
  }

  /// `users[].user.auth-provider`: the legacy in-tree plugins (oidc, gcp, azure) that
  /// kubectl still honours; their `config` caches the token they last obtained.
  public struct AuthProvider: Decodable, Sendable {
    public var name: String
    public var config: [String: String]?
  }

  /// `users[].user.exec`: a client-go credential plugin.
  public struct ExecConfig: Decodable, Sendable {
    public var apiVersion: String?
    public var command: String
    public var args: [String]?
    public var env: [EnvVar]?
    public var provideClusterInfo: Bool?

    public struct EnvVar: Decodable, Sendable {
      public var name: String
      public var value: String
    }
  }

  public struct Context: Decodable, Sendable {
    public var cluster: String
    public var user: String?
  }

  private struct File: Decodable {
    var currentContext: String?
    var clusters: [Named<Cluster>]?
    var users: [NamedUser]?
    var contexts: [NamedContext]?
    enum CodingKeys: String, CodingKey {
      case currentContext = "current-context"
      case clusters, users, contexts
    }
  }
  private struct Named<T: Decodable>: Decodable {
    var name: String
    var cluster: T
  }
  private struct NamedUser: Decodable {
    var name: String
    var user: User?
  }
  private struct NamedContext: Decodable {
    var name: String
    var context: Context
  }

  /// The files to read: `explicit` (`--kubeconfig`), else `$KUBECONFIG` split on `:`
  /// (empty parts and missing files skipped, as kubectl does), else `~/.kube/config`.
  public static func paths(explicit: String?, environment: [String: String]) -> [String] {
    if let explicit, !explicit.isEmpty { return [explicit] }
    if let list = environment["KUBECONFIG"], !list.isEmpty {
      let parts = list.split(separator: ":").map(String.init).filter { !$0.isEmpty }
      let existing = parts.filter { FileManager.default.fileExists(atPath: $0) }
      return existing.isEmpty ? parts.prefix(1).map { $0 } : existing
    }
    let home = environment["HOME"] ?? NSHomeDirectory()
    return [home + "/.kube/config"]
  }

  /// Reads and merges `paths` in order.
  /// - Throws: ``KubeError/kubeconfigNotFound(path:)``, ``KubeError/kubeconfigInvalid(path:reason:)``.
  public static func load(paths: [String]) throws(KubeError) -> Kubeconfig {
    var config = Kubeconfig(files: paths)
    for path in paths {
      var isDirectory: ObjCBool = false
      if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory),
        isDirectory.boolValue
      {
        throw .kubeconfigInvalid(path: path, reason: "it is a directory; give the file itself")
      }
      guard let data = FileManager.default.contents(atPath: path) else {
        if FileManager.default.fileExists(atPath: path) {
          throw .kubeconfigInvalid(
            path: path,
            reason: "it is not readable (permission denied); run kk as a user "
              + "who can read it, or copy it")
        }
        throw .kubeconfigNotFound(path: path)
      }
      let file: File
      do {
        file = try YAMLDecoder().decode(File.self, from: data)
      } catch {
        throw .kubeconfigInvalid(path: path, reason: Self.reason(error, data: data))
      }
      let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
      if config.currentContext == nil, let current = file.currentContext, !current.isEmpty {
        config.currentContext = current
      }
      for entry in file.clusters ?? [] where config.clusters[entry.name] == nil {
        config.clusters[entry.name] = Sourced(value: entry.cluster, directory: directory)
      }
      for entry in file.users ?? [] where config.users[entry.name] == nil {
        config.users[entry.name] = Sourced(value: entry.user ?? User(), directory: directory)
      }
      for entry in file.contexts ?? [] where config.contexts[entry.name] == nil {
        config.contexts[entry.name] = entry.context
      }
    }
    return config
  }

  private static func reason(_ error: any Error, data: Data) -> String {
    if let yaml = yamlProblem(error) { return yaml }
    let text = String(decoding: data, as: UTF8.self)
    if text.split(separator: "\n").allSatisfy({
      $0.trimmingCharacters(in: .whitespaces).isEmpty || $0.hasPrefix("#")
    }) {
      return "the file is empty"
    }
    if case .typeMismatch(_, let context)? = error as? DecodingError, context.codingPath.isEmpty {
      return "it is not a YAML mapping (a kubeconfig has apiVersion: v1, kind: Config, "
        + "clusters, users and contexts)"
    }
    if let decoding = error as? DecodingError {
      switch decoding {
      case .typeMismatch(_, let context), .valueNotFound(_, let context),
        .keyNotFound(_, let context), .dataCorrupted(let context):
        let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }
          .joined()
        return (path.isEmpty ? "" : "\(path.drop { $0 == "." }): ") + context.debugDescription
      @unknown default: break
      }
    }
    return String(describing: error)
  }

  /// `line L, column C: <problem>` for a YAML syntax error (Yams wraps libyaml's in a
  /// DecodingError), so the user can find the place; nil for other errors.
  private static func yamlProblem(_ error: any Error) -> String? {
    var underlying: any Error = error
    if case .dataCorrupted(let context)? = error as? DecodingError,
      let inner = context.underlyingError
    {
      underlying = inner
    }
    guard let yaml = underlying as? YamlError else { return nil }
    switch yaml {
    case .scanner(_, let problem, let mark, let text), .parser(_, let problem, let mark, let text),
      .composer(_, let problem, let mark, let text):
      let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
      let tab =
        mark.line >= 1 && mark.line <= lines.count
        && lines[mark.line - 1].unicodeScalars.dropFirst(max(0, mark.column - 1)).first == "\t"
      return "line \(mark.line), column \(mark.column): \(problem)"
        + (tab ? " (YAML cannot be indented with tabs, use spaces)" : "")
    case .duplicatedKeysInMapping(let duplicates, let context):
      let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
      return "line \(context.mark.line), column \(context.mark.column): the key \(keys) "
        + "appears twice in one mapping; keep one"
    default:
      return nil
    }
  }
}
