/// Component versions the catalog uses when the manifest leaves one out: KubeKey 3.x's
/// defaults (kubekey-facts.md), each present in the embedded checksum table for amd64 and
/// arm64, so an implied file never needs a checksum from the user.
///
/// Implied only with a Kubernetes distribution: `etcd`, `cni`, `calicoctl`, `helm`, and
/// `crictl` for type kubernetes (k3s and k8e ship their own). Always implied by a runtime:
/// `runc` for containerd, `cri-dockerd` for docker with Kubernetes ≥ v1.24; the manifest has
/// no field for either. Never implied: container runtimes (list one) and registry packages.
public enum CatalogDefaults {
  public static let etcd = "v3.5.24"
  public static let cni = "v1.2.0"
  public static let calicoctl = "v3.27.4"
  public static let helm = "v3.18.5"
  public static let crictl = "v1.29.0"
  public static let runc = "v1.1.12"
  public static let criDockerd = "0.3.10"
}

extension Catalog {
  /// The component versions a manifest asks for, in plan order, and notes on implied ones.
  func requests(for manifest: KubeKeyManifest) -> (items: [Request], notes: [String]) {
    var items: [Request] = []
    var notes: [String] = []
    let components = manifest.components
    let distributions = manifest.kubernetesDistributions

    for (index, distribution) in distributions.enumerated() {
      let field = "spec.kubernetesDistributions[\(index)]"
      let binaries: [CatalogComponent]
      switch distribution.type {
      case .kubernetes: binaries = [.kubeadm, .kubelet, .kubectl]
      case .k3s: binaries = [.k3s]
      case .k8e: binaries = [.k8e]
      }
      for binary in binaries {
        items.append(
          Request(
            component: binary, version: distribution.version,
            pinned: distribution.sha256[binary.id] ?? [:], field: "\(field).sha256.\(binary.id)",
            why: nil))
      }
    }

    let hasDistribution = !distributions.isEmpty
    let hasKubernetes = distributions.contains { $0.type == .kubernetes }
    let tools: [(key: String, component: CatalogComponent, fallback: String, implied: Bool)] = [
      ("etcd", .etcd, CatalogDefaults.etcd, hasDistribution),
      ("cni", .kubecni, CatalogDefaults.cni, hasDistribution),
      ("calicoctl", .calicoctl, CatalogDefaults.calicoctl, hasDistribution),
      ("helm", .helm, CatalogDefaults.helm, hasDistribution),
      ("crictl", .crictl, CatalogDefaults.crictl, hasKubernetes),
    ]
    for tool in tools {
      if let listed = components[key: tool.key] {
        items.append(single(tool.component, listed, key: tool.key))
      } else if tool.implied && !components.notBundled.contains(tool.key) {
        items.append(
          Request(
            component: tool.component, version: tool.fallback, pinned: [:],
            field: "spec.components.\(tool.key).sha256", why: "default"))
        notes.append(
          "\(tool.component.id) \(tool.fallback): default version (the manifest lists no "
            + "\(tool.key))")
      }
    }

    let needsCRIDockerd = distributions.contains {
      $0.type == .kubernetes && ComponentVersion($0.version).isAtLeast(1, 24)
    }
    for (index, runtime) in components.containerRuntimes.enumerated() {
      let field = "spec.components.containerRuntimes[\(index)]"
      let (main, helper, helperVersion): (CatalogComponent, CatalogComponent?, String)
      switch runtime.type {
      case .docker:
        (main, helper, helperVersion) =
          (.docker, needsCRIDockerd ? .criDockerd : nil, CatalogDefaults.criDockerd)
      case .containerd:
        (main, helper, helperVersion) = (.containerd, .runc, CatalogDefaults.runc)
      }
      items.append(
        Request(
          component: main, version: runtime.version, pinned: runtime.sha256,
          field: "\(field).sha256",
          why: nil))
      if let helper {
        items.append(
          Request(
            component: helper, version: helperVersion, pinned: [:], field: nil,
            why: "implied by \(runtime.type.rawValue)"))
      }
    }

    let registryPackages: [(key: String, component: CatalogComponent)] = [
      ("docker-registry", .registry), ("harbor", .harbor), ("docker-compose", .compose),
    ]
    for package in registryPackages {
      if let listed = components[key: package.key] {
        items.append(single(package.component, listed, key: package.key))
      }
    }
    return (items, notes)
  }

  private func single(_ component: CatalogComponent, _ listed: Component, key: String)
    -> Request
  {
    Request(
      component: component, version: listed.version, pinned: listed.sha256,
      field: "spec.components.\(key).sha256", why: nil)
  }
}
