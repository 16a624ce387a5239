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
    guard var server = cluster.value.server, !server.isEmpty else {
      throw .noServer(cluster: context.cluster)
    }
    var tls = TLSOptions(verify: !(cluster.value.insecureSkipTLSVerify ?? false))
    if let data = cluster.value.certificateAuthorityData {
      tls.caPEM = try pem(
        decode(data, field: "certificate-authority-data"), field: "certificate-authority-data",
        path: "(inline)", label: "CERTIFICATE")
    } else if let file = cluster.value.certificateAuthority {
      tls.caPEM = try pem(
        read(file, in: cluster.directory, field: "certificate-authority"),
        field: "certificate-authority", path: absolute(file, in: cluster.directory),
        label: "CERTIFICATE")
    }
    if !server.contains("://") {
      // client-go's default for a server without a scheme: https when the cluster or user
      // has any TLS setting, plain http otherwise.
      let user = context.user.flatMap { config.users[$0]?.value }
      let hasTLS =
        tls.caPEM != nil || cluster.value.insecureSkipTLSVerify == true
        || user?.clientCertificate != nil || user?.clientCertificateData != nil
      server = (hasTLS ? "https://" : "http://") + server
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
    if tls.clientCertPEM != nil && tls.clientKeyPEM != nil {
      credential = .clientCertificate
    } else if user.exec == nil, tls.clientCertPEM != nil {
      throw .credentialMissing(
        user: userName,
        reason: "it has a client-certificate but no client-key(-data); add the "
          + "certificate's private key")
    } else if user.exec == nil, tls.clientKeyPEM != nil {
      throw .credentialMissing(
        user: userName,
        reason: "it has a client-key but no client-certificate(-data); add the "
          + "certificate")
    }
    if let token = user.token, !token.isEmpty {
      credential = .bearer(token)
    } else if let file = user.tokenFile, !file.isEmpty {
      let bytes = try Self.read(file, in: directory, field: "tokenFile")
      let token = String(decoding: bytes, as: UTF8.self)
        .trimmingCharacters(in: .whitespacesAndNewlines)
      credential = .bearer(token)
    } else if let username = user.username, let password = user.password {
      credential = .basic(username: username, password: password)
    } else if let provider = user.authProvider {
      credential = .bearer(try Self.cachedToken(of: provider, user: userName))
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

  /// The token an `auth-provider` cached in the kubeconfig, as kubectl sends it: oidc's
  /// `id-token`, gcp's and azure's `access-token`. kk cannot refresh one; an expired token
  /// is a 401 that says to get a fresh one.
  static func cachedToken(of provider: Kubeconfig.AuthProvider, user: String)
    throws(KubeError) -> String
  {
    let field = provider.name == "oidc" ? "id-token" : "access-token"
    guard let token = provider.config?[field], !token.isEmpty else {
      throw .credentialMissing(
        user: user,
        reason: "auth-provider '\(provider.name)' has no cached \(field) kk can "
          + "send (kk does not run auth-provider logins); run a kubectl command once to "
          + "refresh it, or use a token, client certificate or exec plugin")
    }
    return token
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

  /// `bytes` unchanged when they hold a PEM block of `label`; curl would otherwise fail
  /// with a message that does not name the kubeconfig field.
  private static func pem(_ bytes: [UInt8], field: String, path: String, label: String)
    throws(KubeError) -> [UInt8]
  {
    let text = String(decoding: bytes, as: UTF8.self)
    guard text.contains("-----BEGIN"), text.contains("\(label)-----") else {
      throw .credentialFile(
        field: field, path: path,
        reason: "it holds no PEM certificate "
          + "(-----BEGIN \(label)-----); give the CA certificate in PEM form")
    }
    return bytes
  }

  private static func decode(_ base64: String, field: String) throws(KubeError) -> [UInt8] {
    guard let data = Data(base64Encoded: base64, options: .ignoreUnknownCharacters) else {
      throw .credentialFile(field: field, path: "(inline)", reason: "not valid base64")
    }
    return Array(data)
  }
}
