/// One downloadable component as KubeKey knows it: where it comes from (default and
/// `KKZONE=cn` URL), which file it becomes in KubeKey's work dir, and how it is checked.
///
/// Templates use KubeKey's notation: `%v` version, `%a` arch (`amd64`, `arm64`; `arm` for
/// `arm/v7`, as upstream file names spell it), `%A` the `uname -m` spelling (`x86_64`,
/// `aarch64`). One more, for k3s-style release assets: `%S` is empty for amd64 and
/// `-<arch>` otherwise (`-arm64`; `-armhf` for `arm/v7`).
public struct CatalogComponent: Hashable, Sendable {
  /// Catalog id, as in KubeKey's checksum table and `io.kubekey.component`: `kubeadm`,
  /// `kubecni`, `registry`, ...
  public let id: String
  /// First part of the work-dir path: `kube`, `cni`, `registry/harbor`, ...
  public let directory: String
  /// Template of the stored file's name (`etcd-%v-linux-%a.tar.gz`).
  public let fileName: String
  /// Template of the upstream URL.
  public let url: String
  /// Template of the `KKZONE=cn` URL; `nil` when KubeKey has none (k8e): the default is used.
  public let cnURL: String?
  /// Template of the member to extract when the default URL is an archive but the checksum
  /// and the stored file are one binary inside it (helm: `linux-%a/helm`). The cn URL of such
  /// a component serves the binary itself.
  public let extract: String?
  /// True when the project publishes `<url>.sha256` (a hex digest, optionally followed by the
  /// file name) next to the file, so an unknown version can still be verified.
  public let publishesSHA256File: Bool
  /// The arches the project builds the file for, when not every arch: Harbor's offline
  /// installer is amd64 only, and its URL has no arch in it, so planning it for arm64 would
  /// fetch the amd64 file and fail against the table's arm64 sha256 every time. `nil`: all.
  public let upstreamArches: Set<Arch>?

  public init(
    id: String, directory: String, fileName: String, url: String, cnURL: String?,
    extract: String? = nil, publishesSHA256File: Bool = false, upstreamArches: Set<Arch>? = nil
  ) {
    self.id = id
    self.directory = directory
    self.fileName = fileName
    self.url = url
    self.cnURL = cnURL
    self.extract = extract
    self.publishesSHA256File = publishesSHA256File
    self.upstreamArches = upstreamArches
  }

  /// `kube/v1.22.12/amd64/kubeadm`: where KubeKey's installer looks for the file.
  public func path(version: String, arch: Arch) -> String {
    "\(directory)/\(version)/\(arch.rawValue)/\(fileName(version: version, arch: arch))"
  }

  public func fileName(version: String, arch: Arch) -> String {
    Self.expand(fileName, version: version, arch: arch)
  }

  public func defaultURL(version: String, arch: Arch) -> String {
    Self.expand(url, version: version, arch: arch)
  }

  public func cnURL(version: String, arch: Arch) -> String? {
    cnURL.map { Self.expand($0, version: version, arch: arch) }
  }

  /// Expands `%v`, `%a`, `%A` and `%S` (see the type's documentation).
  public static func expand(_ template: String, version: String, arch: Arch) -> String {
    var out = ""
    var iterator = template.makeIterator()
    while let character = iterator.next() {
      guard character == "%" else {
        out.append(character)
        continue
      }
      switch iterator.next() {
      case "v": out += version
      case "a": out += arch.architecture
      case "A": out += arch.unameMachine
      case "S": out += arch == .amd64 ? "" : "-" + (arch == .armV7 ? "armhf" : arch.rawValue)
      case let other?: out += "%" + String(other)
      case nil: out += "%"
      }
    }
    return out
  }
}

extension CatalogComponent {
  private static let qingstor = "https://kubernetes-release.pek3b.qingstor.com"

  static func kube(_ id: String) -> CatalogComponent {
    CatalogComponent(
      id: id, directory: "kube", fileName: id,
      url: "https://dl.k8s.io/release/%v/bin/linux/%a/\(id)",
      cnURL: "\(qingstor)/release/%v/bin/linux/%a/\(id)", publishesSHA256File: true)
  }

