import OCI

/// A manifest `kk create manifest` produced, with the lines to show the user about what it
/// could not fill in or check.
public struct CreatedManifest: Sendable {
  public var manifest: KubeKeyManifest
  public var warnings: [String]

  /// The file to write: KubeKey's template layout, comments and commented-out registry
  /// components included.
  public var yaml: String { manifest.yaml(template: true) }
}

/// Builds the manifests of `kk create manifest`: from a live cluster's inventory, or for a
/// planned cluster from built-in defaults.
public enum ManifestCreator {
  /// The binary components every created manifest lists, at KubeKey 3.x's defaults (the
  /// same values the catalog implies, so they are all in the checksum table).
  public static func defaultComponents(runtimes: [ContainerRuntime]) -> Components {
    Components(
      helm: Component(version: CatalogDefaults.helm),
      cni: Component(version: CatalogDefaults.cni),
      etcd: Component(version: CatalogDefaults.etcd),
      calicoctl: Component(version: CatalogDefaults.calicoctl),
      containerRuntimes: runtimes,
      crictl: Component(version: CatalogDefaults.crictl))
  }

  /// KubeKey 3.x default runtime versions for a planned cluster.
  public static let defaultContainerd = "1.7.13"
  public static let defaultDocker = "24.0.9"

  /// The manifest describing a running cluster.
  public static func fromCluster(
    _ inventory: ClusterInventory, name: String, table: ChecksumTable = .embedded
  ) -> CreatedManifest {
    let manifest = KubeKeyManifest(
      name: name, arches: inventory.arches, operatingSystems: inventory.operatingSystems,
      kubernetesDistributions: inventory.distribution.map { [$0] } ?? [],
      components: defaultComponents(runtimes: inventory.containerRuntimes),
      images: inventory.images)
    var warnings = inventory.warnings
    if inventory.distribution == nil {
      warnings.append("no node reported a kubelet version; kubernetesDistributions is empty")
    }
    warnings += checksumWarnings(manifest, table: table)
    return CreatedManifest(manifest: manifest, warnings: warnings)
  }

  /// The manifest for a cluster that does not exist yet: one distribution per Kubernetes
  /// version, KubeKey's default components and runtime (containerd from v1.24, docker
  /// before it, as KubeKey defaults), and the default images of every version.
  /// - Throws: ``CreateManifestError/badKubernetesVersion(_:)``, ``CreateManifestError/noArch``.
  public static func planned(
    kubernetes versions: [String], arches: [Arch], name: String,
    images options: DefaultImageOptions = DefaultImageOptions(), table: ChecksumTable = .embedded
  ) throws(CreateManifestError) -> CreatedManifest {
    guard !arches.isEmpty else { throw .noArch }
    var distributions: [KubernetesDistribution] = []
    var images: [Reference] = []
    var runtimes: [ContainerRuntime] = []
    for raw in versions {
      let version = raw.hasPrefix("v") ? raw : "v" + raw
      guard isKubernetesVersion(version) else { throw .badKubernetesVersion(raw) }
      guard !distributions.contains(where: { $0.version == version }) else { continue }
      distributions.append(KubernetesDistribution(type: .kubernetes, version: version))
      for image in DefaultImages.images(kubernetes: version, options: options)
      where !images.contains(image) {
        images.append(image)
      }
      let runtime =
        ComponentVersion(version).isAtLeast(1, 24)
        ? ContainerRuntime(type: .containerd, version: defaultContainerd)
        : ContainerRuntime(type: .docker, version: defaultDocker)
      if !runtimes.contains(runtime) { runtimes.append(runtime) }
    }
    guard !distributions.isEmpty else { throw .badKubernetesVersion("") }
    let manifest = KubeKeyManifest(
      name: name, arches: arches, kubernetesDistributions: distributions,
      components: defaultComponents(runtimes: runtimes), images: images)
    return CreatedManifest(manifest: manifest, warnings: checksumWarnings(manifest, table: table))
  }

  /// `v1.23.17`: three numeric parts, as Kubernetes releases are named.
  public static func isKubernetesVersion(_ version: String) -> Bool {
    guard version.hasPrefix("v") else { return false }
    let parts = version.dropFirst().split(separator: ".", omittingEmptySubsequences: false)
    return parts.count == 3 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
  }

  /// What `kk artifact export` will say about the manifest's checksums, as warning lines.
  ///
  /// The catalog that export uses plans the manifest here (no network), so the warnings are
  /// exactly its refusals ("no checksum for docker 20.10.99 on amd64: add
  /// spec.components.containerRuntimes[0].sha256.amd64"), plus a note for each table miss
  /// that export will instead check against an upstream `.sha256` file (Kubernetes binaries).
  public static func checksumWarnings(_ manifest: KubeKeyManifest, table: ChecksumTable)
    -> [String]
  {
    var warnings: [String] = []
    for distribution in manifest.kubernetesDistributions {
      for binary in distribution.type.binaries {
        let missing = manifest.arches.filter {
          Catalog.tableArches.contains($0)
            && table.digest(id: binary, arch: $0, version: distribution.version) == nil
        }
        guard !missing.isEmpty, binary.hasPrefix("kube") else { continue }
        let list = missing.map(\.rawValue).joined(separator: ", ")
        warnings.append(
          "\(binary) \(distribution.version) (\(list)) is not in the built-in checksum table; "
            + "export will check it against the upstream .sha256 file")
      }
    }
    do {
      _ = try Catalog(table: table).plan(manifest)
    } catch .missingChecksums(let missing) {
      warnings += missing.map { "export will refuse this manifest as written: \($0)" }
    } catch {
      warnings.append("export will refuse this manifest as written: \(error)")
    }
    return warnings
  }
}
