import OCI
import Yams

/// Decodes `spec.components`.
enum ComponentsDecoder {
  /// An example version per component, for "does not look like a version" messages.
  static let examples: [String: String] = [
    "helm": "v3.18.5", "cni": "v1.2.0", "etcd": "v3.5.24", "calicoctl": "v3.27.4",
    "crictl": "v1.29.0", "docker-registry": "\"2\"", "harbor": "v2.10.2",
    "docker-compose": "v2.26.1",
  ]

  static func decode(_ node: Node, arches: [Arch], reader: inout NodeReader) -> Components {
    var components = Components()
    let known = Components.singleKeys + ["containerRuntimes"]
    guard let fields = reader.fields(node, path: "spec.components", known: known) else {
      return components
    }
    for key in Components.singleKeys {
      guard let field = fields[key], !NodeReader.isNull(field.value) else { continue }
      if let version = field.value.mapping?["version"], isBlank(version) {
        components.notBundled.insert(key)
      }
      components[key: key] = single(
        field.value, path: "spec.components.\(key)", example: examples[key] ?? "v1.0.0",
        arches: arches, reader: &reader)
    }
    if let field = fields["containerRuntimes"] {
      (components.containerRuntimes, components.notBundledRuntimes) = runtimes(
        field.value, arches: arches, reader: &reader)
    }
    return components
  }

  static func single(
    _ node: Node, path: String, example: String, arches: [Arch], reader: inout NodeReader
  ) -> Component? {
    guard let fields = reader.fields(node, path: path, known: ["version", "sha256"]) else {
      return nil
    }
    // KubeKey skips a component whose version is blank (its own template can write
    // `version: ""`); keep that meaning, and say so (a note, not a warning: it is the
    // documented opt-out, so `--strict` must not refuse it).
    if let field = fields["version"], isBlank(field.value) {
      reader.note(
        "\(path).version is empty; the component is not bundled",
        at: field.value.mark ?? field.key.mark)
      return nil
    }
    let version = reader.version(fields, path: path, parent: node, example: example)
    var sums: [Arch: Digest] = [:]
    if let field = fields["sha256"] {
      sums = reader.archChecksums(field.value, path: "\(path).sha256", arches: arches)
    }
    return version.map { Component(version: $0, sha256: sums) }
  }

  static func isBlank(_ node: Node) -> Bool {
    NodeReader.isNull(node) || node.scalar?.string == ""
  }

  /// The runtimes to bundle, and those written with a blank version (not bundled).
  static func runtimes(_ node: Node, arches: [Arch], reader: inout NodeReader)
    -> (bundled: [ContainerRuntime], notBundled: [ContainerRuntime.Kind])
  {
    var result: [ContainerRuntime] = []
    var notBundled: [ContainerRuntime.Kind] = []
    let items = reader.sequence(node, path: "spec.components.containerRuntimes") ?? []
    let knownKinds = ContainerRuntime.Kind.allCases.map(\.rawValue).joined(separator: ", ")
    for (index, item) in items.enumerated() {
      let path = "spec.components.containerRuntimes[\(index)]"
      guard
        let fields = reader.fields(item, path: path, known: ["type", "version", "sha256"])
      else { continue }
      var kind: ContainerRuntime.Kind?
      if let field = fields["type"] {
        if let value = reader.string(field.value, path: "\(path).type") {
          kind = ContainerRuntime.Kind(rawValue: value)
          if kind == nil {
            reader.error(
              "unknown container runtime '\(value)' (known: \(knownKinds))",
              at: field.value.mark)
          }
        } else {
          reader.error(
            "\(path).type is empty (known: \(knownKinds))", at: field.value.mark)
        }
      } else {
        reader.error("\(path) is missing 'type' (known: \(knownKinds))", at: item.mark)
      }
      // `version: ""` is the opt-out here too, as for the single components: a note, never
      // an error (also not under --strict).
      if let field = fields["version"], isBlank(field.value) {
        if let kind {
          reader.note(
            "\(path).version is empty; the \(kind.rawValue) runtime is not bundled",
            at: field.value.mark ?? field.key.mark)
          if !notBundled.contains(kind) { notBundled.append(kind) }
        }
        continue
      }
      let example = kind == .containerd ? "1.7.13" : "24.0.9"
      let version = reader.version(fields, path: path, parent: item, example: example)
      var sums: [Arch: Digest] = [:]
      if let field = fields["sha256"] {
        sums = reader.archChecksums(field.value, path: "\(path).sha256", arches: arches)
      }
      guard let kind, let version else { continue }
      if version.hasPrefix("v") {
        reader.warning(
          "\(path).version '\(version)': \(kind.rawValue) versions are written without "
            + "'v' (the download URL adds it)", then: "using '\(version.dropFirst())'",
          at: fields["version"]?.value.mark)
      }
      let runtime = ContainerRuntime(
        type: kind, version: version.hasPrefix("v") ? String(version.dropFirst()) : version,
        sha256: sums)
      if result.contains(where: { $0.type == runtime.type && $0.version == runtime.version }) {
        reader.warning(
          "\(kind.rawValue) \(runtime.version) is listed twice", then: "listed once",
          at: item.mark)
        continue
      }
      result.append(runtime)
    }
    return (result, notBundled)
  }
}
