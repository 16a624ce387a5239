/// Why `kk create manifest` could not build or write a manifest; each message says what to
/// change.
public enum CreateManifestError: Error, Sendable, Equatable, CustomStringConvertible {
  case badKubernetesVersion(String)
  case noArch
  case unknownArch(String)
  case exists(path: String)
  case write(path: String, reason: String)
  case notRoundTrip(path: String, reason: String)
  /// The cluster has no node whose architecture kk can bundle (or no node at all).
  case noUsableNodes(server: String, nodes: Int)

  public var description: String {
    switch self {
    case .badKubernetesVersion(let version):
      return "'\(version)' is not a Kubernetes version; use the form v1.23.17 "
        + "(comma-separate several: --with-kubernetes v1.23.17,v1.24.17)"
    case .noArch:
      return "no architecture given; pass --arch amd64[,arm64]"
    case .unknownArch(let arch):
      return "unknown architecture '\(arch)'; use one of \(Arch.knownList)"
    case .exists(let path):
      return "\(path) already exists; pass --force to overwrite it or -f to write elsewhere"
    case .write(let path, let reason):
      return "cannot write \(path): \(reason)"
    case .noUsableNodes(let server, let nodes):
      let read =
        nodes == 0
        ? "has no nodes" : "has \(nodes) nodes, none a Linux node of an arch kk can bundle"
      return "the cluster at \(server) \(read); nothing to describe (is it the right "
        + "cluster? warnings above say what each node reported)"
    case .notRoundTrip(let path, let reason):
      return "the manifest written to \(path) does not parse back (a kk defect, please "
        + "report it): \(reason)"
    }
  }
}
