import OCI

/// A KubeKey manifest (`kind: Manifest`, `apiVersion: kubekey.kubesphere.io/v1alpha2`): what
/// an offline bundle must contain — arches, OS package ISOs, a Kubernetes distribution,
/// binary components, images — and the credentials to fetch the images.
///
/// Field names and nesting follow KubeKey's file exactly so existing manifests keep working;
/// the values are parsed and normalised (arches, digests, image references) so the code that
/// builds a bundle never has to second-guess a string. Parse with
/// ``parse(yaml:file:options:)``, write with ``yaml(template:)``.
public struct KubeKeyManifest: Hashable, Sendable {
  public static let apiVersion = "kubekey.kubesphere.io/v1alpha2"
  public static let kind = "Manifest"

  /// `metadata.name`.
  public var name: String
  /// `spec.arches`, de-duplicated, in file order.
  public var arches: [Arch]
  public var operatingSystems: [OperatingSystem]
  /// All entries share one ``KubernetesDistribution/Kind`` (KubeKey's rule).
  public var kubernetesDistributions: [KubernetesDistribution]
  public var components: Components
  /// `spec.images`, normalised (`calico/cni:v3.23.2` → `docker.io/calico/cni:v3.23.2`),
  /// duplicates removed, in file order.
  public var images: [Reference]
  public var registry: RegistryAuths

  public init(
    name: String, arches: [Arch], operatingSystems: [OperatingSystem] = [],
    kubernetesDistributions: [KubernetesDistribution] = [],
    components: Components = Components(), images: [Reference] = [],
    registry: RegistryAuths = RegistryAuths()
  ) {
    self.name = name
    self.arches = arches
    self.operatingSystems = operatingSystems
    self.kubernetesDistributions = kubernetesDistributions
    self.components = components
    self.images = images
    self.registry = registry
  }

  /// The same manifest with every `registry.auths` password removed, for storing inside a
  /// bundle: the bundle travels to other sites, the password must not.
  public func redacted() -> KubeKeyManifest {
    var copy = self
    for host in copy.registry.auths.keys {
      copy.registry.auths[host]?.password = nil
    }
    return copy
  }
}

/// `spec.operatingSystems[]`: one OS package repository (an ISO) for one arch.
public struct OperatingSystem: Hashable, Sendable {
  public var arch: Arch
  /// `linux`.
  public var type: String?
  /// `ubuntu`, `centos`, ...
  public var id: String
  /// `20.04`, `7`; kept verbatim as a string (`20.04` is not a number).
  public var version: String
  /// `Ubuntu 20.04.3 LTS`, informational.
  public var osImage: String?
  public var iso: ISO?

  public init(
    arch: Arch, type: String? = "linux", id: String, version: String, osImage: String? = nil,
    iso: ISO? = nil
  ) {
    self.arch = arch
    self.type = type
    self.id = id
    self.version = version
    self.osImage = osImage
    self.iso = iso
  }

  /// `repository.iso`: where the ISO comes from and, optionally, the sha256 it must have.
  public struct ISO: Hashable, Sendable {
    /// A file on the machine building the bundle; wins over `url` when both are set.
    public var localPath: String?
    public var url: String?
    /// KubeKey 3.x `checksum`; KubeKey never verified it, we do.
    public var checksum: Digest?

    public init(localPath: String? = nil, url: String? = nil, checksum: Digest? = nil) {
      self.localPath = localPath
      self.url = url
      self.checksum = checksum
    }
  }
}

/// `spec.kubernetesDistributions[]`.
public struct KubernetesDistribution: Hashable, Sendable {
  public enum Kind: String, CaseIterable, Hashable, Sendable {
    case kubernetes
    case k3s
    case k8e

    /// The binaries this distribution installs, which a manifest may pin sha256 values for.
    public var binaries: [String] {
      switch self {
      case .kubernetes: return ["kubeadm", "kubelet", "kubectl"]
      case .k3s: return ["k3s"]
      case .k8e: return ["k8e"]
      }
    }
  }

  public var type: Kind
  /// `v1.21.5`.
  public var version: String
  /// Optional pinned checksums: binary (`kubeadm`, `kubelet`, `kubectl`, `k3s`, `k8e`) → arch →
  /// sha256. They let a bundle carry versions missing from the built-in checksum table
  /// (KubeKey refused those: "No SHA256 found for kubeadm").
  public var sha256: [String: [Arch: Digest]]

