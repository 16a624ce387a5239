import OCI

/// The images KubeKey 3.x deploys for one Kubernetes version with its default cluster
/// configuration (kubekey-facts.md, "Default versions and default image list").
///
/// Why built in: `kk create manifest --with-kubernetes` describes a cluster that does not
/// exist yet, so there is no node to ask; the list has to be what KubeKey would pull.
public struct DefaultImageOptions: Hashable, Sendable {
  /// The pod network plugin.
  public enum Network: String, Hashable, Sendable, CaseIterable {
    case calico, flannel, cilium, none
  }
  /// The control-plane load balancer.
  public enum LoadBalancer: String, Hashable, Sendable, CaseIterable {
    case none, haproxy
    case kubeVIP = "kube-vip"
  }

  /// KubeKey default: calico.
  public var network: Network
  /// KubeKey default: on (node-local DNS cache).
  public var nodeLocalDNS: Bool
  /// KubeKey default: on.
  public var kubeProxy: Bool
  /// KubeKey default: none (an external endpoint).
  public var loadBalancer: LoadBalancer
  /// KubeKey default: off (OpenEBS local PV provisioner).
  public var localStorage: Bool
  /// KubeKey default: etcd as binaries (`kubekey` type), so no etcd image. On: kubeadm
  /// static pods, which need `kubesphere/etcd:<etcd version>`.
  public var etcdStaticPods: Bool
  /// `KKZONE=cn`: every image from `registry.cn-beijing.aliyuncs.com/kubesphereio`.
  public var zone: CatalogOptions.Zone

  public init(
    network: Network = .calico, nodeLocalDNS: Bool = true, kubeProxy: Bool = true,
    loadBalancer: LoadBalancer = .none, localStorage: Bool = false,
    etcdStaticPods: Bool = false, zone: CatalogOptions.Zone = .default
  ) {
    self.network = network
    self.nodeLocalDNS = nodeLocalDNS
    self.kubeProxy = kubeProxy
    self.loadBalancer = loadBalancer
    self.localStorage = localStorage
    self.etcdStaticPods = etcdStaticPods
    self.zone = zone
  }
}

public enum DefaultImages {
  /// KubeKey 3.x default versions of what the image list depends on.
  public static let calico = "v3.27.4"
  public static let flannel = "v0.21.3"
  public static let flannelCNIPlugin = "v1.1.2"
  public static let cilium = "v1.15.3"
  public static let nodeLocalDNS = "1.22.20"
  public static let haproxy = "2.9.6-alpine"
  public static let kubeVIP = "v0.7.2"
  public static let openEBS = "3.3.0"
  /// Where `KKZONE=cn` moves every image: `<this>/<last path segment>:<tag>`.
  public static let cnNamespace = "registry.cn-beijing.aliyuncs.com/kubesphereio"

  /// The pause image tag for Kubernetes `version`.
  public static func pauseTag(_ version: ComponentVersion) -> String {
    let steps: [(Int, String)] = [
      (26, "3.9"), (25, "3.8"), (24, "3.7"), (23, "3.6"), (22, "3.5"), (21, "3.4.1"),
    ]
    return steps.first { version.isAtLeast(1, $0.0) }?.1 ?? "3.2"
  }

  /// The CoreDNS image tag for Kubernetes `version`.
  public static func coreDNSTag(_ version: ComponentVersion) -> String {
    let steps: [(Int, String)] = [(25, "1.9.3"), (23, "1.8.6"), (21, "1.8.0")]
    return steps.first { version.isAtLeast(1, $0.0) }?.1 ?? "1.6.9"
  }

  /// The images for Kubernetes `kubernetes` (`v1.23.17`), in KubeKey's order: control plane,
  /// DNS, network, load balancer, storage. `etcd` is the etcd version, used only with
  /// ``DefaultImageOptions/etcdStaticPods``.
  public static func images(
    kubernetes: String, etcd: String = CatalogDefaults.etcd,
    options: DefaultImageOptions = DefaultImageOptions()
  ) -> [Reference] {
    let version = ComponentVersion(kubernetes)
    var names: [(String, String)] = [
      ("kubesphere/pause", pauseTag(version)),
      ("kubesphere/kube-apiserver", kubernetes),
      ("kubesphere/kube-controller-manager", kubernetes),
      ("kubesphere/kube-scheduler", kubernetes),
    ]
    if options.kubeProxy { names.append(("kubesphere/kube-proxy", kubernetes)) }
    if options.etcdStaticPods { names.append(("kubesphere/etcd", etcd)) }
    names.append(("coredns/coredns", coreDNSTag(version)))
    if options.nodeLocalDNS { names.append(("kubesphere/k8s-dns-node-cache", nodeLocalDNS)) }
    switch options.network {
    case .calico:
      for name in ["kube-controllers", "cni", "node", "pod2daemon-flexvol"] {
        names.append(("calico/\(name)", calico))
      }
    case .flannel:
      names.append(("flannel/flannel", flannel))
      names.append(("flannel/flannel-cni-plugin", flannelCNIPlugin))
    case .cilium:
      names.append(("cilium/cilium", cilium))
      names.append(("cilium/operator-generic", cilium))
    case .none: break
    }
    switch options.loadBalancer {
    case .haproxy: names.append(("library/haproxy", haproxy))
    case .kubeVIP: names.append(("plndr/kube-vip", kubeVIP))
    case .none: break
    }
    if options.localStorage {
      names.append(("openebs/provisioner-localpv", openEBS))
      names.append(("openebs/linux-utils", openEBS))
    }
    // Every name and tag above is a constant or a version the caller validated
    // (``ManifestCreator/kubernetesVersionPattern``), so none is dropped here in practice.
    return names.compactMap { repository, tag in
      switch options.zone {
      case .default:
        return try? Reference(registry: Reference.dockerHub, repository: repository, tag: tag)
      case .cn:
        let last = repository.split(separator: "/").last.map(String.init) ?? repository
        return try? Reference(
          registry: "registry.cn-beijing.aliyuncs.com", repository: "kubesphereio/\(last)",
          tag: tag)
      }
    }
  }
}
