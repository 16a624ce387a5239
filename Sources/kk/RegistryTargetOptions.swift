import ArgumentParser
import Artifact
import Blobstore
import Foundation
import OCI

/// Where images go: the cluster config's spec.registry and/or command-line flags. Shared by
/// `images push` and `verify --remote`.
struct RegistryTargetOptions: ParsableArguments {
  @Option(
    name: [.customShort("f"), .customLong("filename")],
    help: "KubeKey cluster config (config-sample.yaml).")
  var config: String?

  @Option(name: .customLong("registry"), help: "Target HOST[:PORT][/PATH] (overrides -f).")
  var registry: String?

  @Option(
    name: .customLong("registry-type"),
    help: "harbor or registry (overrides -f's spec.registry.type); harbor creates projects.")
  var registryType: String?

  @Flag(
    help: "Treat warnings about the -f config (unknown fields, arch aliases) as errors.")
  var strict = false

  @Option(name: .customLong("dest-creds"), help: "USER:PASSWORD for the target registry.")
  var destCreds: String?

  @Option(name: .customLong("dest-tls-verify"), help: "Verify the registry's certificate.")
  var destTLSVerify: Bool = true

  @Option(
    name: .customLong("dest-cert-dir"), help: "certs.d-style directory (*.crt, *.cert/*.key).")
  var destCertDir: String?

  @Option(
    name: .customLong("stall-timeout"),
    help: "Give up a transfer after this many seconds without a byte moving (retried once).")
  var stallTimeout = 60

  /// The values' forms (a usage error, 64); whether a target is needed at all is
  /// ``requireTarget()``'s.
  func validate() throws {
    guard stallTimeout >= 1 else { throw ValidationError("--stall-timeout must be at least 1") }
    if let registry,
      case .failure(let problem) = ClusterRegistryConfig.parsePrivateRegistry(registry)
    {
      throw ValidationError("--registry \(problem.message)")
    }
    if let destCreds, !destCreds.contains(":") {
      throw ValidationError("--dest-creds takes USER:PASSWORD")
    }
  }

  /// Not `validate()`: `verify` embeds these options and needs them only with `--remote`.
  func requireTarget() throws {
    guard config != nil || registry != nil else {
      throw ValidationError("give -f config-sample.yaml or --registry HOST[:PORT][/PATH]")
    }
  }

  /// The mapping config and a client of the target registry.
  func client(threads: Int) throws -> (ClusterRegistryConfig, RegistryClient) {
    let target = try targetConfig()
    guard let privateRegistry = target.privateRegistry else { throw PushError.noTarget }
    let options = try registryOptions(target, host: privateRegistry.host)
    let pool = TransferPool(
      threads: threads, options: TransportOptions(stallTimeout: stallTimeout))
    return (target, RegistryClient(host: privateRegistry.host, options: options, pool: pool))
  }

  /// Source reference → target: `pushTarget`, and for Harbor a one-segment repository
  /// goes into `library`, the project it is created in.
  func mapping(_ config: ClusterRegistryConfig) -> (Reference) throws -> Reference? {
    let harbor = config.type == .harbor
    return { reference in
      let target = try config.pushTarget(for: reference)
      return harbor ? target.map(HarborProjects.harborTarget) : target
    }
  }

  /// spec.registry from -f, with --registry replacing the private registry.
  private func targetConfig() throws -> ClusterRegistryConfig {
    var target = ClusterRegistryConfig()
    if let config {
      let parsed = try ClusterRegistryConfig.load(
        path: config, options: ParseOptions(strict: strict))
      // A diagnostic already reads `file:line:col: warning: ...`.
      for warning in parsed.warnings {
        FileHandle.standardError.write(Data("kk: \(warning.description)\n".utf8))
      }
      target = parsed.config
    }
    if let registryType {
      switch registryType.lowercased() {
      case "harbor": target.type = .harbor
      case "registry", "docker-registry", "": target.type = .dockerRegistry
      default:
        throw ValidationError("--registry-type takes harbor or registry, not '\(registryType)'")
      }
    }
    if let registry {
      switch ClusterRegistryConfig.parsePrivateRegistry(registry) {
      case .success(let location): target.privateRegistry = location
      case .failure(let problem): throw ValidationError("--registry \(problem.message)")
      }
    }
    return target
  }

  private func registryOptions(_ target: ClusterRegistryConfig, host: String) throws
    -> RegistryOptions
  {
    var options = RegistryOptions()
    let entries = target.auths.auths.keys.sorted()
    if target.auths.auth(forHost: host) == nil, !entries.isEmpty, let config {
      // An entry under another spelling (`127.0.0.1` for `127.0.0.1:5000`) is silently
      // not used, and the TLS or 401 error that follows names settings the user did write.
      let listed = entries.map { "\"\($0)\"" }.joined(separator: ", ")
      FileHandle.standardError.write(
        Data(
          ("kk: warning: \(config): spec.registry.auths has no entry for \(host) (it has "
            + "\(listed)); entries are matched by host[:port] exactly, so none is used: key "
            + "the entry \"\(host)\"\n").utf8))
    }
    if let auth = target.auths.auth(forHost: host) {
      options = try RegistryOptions(
        entry: RegistryAuthEntry(
          username: auth.username, password: auth.password, skipTLSVerify: auth.skipTLSVerify,
          plainHTTP: auth.plainHTTP, certsPath: auth.certsPath),
        source: config.map { "\($0) (spec.registry.auths)" })
    }
    try RegistryAccessFlags(creds: destCreds, tlsVerify: destTLSVerify, certDir: destCertDir)
      .apply(to: &options, side: "dest")
    // The config's words too: most pushes take the registry's TLS settings from -f.
    options.tlsAdvice =
      "set certsPath (a directory with ca.crt, and client.cert/client.key for a registry that "
      + "requires a client certificate) or plainHTTP: true / skipTLSVerify: true under "
      + "spec.registry.auths.\"\(host)\", or pass --dest-cert-dir DIR / --dest-tls-verify=false"
    try options.resolveCredentials(for: host)
    return options
  }
}
