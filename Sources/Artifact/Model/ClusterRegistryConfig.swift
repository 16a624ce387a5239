import Yams

/// The `spec.registry` part of a KubeKey cluster config (`kind: Cluster`,
/// `config-sample.yaml`): where `kk artifact images push` sends images and with which
/// credentials.
///
/// Only `spec.registry` is decoded. The rest of a real config (hosts, roleGroups,
/// controlPlaneEndpoint, kubernetes, network, addons, a second KubeSphere document...) is
/// accepted without comment, because those files are shared with the cluster installer and
/// must not have to change for a push.
public struct ClusterRegistryConfig: Hashable, Sendable {
  public static let apiVersion = "kubekey.kubesphere.io/v1alpha2"
  public static let kind = "Cluster"

  /// Which registry software the private registry runs. Harbor needs its projects created
  /// before a push; a plain docker registry does not.
  public enum RegistryType: String, CaseIterable, Hashable, Sendable {
    /// `type: ""` (the default), `registry` or `docker-registry`.
    case dockerRegistry = "registry"
    case harbor
  }

  /// `metadata.name`, for messages.
  public var clusterName: String?
  public var type: RegistryType
  /// `privateRegistry`: `dockerhub.kubekey.local` or `dockerhub.kubekey.local/project`.
  public var privateRegistry: PrivateRegistry?
  /// `namespaceOverride`: every image goes under this one namespace
  /// (`docker.io/calico/cni:v3` → `<privateRegistry>/<namespaceOverride>/cni:v3`).
  public var namespaceOverride: String?
  /// `registryMirrors`: mirror URLs handed to the container runtime.
  public var registryMirrors: [String]
  /// `insecureRegistries`: host[:port] entries the runtime reaches without TLS checks.
  public var insecureRegistries: [String]
  public var auths: RegistryAuths

  public init(
    clusterName: String? = nil, type: RegistryType = .dockerRegistry,
    privateRegistry: PrivateRegistry? = nil, namespaceOverride: String? = nil,
    registryMirrors: [String] = [], insecureRegistries: [String] = [],
    auths: RegistryAuths = RegistryAuths()
  ) {
    self.clusterName = clusterName
    self.type = type
    self.privateRegistry = privateRegistry
    self.namespaceOverride = namespaceOverride
    self.registryMirrors = registryMirrors
    self.insecureRegistries = insecureRegistries
    self.auths = auths
  }

  /// The credentials for the private registry's host, if the config has them.
  public var privateRegistryAuth: RegistryAuth? {
    privateRegistry.flatMap { auths.auth(forHost: $0.host) }
  }

  /// A registry location: host[:port] plus an optional path prefix (a Harbor project).
  public struct PrivateRegistry: Hashable, Sendable, CustomStringConvertible {
    /// `dockerhub.kubekey.local` or `10.0.0.5:5000`, lower-cased.
    public var host: String
    /// `project` or `project/sub`; `nil` when images go straight under the host.
    public var path: String?

    public init(host: String, path: String? = nil) {
      self.host = host
      self.path = path
    }

    public var description: String { path.map { "\(host)/\($0)" } ?? host }
  }

  /// A config that parsed, with its warnings (unknown fields under `spec.registry`).
  public struct Parsed: Sendable {
    public var config: ClusterRegistryConfig
    public var warnings: [Diagnostic]
  }

  /// Parses the `kind: Cluster` document of a KubeKey config (other documents in the same
  /// file, such as KubeSphere's `ClusterConfiguration`, are skipped).
  /// - Throws: ``ModelError`` with every problem found in `spec.registry`.
  public static func parse(yaml: String, file: String, options: ParseOptions = ParseOptions())
    throws(ModelError) -> Parsed
  {
    var reader = NodeReader(file: file, strict: options.strict)
    let config = decode(yaml: yaml, reader: &reader)
    guard let config, !reader.hasErrors else {
      throw ModelError(diagnostics: reader.sortedDiagnostics)
    }
    return Parsed(config: config, warnings: reader.sortedDiagnostics)
  }

  /// Reads and parses the config at `path`; the diagnostics name `path`.
  public static func load(path: String, options: ParseOptions = ParseOptions())
    throws(ModelError) -> Parsed
  {
    try parse(yaml: try readModelFile(path), file: path, options: options)
  }

  static let registryFields = [
    "type", "privateRegistry", "namespaceOverride", "registryMirrors", "insecureRegistries",
    "auths",
  ]

  private static func decode(yaml: String, reader: inout NodeReader) -> ClusterRegistryConfig? {
    let documents = YAMLDocument.composeAll(yaml, into: &reader)
    if reader.hasErrors { return nil }
    let nonEmpty = documents.filter { !NodeReader.isNull($0) }
    guard !nonEmpty.isEmpty else {
      reader.error(
        "the file is empty; expected a KubeKey cluster config (apiVersion: \(apiVersion), "
          + "kind: \(kind))", at: nil)
      return nil
    }
    let clusters = nonEmpty.filter { $0["kind"]?.string == kind }
    let cluster = clusters.first ?? nonEmpty[0]
    if clusters.count > 1 {
      // Two files concatenated, or an old document left in: say which one counts.
      reader.warning(
        "the file holds \(clusters.count) kind: \(kind) documents; only the first (line "
          + "\(cluster.mark.map { $0.line } ?? 1)) is used", at: clusters[1].mark)
    }
    guard let top = reader.fields(cluster, path: "the document", known: []) else { return nil }
    reader.checkHeader(top, root: cluster, apiVersion: apiVersion, kind: kind) { found in
      found == "Manifest" ? "this is a manifest, not a cluster config" : nil
    }
    if reader.hasErrors { return nil }
    var config = ClusterRegistryConfig()
    if let metadata = top["metadata"]?.value, case .mapping = metadata {
      config.clusterName = metadata["name"]?.string
    }
    guard let spec = top["spec"]?.value,
      let specFields = reader.fields(spec, path: "spec", known: [])
    else {
      reader.error("missing spec", at: cluster.mark)
      return nil
    }
    guard let registryNode = specFields["registry"]?.value, !NodeReader.isNull(registryNode)
    else { return config }
    guard
      let fields = reader.fields(registryNode, path: "spec.registry", known: registryFields)
    else { return nil }
    decodeRegistry(fields, into: &config, reader: &reader)
    return config
  }
}
