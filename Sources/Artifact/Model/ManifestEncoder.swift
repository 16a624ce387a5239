import OCI

extension KubeKeyManifest {
  /// The manifest as YAML, in KubeKey's field order, readable by KubeKey and by
  /// ``parse(yaml:file:options:)`` (the result parses back to an equal manifest).
  ///
  /// With `template: true` the output is what `kk create manifest` writes for a user to
  /// edit: every section present (empty ones as `[]`/`{}`), the registry components that are
  /// not set written commented out with their default versions, `registry.auths: {}`, and
  /// short comments on what each part does. Without it the output is compact: empty
  /// sections are left out.
  public func yaml(template: Bool = false) -> String {
    var out = YAMLWriter()
    out.field(0, "apiVersion", Self.apiVersion)
    out.field(0, "kind", Self.kind)
    out.line(0, "metadata:")
    out.field(2, "name", name)
    out.line(0, "spec:")
    writeArches(&out)
    writeOperatingSystems(&out, template: template)
    writeDistributions(&out, template: template)
    writeComponents(&out, template: template)
    writeImages(&out, template: template)
    writeRegistry(&out, template: template)
    return out.text
  }

  /// The manifest with every password removed, as YAML: the form stored in a bundle.
  public func redactedYAML() -> String {
    redacted().yaml()
  }

  /// Default versions of the registry components written (commented out) by the template;
  /// KubeKey 3.x defaults.
  public static let defaultRegistryComponentVersions: [(key: String, version: String)] = [
    ("docker-registry", "2"), ("harbor", "v2.10.2"), ("docker-compose", "v2.26.1"),
  ]

  private func writeArches(_ out: inout YAMLWriter) {
    if arches.isEmpty {
      out.line(2, "arches: []")
      return
    }
    out.line(2, "arches:")
    for arch in arches { out.line(2, "- " + YAMLWriter.scalar(arch.rawValue)) }
  }

  private func writeOperatingSystems(_ out: inout YAMLWriter, template: Bool) {
    if operatingSystems.isEmpty {
      if template { out.line(2, "operatingSystems: []") }
      return
    }
    out.line(2, "operatingSystems:")
    for os in operatingSystems {
      out.item(2, "arch", os.arch.rawValue)
      out.field(4, "type", os.type)
      out.field(4, "id", os.id)
      out.field(4, "version", os.version)
      out.field(4, "osImage", os.osImage)
      if let iso = os.iso {
        out.line(4, "repository:")
        out.line(6, "iso:")
        out.field(8, "localPath", iso.localPath)
        out.field(8, "url", iso.url)
        out.field(8, "checksum", iso.checksum?.encoded)
      } else if template {
        out.line(4, "repository:")
        out.line(6, "iso:")
        out.comment(8, "a local file, or a URL to download; checksum (sha256) is optional")
        out.line(8, "localPath:")
        out.line(8, "url:")
      }
    }
  }

  private func writeDistributions(_ out: inout YAMLWriter, template: Bool) {
    if kubernetesDistributions.isEmpty {
      if template { out.line(2, "kubernetesDistributions: []") }
      return
    }
    out.line(2, "kubernetesDistributions:")
    for distribution in kubernetesDistributions {
      out.item(2, "type", distribution.type.rawValue)
      out.field(4, "version", distribution.version)
      if distribution.sha256.isEmpty { continue }
      out.line(4, "sha256:")
      for binary in KubernetesDistribution.binaries {
        guard let sums = distribution.sha256[binary] else { continue }
        out.line(6, YAMLWriter.key(binary) + ":")
        Self.writeChecksums(&out, 8, sums)
      }
    }
  }

  private static func writeChecksums(
    _ out: inout YAMLWriter, _ indent: Int, _ sums: [Arch: Digest]
  ) {
    for arch in sums.keys.sorted() {
      if let digest = sums[arch] { out.field(indent, arch.rawValue, digest.encoded) }
    }
  }

  /// A listed component, or `version: ""` for one the manifest says not to bundle.
  private func writeComponent(_ out: inout YAMLWriter, _ key: String) {
    if components[key: key] == nil, components.notBundled.contains(key) {
      out.line(4, YAMLWriter.key(key) + ":")
      out.field(6, "version", "")
    } else {
      Self.writeComponent(&out, key, components[key: key])
    }
  }

  private static func writeComponent(
    _ out: inout YAMLWriter, _ key: String, _ component: Component?
  ) {
    guard let component else { return }
    out.line(4, YAMLWriter.key(key) + ":")
    out.field(6, "version", component.version)
    if !component.sha256.isEmpty {
      out.line(6, "sha256:")
      writeChecksums(&out, 8, component.sha256)
    }
  }

  private func writeComponents(_ out: inout YAMLWriter, template: Bool) {
    let registryKeys = Self.defaultRegistryComponentVersions.map(\.key)
    let missingRegistry = Self.defaultRegistryComponentVersions.filter {
      components[key: $0.key] == nil && !components.notBundled.contains($0.key)
    }
    if components.isEmpty && !template {
      return
    }
    if components.isEmpty && missingRegistry.isEmpty {
      out.line(2, "components: {}")
      return
    }
    out.line(2, "components:")
    for key in ["helm", "cni", "etcd", "calicoctl"] {
      writeComponent(&out, key)
    }
    if !components.containerRuntimes.isEmpty || !components.notBundledRuntimes.isEmpty {
      out.line(4, "containerRuntimes:")
      for runtime in components.containerRuntimes {
        out.item(4, "type", runtime.type.rawValue)
        out.field(6, "version", runtime.version)
        if !runtime.sha256.isEmpty {
          out.line(6, "sha256:")
          Self.writeChecksums(&out, 8, runtime.sha256)
        }
      }
      for kind in components.notBundledRuntimes {
        out.item(4, "type", kind.rawValue)
        out.field(6, "version", "")
      }
    } else if template {
      out.line(4, "containerRuntimes: []")
    }
    writeComponent(&out, "crictl")
    for key in registryKeys {
      writeComponent(&out, key)
    }
    if template && !missingRegistry.isEmpty {
      out.comment(4, "")
      out.comment(4, "Uncomment to bundle a local image registry (for kk init registry).")
      for (key, version) in missingRegistry {
        out.comment(4, "\(key):")
        out.comment(4, "  version: \(YAMLWriter.scalar(version))")
      }
    }
  }

  private func writeImages(_ out: inout YAMLWriter, template: Bool) {
    if images.isEmpty {
      if template { out.line(2, "images: []") }
      return
    }
    out.line(2, "images:")
    for image in images { out.line(2, "- " + YAMLWriter.scalar(image.description)) }
  }

  private func writeRegistry(_ out: inout YAMLWriter, template: Bool) {
    guard !registry.auths.isEmpty else {
      if template {
        out.line(2, "registry:")
        out.line(4, "auths: {}")
      }
      return
    }
    out.line(2, "registry:")
    out.line(4, "auths:")
    for host in registry.auths.keys.sorted() {
      guard let auth = registry.auths[host] else { continue }
      out.line(6, YAMLWriter.quoted(host) + ":")
      out.field(8, "username", auth.username)
      out.field(8, "password", auth.password)
      out.line(8, "skipTLSVerify: \(auth.skipTLSVerify)")
      out.line(8, "plainHTTP: \(auth.plainHTTP)")
      out.field(8, "certsPath", auth.certsPath)
    }
  }
}