  public static let kubeadm = kube("kubeadm")
  public static let kubelet = kube("kubelet")
  public static let kubectl = kube("kubectl")
  public static let k3s = CatalogComponent(
    id: "k3s", directory: "kube", fileName: "k3s",
    url: "https://github.com/k3s-io/k3s/releases/download/%v+k3s1/k3s%S",
    cnURL: "\(qingstor)/k3s/releases/download/%v+k3s1/linux/%a/k3s")
  public static let k8e = CatalogComponent(
    id: "k8e", directory: "kube", fileName: "k8e",
    url: "https://github.com/xiaods/k8e/releases/download/%v+k8e2/k8e%S", cnURL: nil)
  public static let etcd = CatalogComponent(
    id: "etcd", directory: "etcd", fileName: "etcd-%v-linux-%a.tar.gz",
    url: "https://github.com/coreos/etcd/releases/download/%v/etcd-%v-linux-%a.tar.gz",
    cnURL: "\(qingstor)/etcd/release/download/%v/etcd-%v-linux-%a.tar.gz")
  public static let kubecni = CatalogComponent(
    id: "kubecni", directory: "cni", fileName: "cni-plugins-linux-%a-%v.tgz",
    url:
      "https://github.com/containernetworking/plugins/releases/download/%v/cni-plugins-linux-%a-%v.tgz",
    cnURL:
      "https://containernetworking.pek3b.qingstor.com/plugins/releases/download/%v/cni-plugins-linux-%a-%v.tgz"
  )
  public static let calicoctl = CatalogComponent(
    id: "calicoctl", directory: "cni", fileName: "calicoctl",
    url: "https://github.com/projectcalico/calico/releases/download/%v/calicoctl-linux-%a",
    cnURL: "\(qingstor)/projectcalico/calico/releases/download/%v/calicoctl-linux-%a")
  public static let helm = CatalogComponent(
    id: "helm", directory: "helm", fileName: "helm",
    url: "https://get.helm.sh/helm-%v-linux-%a.tar.gz",
    cnURL: "https://kubernetes-helm.pek3b.qingstor.com/linux-%a/%v/helm",
    extract: "linux-%a/helm")
  public static let docker = CatalogComponent(
    id: "docker", directory: "docker", fileName: "docker-%v.tgz",
    url: "https://download.docker.com/linux/static/stable/%A/docker-%v.tgz",
    cnURL: "https://mirrors.aliyun.com/docker-ce/linux/static/stable/%A/docker-%v.tgz")
  public static let criDockerd = CatalogComponent(
    id: "cri-dockerd", directory: "cri-dockerd", fileName: "cri-dockerd-%v.tgz",
    url: "https://github.com/Mirantis/cri-dockerd/releases/download/v%v/cri-dockerd-%v.%a.tgz",
    cnURL: "\(qingstor)/cri-dockerd/releases/download/v%v/cri-dockerd-%v.%a.tgz")
  public static let containerd = CatalogComponent(
    id: "containerd", directory: "containerd", fileName: "containerd-%v-linux-%a.tar.gz",
    url:
      "https://github.com/containerd/containerd/releases/download/v%v/containerd-%v-linux-%a.tar.gz",
    cnURL:
      "\(qingstor)/containerd/containerd/releases/download/v%v/containerd-%v-linux-%a.tar.gz")
  public static let runc = CatalogComponent(
    id: "runc", directory: "runc", fileName: "runc.%a",
    url: "https://github.com/opencontainers/runc/releases/download/%v/runc.%a",
    cnURL: "\(qingstor)/opencontainers/runc/releases/download/%v/runc.%a")
  public static let crictl = CatalogComponent(
    id: "crictl", directory: "crictl", fileName: "crictl-%v-linux-%a.tar.gz",
    url:
      "https://github.com/kubernetes-sigs/cri-tools/releases/download/%v/crictl-%v-linux-%a.tar.gz",
    cnURL: "\(qingstor)/cri-tools/releases/download/%v/crictl-%v-linux-%a.tar.gz")
  public static let registry = CatalogComponent(
    id: "registry", directory: "registry/registry", fileName: "registry-%v-linux-%a.tar.gz",
    url:
      "https://github.com/kubesphere/kubekey/releases/download/v2.0.0-alpha.1/registry-%v-linux-%a.tar.gz",
    cnURL: "\(qingstor)/registry/%v/registry-%v-linux-%a.tar.gz")
  public static let harbor = CatalogComponent(
    id: "harbor", directory: "registry/harbor", fileName: "harbor-offline-installer-%v.tgz",
    url: "https://github.com/goharbor/harbor/releases/download/%v/harbor-offline-installer-%v.tgz",
    cnURL: "\(qingstor)/harbor/releases/download/%v/harbor-offline-installer-%v.tgz",
    upstreamArches: [.amd64])
  public static let compose = CatalogComponent(
    id: "compose", directory: "registry/compose", fileName: "docker-compose-linux-%A",
    url: "https://github.com/docker/compose/releases/download/%v/docker-compose-linux-%A",
    cnURL: "\(qingstor)/docker/compose/releases/download/%v/docker-compose-linux-%A")

  /// Every component the catalog can plan, in the order a plan lists them.
  public static let all: [CatalogComponent] = [
    kubeadm, kubelet, kubectl, k3s, k8e, etcd, kubecni, calicoctl, helm, crictl, docker,
    criDockerd, containerd, runc, registry, harbor, compose,
  ]

  /// The component with catalog id `id`.
  public static func named(_ id: String) -> CatalogComponent? {
    all.first { $0.id == id }
  }
}