  /// Binary names that may carry a pinned checksum.
  public static let binaries = ["kubeadm", "kubelet", "kubectl", "k3s", "k8e"]

  public init(type: Kind, version: String, sha256: [String: [Arch: Digest]] = [:]) {
    self.type = type
    self.version = version
    self.sha256 = sha256
  }
}

/// A single binary component (`helm`, `etcd`, ...): its version and optional pinned
/// per-arch sha256 values.
public struct Component: Hashable, Sendable {
  public var version: String
  public var sha256: [Arch: Digest]

  public init(version: String, sha256: [Arch: Digest] = [:]) {
    self.version = version
    self.sha256 = sha256
  }
}

/// `components.containerRuntimes[]`.
public struct ContainerRuntime: Hashable, Sendable {
  public enum Kind: String, CaseIterable, Hashable, Sendable {
    case docker
    case containerd
  }

  public var type: Kind
  /// `20.10.8`, `1.6.4` (no `v`: KubeKey's download URLs add it).
  public var version: String
  public var sha256: [Arch: Digest]

  public init(type: Kind, version: String, sha256: [Arch: Digest] = [:]) {
    self.type = type
    self.version = version
    self.sha256 = sha256
  }
}

/// `spec.components`. Every field is optional: an images-only manifest has none.
public struct Components: Hashable, Sendable {
  public var helm: Component?
  public var cni: Component?
  public var etcd: Component?
  public var calicoctl: Component?
  public var containerRuntimes: [ContainerRuntime]
  public var crictl: Component?
  /// `docker-registry`.
  public var dockerRegistry: Component?
  public var harbor: Component?
  /// `docker-compose`.
  public var dockerCompose: Component?
  /// Keys written with a blank version (`helm: {version: ""}`): KubeKey's way to say "do not
  /// bundle this", which must not be mistaken for "left out, use the default".
  public var notBundled: Set<String>
  /// Runtimes listed with a blank version (`{type: containerd, version: ""}`), in manifest
  /// order: the same opt-out as ``notBundled``, kept so the manifest writes back as it was.
  public var notBundledRuntimes: [ContainerRuntime.Kind]

  public init(
    helm: Component? = nil, cni: Component? = nil, etcd: Component? = nil,
    calicoctl: Component? = nil, containerRuntimes: [ContainerRuntime] = [],
    crictl: Component? = nil, dockerRegistry: Component? = nil, harbor: Component? = nil,
    dockerCompose: Component? = nil, notBundled: Set<String> = [],
    notBundledRuntimes: [ContainerRuntime.Kind] = []
  ) {
    self.notBundledRuntimes = notBundledRuntimes
    self.helm = helm
    self.cni = cni
    self.etcd = etcd
    self.calicoctl = calicoctl
    self.containerRuntimes = containerRuntimes
    self.crictl = crictl
    self.dockerRegistry = dockerRegistry
    self.harbor = harbor
    self.dockerCompose = dockerCompose
    self.notBundled = notBundled
  }

  /// True when no component at all is listed.
  public var isEmpty: Bool { self == Components() }

  /// The YAML keys of the single-file components, in KubeKey's order.
  public static let singleKeys = [
    "helm", "cni", "etcd", "calicoctl", "crictl", "docker-registry", "harbor", "docker-compose",
  ]

  /// The single-file component stored under YAML key `key`.
  public subscript(key key: String) -> Component? {
    get {
      switch key {
      case "helm": return helm
      case "cni": return cni
      case "etcd": return etcd
      case "calicoctl": return calicoctl
      case "crictl": return crictl
      case "docker-registry": return dockerRegistry
      case "harbor": return harbor
      case "docker-compose": return dockerCompose
      default: return nil
      }
    }
    set {
      switch key {
      case "helm": helm = newValue
      case "cni": cni = newValue
      case "etcd": etcd = newValue
      case "calicoctl": calicoctl = newValue
      case "crictl": crictl = newValue
      case "docker-registry": dockerRegistry = newValue
      case "harbor": harbor = newValue
      case "docker-compose": dockerCompose = newValue
      default: break
      }
    }
  }
}
