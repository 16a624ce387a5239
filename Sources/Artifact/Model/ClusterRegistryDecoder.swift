import OCI
import Yams

extension ClusterRegistryConfig {
  static func decodeRegistry(
    _ fields: [String: (key: Node, value: Node)], into config: inout ClusterRegistryConfig,
    reader: inout NodeReader
  ) {
    let path = "spec.registry"
    if let field = fields["type"], let value = reader.string(field.value, path: "\(path).type") {
      switch value {
      case "", "registry", "docker-registry": config.type = .dockerRegistry
      case "harbor": config.type = .harbor
      default:
        reader.error(
          "unknown registry type '\(value)' (known: \"\" or registry for a docker "
            + "registry, harbor)", at: field.value.mark)
      }
    }
    if let field = fields["privateRegistry"],
      let value = reader.string(field.value, path: "\(path).privateRegistry"), !value.isEmpty
    {
      switch parsePrivateRegistry(value) {
      case .success(let location): config.privateRegistry = location
      case .failure(let problem):
        reader.error("\(path).privateRegistry: \(problem.message)", at: field.value.mark)
      }
    }
    if let field = fields["namespaceOverride"],
      let value = reader.string(field.value, path: "\(path).namespaceOverride"),
      !value.isEmpty
    {
      if isRepositoryComponent(value) {
        config.namespaceOverride = value
      } else {
        reader.error(
          "\(path).namespaceOverride '\(value)' must be one lower-case path component "
            + "(letters, digits, '.', '_', '-'), e.g. kubesphereio",
          at: field.value.mark)
      }
    }
    if let field = fields["registryMirrors"] {
      for (value, node) in reader.strings(field.value, path: "\(path).registryMirrors") {
        if value.hasPrefix("https://") || value.hasPrefix("http://") {
          config.registryMirrors.append(value)
        } else {
          reader.error(
            "\(path).registryMirrors entry '\(value)' must be a URL "
              + "(https://mirror.example or http://host:port)", at: node.mark)
        }
      }
    }
    if let field = fields["insecureRegistries"] {
      for (value, node) in reader.strings(field.value, path: "\(path).insecureRegistries") {
        if let problem = registryHostProblem(value) {
          reader.error("\(path).insecureRegistries: \(problem)", at: node.mark)
        } else {
          config.insecureRegistries.append(value.lowercased())
        }
      }
    }
    if let field = fields["auths"] {
      config.auths.auths = reader.registryAuths(field.value, path: "\(path).auths")
    }
    if let location = config.privateRegistry, config.type == .harbor, location.path == nil,
      config.namespaceOverride == nil, let field = fields["privateRegistry"]
    {
      reader.warning(
        "\(path).privateRegistry '\(location)' is Harbor without a project; images go to "
          + "projects named after their namespaces (calico, kubesphere, ...): kk artifact "
          + "images push creates the missing ones, other tools need them created first",
        at: field.value.mark)
    }
  }

  /// `host[:port][/path]` → ``PrivateRegistry``: the rules of `spec.registry.privateRegistry`,
  /// also applied to `--registry`.
  public static func parsePrivateRegistry(_ value: String)
    -> Result<PrivateRegistry, LocationProblem>
  {
    if value.contains("://") {
      return .failure(
        LocationProblem(
          message: "'\(value)' has a scheme; write host[:port][/project] "
            + "(use auths.<host>.plainHTTP: true for http)"))
    }
    let trimmed = value.hasSuffix("/") ? String(value.dropLast()) : value
    let parts = trimmed.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
    let host = String(parts[0])
    if let problem = registryHostProblem(host) {
      return .failure(LocationProblem(message: problem))
    }
    var path: String?
    if parts.count == 2 {
      let components = parts[1].split(separator: "/", omittingEmptySubsequences: false)
      guard components.allSatisfy({ isRepositoryComponent(String($0)) }) else {
        return .failure(
          LocationProblem(
            message: "'\(value)': the path '\(parts[1])' must be lower-case "
              + "components (letters, digits, '.', '_', '-') separated by '/'"))
      }
      path = String(parts[1])
    }
    return .success(PrivateRegistry(host: host.lowercased(), path: path))
  }
}

/// Why a `privateRegistry` value was refused.
public struct LocationProblem: Error {
  public var message: String
}

/// One repository path component per the distribution grammar: lower-case alphanumerics
/// joined by single separators (`.`, `_`, `__`, `-`...).
func isRepositoryComponent(_ value: String) -> Bool {
  // Runs of [a-z0-9] joined by one separator each: `.`, `_`, `__` or any number of `-`
  // (`a..b` and `a_._b` are not names a registry takes).
  var separator = ""
  var sawAlphanumeric = false
  for character in value {
    if character.isASCII && (character.isLowercase || character.isNumber) {
      if !separator.isEmpty {
        guard sawAlphanumeric,
          separator == "." || separator == "_" || separator == "__"
            || separator.allSatisfy({ $0 == "-" })
        else { return false }
        separator = ""
      }
      sawAlphanumeric = true
    } else if "._-".contains(character) {
      separator.append(character)
    } else {
      return false
    }
  }
  return sawAlphanumeric && separator.isEmpty
}

extension ClusterRegistryConfig {
  /// Where `image` goes when pushed to ``privateRegistry``, following KubeKey: the host, then
  /// the registry's path (a Harbor project) if any, then ``namespaceOverride`` plus the image's
  /// last path component, or else the image's whole repository path.
  ///
  /// `docker.io/calico/cni:v3.23.2` → `dockerhub.kubekey.local/calico/cni:v3.23.2`; with
  /// `namespaceOverride: kubesphereio` → `dockerhub.kubekey.local/kubesphereio/cni:v3.23.2`.
  /// Tag and digest are kept. `nil` when the config names no private registry.
  public func pushTarget(for image: Reference) throws(OCIError) -> Reference? {
    guard let privateRegistry else { return nil }
    var path = image.repository
    if let namespaceOverride {
      let last = image.repository.split(separator: "/").last.map(String.init) ?? path
      path = "\(namespaceOverride)/\(last)"
    }
    if let prefix = privateRegistry.path { path = "\(prefix)/\(path)" }
    return try Reference(
      registry: privateRegistry.host, repository: path, tag: image.tag, digest: image.digest)
  }
}
