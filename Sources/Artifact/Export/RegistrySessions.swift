import Foundation
import OCI

/// One `RegistryClient` per registry host of the manifest, configured from `registry.auths`
/// (credentials, TLS, plain HTTP, certsPath) and then Docker's credential files, all sharing
/// one transfer pool so `--parallel` bounds the whole export.
///
/// A client caches bearer tokens, so sharing one per host means one token handshake per
/// repository scope, not per blob.
final class RegistrySessions: Sendable {
  let pool: TransferPool
  private let clients: [String: RegistryClient]

  init(hosts: Set<String>, auths: RegistryAuths, options: ExportOptions) throws(ExportError) {
    pool = TransferPool(threads: options.parallel)
    var clients: [String: RegistryClient] = [:]
    for host in hosts {
      var registryOptions: RegistryOptions
      do {
        if let auth = auths.auth(forHost: host) {
          registryOptions = try RegistryOptions(
            entry: RegistryAuthEntry(
              username: auth.username, password: auth.password,
              skipTLSVerify: auth.skipTLSVerify, plainHTTP: auth.plainHTTP,
              certsPath: auth.certsPath))
        } else {
          registryOptions = RegistryOptions()
        }
        try registryOptions.resolveCredentials(for: host, environment: options.environment)
      } catch {
        throw .registry(image: host, detail: "\(error)")
      }
      // Export has no --*-tls-verify or --*-cert-dir flags: its TLS settings are the
      // manifest's, so a TLS failure names those fields (RegistryError's default names flags).
      registryOptions.tlsAdvice = Self.tlsAdvice(host: host)
      registryOptions.retry = RetryPolicy(
        attempts: options.retryAttempts, baseDelay: 0.3, maxDelay: 5)
      clients[host] = RegistryClient(host: host, options: registryOptions, pool: pool)
    }
    self.clients = clients
  }

  /// What to change in the manifest when `host`'s TLS fails.
  static func tlsAdvice(host: String) -> String {
    "set certsPath (a directory with ca.crt), plainHTTP: true or skipTLSVerify: true under "
      + "spec.registry.auths.\"\(host)\" of the manifest"
  }

  func client(for reference: Reference) -> RegistryClient? {
    clients[reference.registry]
  }
}
