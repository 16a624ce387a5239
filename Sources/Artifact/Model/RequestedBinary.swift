import OCI

/// One binary a manifest asks for: a catalog id, a version, an arch, and the sha256 the user
/// pinned for it, if any.
///
/// Export code should not need to know that the YAML key `cni` is the catalog's `kubecni` or
/// that `docker-compose` is `compose`; this list is the manifest's demand in the catalog's
/// words (the ids are SPEC.md's `io.kubekey.component` values).
public struct RequestedBinary: Hashable, Sendable, CustomStringConvertible {
  /// Catalog id: `kubeadm`, `kubelet`, `kubectl`, `k3s`, `k8e`, `etcd`, `kubecni`,
  /// `calicoctl`, `helm`, `docker`, `containerd`, `crictl`, `registry`, `harbor`, `compose`.
  public var id: String
  public var version: String
  public var arch: Arch
  /// The sha256 from the manifest; when set it wins over the built-in checksum table.
  public var pinnedSHA256: Digest?

  public init(id: String, version: String, arch: Arch, pinnedSHA256: Digest? = nil) {
    self.id = id
    self.version = version
    self.arch = arch
    self.pinnedSHA256 = pinnedSHA256
  }

  public var description: String { "\(id) \(version) \(arch)" }

  /// Manifest component key → catalog id, for the single-file components.
  public static let catalogIDs: [String: String] = [
    "helm": "helm", "cni": "kubecni", "etcd": "etcd", "calicoctl": "calicoctl",
    "crictl": "crictl", "docker-registry": "registry", "harbor": "harbor",
    "docker-compose": "compose",
  ]
}

extension KubeKeyManifest {
  /// Every binary the manifest names explicitly, for every arch in ``arches``: the
  /// distribution's binaries, then the components in KubeKey's order.
  ///
  /// Binaries KubeKey adds implicitly (runc beside containerd, cri-dockerd beside docker on
  /// Kubernetes ≥ 1.24) are not listed: their versions come from the catalog's defaults, not
  /// from the manifest. Per-arch availability (Harbor ships amd64 only) is also the catalog's
  /// to decide.
  public var requestedBinaries: [RequestedBinary] {
    var result: [RequestedBinary] = []
    for distribution in kubernetesDistributions {
      for id in distribution.type.binaries {
        for arch in arches {
          result.append(
            RequestedBinary(
              id: id, version: distribution.version, arch: arch,
              pinnedSHA256: distribution.sha256[id]?[arch]))
        }
      }
    }
    func add(_ key: String, _ component: Component?) {
      guard let component, let id = RequestedBinary.catalogIDs[key] else { return }
      for arch in arches {
        result.append(
          RequestedBinary(
            id: id, version: component.version, arch: arch, pinnedSHA256: component.sha256[arch]))
      }
    }
    for key in ["helm", "cni", "etcd", "calicoctl"] { add(key, components[key: key]) }
    for runtime in components.containerRuntimes {
      for arch in arches {
        result.append(
          RequestedBinary(
            id: runtime.type.rawValue, version: runtime.version, arch: arch,
            pinnedSHA256: runtime.sha256[arch]))
      }
    }
    for key in ["crictl", "docker-registry", "harbor", "docker-compose"] {
      add(key, components[key: key])
    }
    return result
  }
}
