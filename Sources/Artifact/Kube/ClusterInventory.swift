import OCI

/// What a running cluster is made of, read from its Node list: the manifest sections
/// `kk create manifest` fills from a live cluster, plus a warning for everything a node
/// reported that could not be mapped.
///
/// The rules are KubeKey's (kubekey-facts.md) with three improvements: an image known only
/// by digest is kept as `name@sha256:…` instead of dropped, more OS names are mapped
/// (``OSImageMapping``), and nothing unmappable is silently lost — it becomes a warning.
public struct ClusterInventory: Sendable {
  public var arches: [Arch] = []
  public var operatingSystems: [OperatingSystem] = []
  /// The highest kubelet version across the nodes; nil when no node reported one.
  public var distribution: KubernetesDistribution?
  public var containerRuntimes: [ContainerRuntime] = []
  /// Sorted by their full spelling, duplicates removed.
  public var images: [Reference] = []
  /// One line per thing left out or guessed, naming the node.
  public var warnings: [String] = []

  public init() {}

  /// Maps every node; never fails (a node with nothing usable only produces warnings).
  public init(nodes: [KubeNode]) {
    var archSet = Set<Arch>()
    var osSeen = Set<String>()
    var runtimeSeen = Set<String>()
    var imageSet: [String: Reference] = [:]
    var best: (version: ComponentVersion, kind: KubernetesDistribution.Kind)?
    var kinds = Set<KubernetesDistribution.Kind>()

    for node in nodes {
      let info = node.nodeInfo
      let origin = "node \(node.name)"
      // KubeKey installs Linux nodes only: a Windows node's images (nanoserver, ...) and
      // runtime have no Linux platform to bundle, and its kubelet does not choose the version.
      if let system = info.operatingSystem, !system.isEmpty, system.lowercased() != "linux" {
        warnings.append(
          "\(origin) runs \(system); KubeKey installs Linux nodes only, so its images, "
            + "runtime and kubelet are left out")
        continue
      }
      var nodeArch: Arch?
      if let raw = info.architecture {
        if let arch = Arch(normalising: raw) {
          archSet.insert(arch)
          nodeArch = arch
        } else {
          warnings.append("\(origin): architecture '\(raw)' is not one kk can bundle; left out")
        }
      }
      let runtime = Self.runtime(info.containerRuntimeVersion, node: origin, warnings: &warnings)
      if let runtime, runtimeSeen.insert("\(runtime.type.rawValue) \(runtime.version)").inserted {
        containerRuntimes.append(runtime)
      }
      if let osImage = info.osImage, let arch = nodeArch {
        if let (id, version) = OSImageMapping.map(osImage) {
          if osSeen.insert("\(arch.rawValue) \(id) \(version)").inserted {
            operatingSystems.append(
              OperatingSystem(
                arch: arch, type: info.operatingSystem ?? "linux", id: id, version: version,
                osImage: osImage))
          }
        } else {
          warnings.append(
            "\(origin): OS '\(osImage)' is not recognised; add its operatingSystems entry "
              + "(id, version, repository.iso) by hand if you need its packages")
        }
      }
      if let kubelet = info.kubeletVersion {
        if let (kind, version) = Self.distribution(kubelet, node: origin, warnings: &warnings) {
          kinds.insert(kind)
          let parsed = ComponentVersion(version)
          if best == nil || best.map({ $0.version < parsed }) == true { best = (parsed, kind) }
        }
      }
      for image in node.images {
        guard let reference = Self.image(image.names, node: origin, warnings: &warnings)
        else { continue }
        imageSet[reference.description] = reference
      }
    }
    arches = archSet.sorted()
    if let best {
      distribution = KubernetesDistribution(type: best.kind, version: best.version.text)
      if kinds.count > 1 {
        warnings.append(
          "the nodes run both k3s and kubernetes kubelets; the manifest uses "
            + "\(best.kind.rawValue) \(best.version.text), the highest version")
      }
    }
    images = imageSet.keys.sorted().compactMap { imageSet[$0] }
  }

