import Foundation
import OCI

/// Everything needed to talk to one cluster: the resolved server, TLS settings and
/// credentials of a kubeconfig context, with every file already read and every `-data`
/// field decoded, so a request never touches the kubeconfig again.
public struct KubeConnection: Sendable {
  public var context: String
  public var server: String
  public var tls: TLSOptions
  /// `tls-server-name`: the name the server certificate is checked against, when it
  /// differs from the host in `server`.
  public var tlsServerName: String?
  public var proxy: String?
  public var credential: Credential
  /// The kubeconfig user name, for error messages.
  public var userName: String

  public enum Credential: Sendable, Equatable {
    case none
    case bearer(String)
    case basic(username: String, password: String)
    /// The client certificate is in ``tls``.
    case clientCertificate
  }

  /// The `--context` (or current) context of `config`, resolved; exec plugins are run here.
  /// - Throws: ``KubeError`` naming the missing context, cluster, user, file or plugin.
  public static func resolve(
    _ config: Kubeconfig, context explicit: String? = nil,
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws(KubeError) -> KubeConnection {
    let name: String
    if let explicit, !explicit.isEmpty {
      name = explicit
    } else if let current = config.currentContext {
      name = current
    } else {
      throw .noCurrentContext(files: config.files)
    }
    guard let context = config.contexts[name] else {
      throw .contextNotFound(name: name, available: config.contexts.keys.sorted())
    }
    guard let cluster = config.clusters[context.cluster] else {
      throw .clusterNotFound(context: name, cluster: context.cluster)
    }
    guard let server = cluster.value.server, !server.isEmpty else {
      throw .noServer(cluster: context.cluster)
    }
    var tls = TLSOptions(verify: !(cluster.value.insecureSkipTLSVerify ?? false))
    if let data = cluster.value.certificateAuthorityData {
      tls.caPEM = try decode(data, field: "certificate-authority-data")
    } else if let file = cluster.value.certificateAuthority {
      tls.caPEM = try read(file, in: cluster.directory, field: "certificate-authority")
    }
    var connection = KubeConnection(
      context: name, server: server, tls: tls, tlsServerName: cluster.value.tlsServerName,
      proxy: cluster.value.proxyURL, credential: .none, userName: context.user ?? "")
    guard let userName = context.user, !userName.isEmpty else { return connection }
    guard let user = config.users[userName] else {
      throw .userNotFound(context: name, user: userName)
    }
    try connection.apply(user.value, directory: user.directory, environment: environment)
    return connection
  }

  private mutating func apply(
    _ user: Kubeconfig.User, directory: String, environment: [String: String]
  ) throws(KubeError) {
    if let data = user.clientCertificateData {
      tls.clientCertPEM = try Self.decode(data, field: "client-certificate-data")
    } else if let file = user.clientCertificate {
      tls.clientCertPEM = try Self.read(file, in: directory, field: "client-certificate")
    }
    if let data = user.clientKeyData {
      tls.clientKeyPEM = try Self.decode(data, field: "client-key-data")
    } else if let file = user.clientKey {
      tls.clientKeyPEM = try Self.read(file, in: directory, field: "client-key")
    }
    if tls.clientCertPEM != nil && tls.clientKeyPEM != nil { credential = .clientCertificate }
    if let token = user.token, !token.isEmpty {
      credential = .bearer(token)
    } else if let file = user.tokenFile, !file.isEmpty {
      let bytes = try Self.read(file, in: directory, field: "tokenFile")
      let token = String(decoding: bytes, as: UTF8.self)
        .trimmingCharacters(in: .whitespacesAndNewlines)
      credential = .bearer(token)
    } else if let username = user.username, let password = user.password {
      credential = .basic(username: username, password: password)
    }
    if let exec = user.exec {
      let result = try ExecPlugin.run(
        exec, directory: directory, server: server, environment: environment)
      if let token = result.token {
        credential = .bearer(token)
      } else if let cert = result.clientCertificatePEM, let key = result.clientKeyPEM {
        tls.clientCertPEM = cert
        tls.clientKeyPEM = key
        credential = .clientCertificate
      }
    }
  }

  /// A path from the kubeconfig, relative ones taken from the kubeconfig file's directory.
  static func absolute(_ path: String, in directory: String) -> String {
    if path.hasPrefix("/") { return path }
    if path.hasPrefix("~/") {
      return NSHomeDirectory() + path.dropFirst()
    }
    return directory + "/" + path
  }

  private static func read(_ path: String, in directory: String, field: String)
    throws(KubeError) -> [UInt8]
  {
    let full = absolute(path, in: directory)
    guard let data = FileManager.default.contents(atPath: full) else {
      let reason =
        FileManager.default.fileExists(atPath: full) ? "not readable" : "no such file"
      throw .credentialFile(field: field, path: full, reason: reason)
    }
    return Array(data)
  }

  private static func decode(_ base64: String, field: String) throws(KubeError) -> [UInt8] {
    guard let data = Data(base64Encoded: base64, options: .ignoreUnknownCharacters) else {
      throw .credentialFile(field: field, path: "(inline)", reason: "not valid base64")
    }
    return Array(data)
  }
}