  /// `containerd://1.6.4` → containerd 1.6.4; `docker://20.10.8` → docker 20.10.8. A
  /// distribution or vendor build (`1.7.2-0ubuntu1~22.04.1`, `1.4.9+azure`, `1.7.11-k3s2`)
  /// is listed as the upstream release it is built from, with a warning: only upstream
  /// versions download. A runtime without a version is left out.
  static func runtime(_ raw: String?, node: String, warnings: inout [String])
    -> ContainerRuntime?
  {
    guard let raw, !raw.isEmpty else { return nil }
    let parts = raw.components(separatedBy: "://")
    guard parts.count == 2, let kind = ContainerRuntime.Kind(rawValue: parts[0]) else {
      warnings.append(
        "\(node): container runtime '\(raw)' is not one KubeKey installs (docker, containerd); "
          + "left out")
      return nil
    }
    var version = parts[1]
    if version.hasPrefix("v") { version.removeFirst() }
    guard let upstream = Self.releaseVersion(version) else {
      warnings.append(
        "\(node): container runtime '\(raw)' reports no version kk can download; left out")
      return nil
    }
    if upstream != version {
      let what =
        version.contains("-k3s") ? "the containerd built into k3s" : "a distribution build"
      warnings.append("\(node): \(raw) is \(what); listed as \(kind.rawValue) \(upstream)")
    }
    return ContainerRuntime(type: kind, version: upstream)
  }

  /// The `MAJOR.MINOR[.PATCH]` a version starts with (`1.7.2-0ubuntu1~22.04.1` → `1.7.2`),
  /// nil when it does not start with one.
  static func releaseVersion(_ version: String) -> String? {
    var numbers: [Substring] = []
    var rest = Substring(version)
    while numbers.count < 3 {
      let digits = rest.prefix { $0.isASCII && $0.isNumber }
      guard !digits.isEmpty else { break }
      numbers.append(digits)
      rest = rest.dropFirst(digits.count)
      guard rest.first == ".", rest.dropFirst().first?.isNumber == true else { break }
      rest = rest.dropFirst()
    }
    return numbers.count >= 2 ? numbers.joined(separator: ".") : nil
  }

  /// `v1.26.5+k3s1` → k3s v1.26.5; `v1.27.3` → kubernetes v1.27.3; a vendor suffix
  /// (`v1.27.3-eks-a5565ad`) is dropped with a warning: only upstream versions download.
  static func distribution(_ raw: String, node: String, warnings: inout [String])
    -> (KubernetesDistribution.Kind, String)?
  {
    let plus = raw.split(separator: "+", maxSplits: 1).map(String.init)
    guard var version = plus.first, version.hasPrefix("v") else {
      warnings.append("\(node): kubelet version '\(raw)' is not a Kubernetes version; ignored")
      return nil
    }
    let kind: KubernetesDistribution.Kind =
      plus.count > 1 && plus[1].hasPrefix("k3s") ? .k3s : .kubernetes
    if let dash = version.firstIndex(of: "-") {
      warnings.append(
        "\(node): kubelet '\(raw)' is a vendor build; using upstream \(version[..<dash])")
      version = String(version[..<dash])
    }
    return (kind, version)
  }

  /// The reference to list for one image: its first tag name, else its first digest name
  /// (`name@sha256:…`), else nil. Docker reports short names (`nginx:1.25`), which
  /// `Reference` normalises (`docker.io/library/nginx:1.25`) as KubeKey did for docker.
  static func image(_ names: [String], node: String, warnings: inout [String]) -> Reference? {
    // `<none>` placeholders and bare image IDs (`sha256:<hex>`, which some runtimes list
    // as a name) name no repository to pull from.
    let usable = names.filter { !$0.hasPrefix("<none>") && !$0.hasPrefix("sha256:") }
    let tagged = usable.filter { !$0.contains("@") }
    let pinned = usable.filter { $0.contains("@sha256:") }
    for name in tagged + pinned {
      do {
        return try Reference(parsing: name)
      } catch {
        warnings.append(
          "\(node): image name '\(name)' is not a valid reference (\(error)); skipped")
      }
    }
    return nil
  }
}
