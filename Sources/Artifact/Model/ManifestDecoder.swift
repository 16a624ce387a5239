import Foundation
import OCI
import Yams

extension KubeKeyManifest {
  /// A manifest that parsed, with the warnings found on the way (unknown fields, duplicate
  /// images, normalised aliases). Callers print the warnings; `strict` makes them errors.
  public struct Parsed: Sendable {
    public var manifest: KubeKeyManifest
    public var warnings: [Diagnostic]
  }

  /// Parses and validates a KubeKey manifest.
  ///
  /// Every problem is collected before throwing, so one run lists them all. `file` only
  /// labels diagnostics (`manifest.yaml:12:5: unknown arch 'x86' ...`).
  /// - Throws: ``ModelError`` with every error and warning when any error was found.
  public static func parse(yaml: String, file: String, options: ParseOptions = ParseOptions())
    throws(ModelError) -> Parsed
  {
    var reader = NodeReader(file: file, strict: options.strict)
    let manifest = decode(yaml: yaml, reader: &reader)
    guard let manifest, !reader.hasErrors else {
      throw ModelError(diagnostics: reader.sortedDiagnostics)
    }
    return Parsed(manifest: manifest, warnings: reader.sortedDiagnostics)
  }

  /// Reads and parses the manifest at `path`; the diagnostics name `path`.
  public static func load(path: String, options: ParseOptions = ParseOptions())
    throws(ModelError) -> Parsed
  {
    try parse(yaml: try readModelFile(path), file: path, options: options)
  }

  private static let expected = "a KubeKey manifest (apiVersion: \(apiVersion), kind: \(kind))"

  private static func decode(yaml: String, reader: inout NodeReader) -> KubeKeyManifest? {
    guard let root = YAMLDocument.composeSingle(yaml, expected: expected, into: &reader),
      let top = reader.fields(
        root, path: "the document", known: ["apiVersion", "kind", "metadata", "spec"])
    else { return nil }
    reader.checkHeader(top, root: root, apiVersion: apiVersion, kind: kind) { found in
      found == "Cluster" ? "this is a cluster config, not a manifest" : nil
    }
    // With the wrong kind the rest would only produce noise about a different schema.
    if reader.hasErrors { return nil }
    var manifest = KubeKeyManifest(name: "sample", arches: [])
    if let metadata = top["metadata"],
      // metadata is Kubernetes ObjectMeta, open-ended; only `name` matters here.
      let fields = reader.fields(metadata.value, path: "metadata", known: [])
    {
      if let name = reader.requiredString(
        fields, "name", path: "metadata", parent: metadata.value)
      {
        manifest.name = name
      }
    } else if top["metadata"] == nil {
      reader.warning("missing metadata.name", then: "using 'sample'", at: root.mark)
    }
    guard let spec = top["spec"] else {
      reader.error("missing spec; a manifest needs at least spec.arches", at: root.mark)
      return nil
    }
    let known = [
      "arches", "operatingSystems", "kubernetesDistributions", "components", "images",
      "registry",
    ]
    guard let fields = reader.fields(spec.value, path: "spec", known: known) else { return nil }
    var decoder = SpecDecoder(reader: reader)
    decoder.decode(fields, spec: spec.value, into: &manifest)
    reader = decoder.reader
    return manifest
  }
}

/// Decodes `spec`, field by field, recording problems in `reader`.
private struct SpecDecoder {
  var reader: NodeReader

  mutating func decode(
    _ fields: [String: (key: Node, value: Node)], spec: Node,
    into manifest: inout KubeKeyManifest
  ) {
    manifest.arches = arches(fields["arches"], spec: spec)
    let arches = manifest.arches
    if let node = fields["operatingSystems"]?.value {
      for (index, item) in (reader.sequence(node, path: "spec.operatingSystems") ?? [])
        .enumerated()
      {
        if let os = operatingSystem(
          item, path: "spec.operatingSystems[\(index)]", arches: arches)
        {
          manifest.operatingSystems.append(os)
        }
      }
    }
    if let node = fields["kubernetesDistributions"]?.value {
      manifest.kubernetesDistributions = distributions(node, arches: arches)
    }
    if let node = fields["components"]?.value, !NodeReader.isNull(node) {
      manifest.components = ComponentsDecoder.decode(node, arches: arches, reader: &reader)
    }
    if let node = fields["images"]?.value {
      manifest.images = images(node)
    }
    if let node = fields["registry"]?.value, !NodeReader.isNull(node),
      let registry = reader.fields(node, path: "spec.registry", known: ["auths"])
    {
      if let auths = registry["auths"] {
        manifest.registry.auths = reader.registryAuths(
          auths.value, path: "spec.registry.auths")
      }
    }
    // Only when nothing was refused: dropped entries would make this message misleading.
    if !reader.hasErrors && manifest.images.isEmpty && manifest.kubernetesDistributions.isEmpty
      && manifest.components.isEmpty && manifest.operatingSystems.isEmpty
    {
      reader.warning(
        "the manifest lists nothing to bundle (no images, distributions, components or "
          + "operatingSystems)",
        at: spec.mark)
    }
  }

  mutating func arches(_ field: (key: Node, value: Node)?, spec: Node) -> [Arch] {
    guard let field else {
      reader.error(
        "spec.arches is missing; list at least one of \(Arch.knownList)", at: spec.mark)
      return []
    }
    guard let items = reader.sequence(field.value, path: "spec.arches") else { return [] }
    if items.isEmpty {
      reader.error(
        "spec.arches is empty; list at least one of \(Arch.knownList)",
        at: field.value.mark ?? field.key.mark)
    }
    var result: [Arch] = []
    for (index, item) in items.enumerated() {
      guard let arch = reader.arch(item, path: "spec.arches[\(index)]") else { continue }
      if result.contains(arch) {
        reader.warning("arch '\(arch)' is listed twice", then: "listed once", at: item.mark)
        continue
      }
      result.append(arch)
    }
    return result
  }

  mutating func operatingSystem(_ node: Node, path: String, arches: [Arch]) -> OperatingSystem? {
    let known = ["arch", "type", "id", "version", "osImage", "repository"]
    guard let fields = reader.fields(node, path: path, known: known) else { return nil }
    var arch: Arch?
    if let field = fields["arch"] {
      arch = reader.arch(field.value, path: "\(path).arch")
      if let arch, !arches.isEmpty, !arches.contains(arch) {
        reader.warning("\(path).arch '\(arch)' is not in spec.arches", at: field.value.mark)
      }
    } else {
      reader.error("\(path) is missing 'arch'", at: node.mark)
    }
    let id = reader.requiredString(fields, "id", path: path, parent: node)
    let version = reader.requiredString(fields, "version", path: path, parent: node)
    let type = fields["type"].flatMap { reader.string($0.value, path: "\(path).type") }
    let osImage = fields["osImage"].flatMap { reader.string($0.value, path: "\(path).osImage") }
    let iso = repository(fields["repository"]?.value, path: "\(path).repository", parent: node)
    guard let arch, let id, let version else { return nil }
    return OperatingSystem(
      arch: arch, type: type, id: id, version: version, osImage: osImage, iso: iso)
  }

  mutating func repository(_ node: Node?, path: String, parent: Node) -> OperatingSystem.ISO? {
    let noSource =
      "\(path).iso has neither localPath nor url; no OS packages will be bundled for it"
    guard let node, !NodeReader.isNull(node) else {
      reader.warning(noSource, at: node?.mark ?? parent.mark)
      return nil
    }
    guard let fields = reader.fields(node, path: path, known: ["iso"]) else { return nil }
    guard let isoNode = fields["iso"]?.value, !NodeReader.isNull(isoNode) else {
      reader.warning(noSource, at: node.mark)
      return nil
    }
    let known = ["localPath", "url", "checksum"]
    guard let iso = reader.fields(isoNode, path: "\(path).iso", known: known) else {
      return nil
    }
    var result = OperatingSystem.ISO()
    if let field = iso["localPath"],
      let value = reader.string(field.value, path: "\(path).iso.localPath"), !value.isEmpty
    {
      result.localPath = value
    }
    var badURL = false
    if let field = iso["url"], let url = reader.string(field.value, path: "\(path).iso.url"),
      !url.isEmpty
    {
      if url.hasPrefix("http://") || url.hasPrefix("https://") {
        result.url = url
      } else {
        badURL = true
        reader.error(
          "\(path).iso.url '\(url)' must start with http:// or https:// "
            + "(use localPath for a file)", at: field.value.mark)
      }
    }
    if let field = iso["checksum"], !NodeReader.isNull(field.value) {
      result.checksum = reader.sha256(field.value, path: "\(path).iso.checksum")
    }
    guard result.localPath != nil || result.url != nil else {
      if !badURL { reader.warning(noSource, at: isoNode.mark) }
      return nil
    }
    return result
  }

  mutating func distributions(_ node: Node, arches: [Arch]) -> [KubernetesDistribution] {
    var result: [KubernetesDistribution] = []
    var firstKind: (kind: KubernetesDistribution.Kind, index: Int)?
    let items = reader.sequence(node, path: "spec.kubernetesDistributions") ?? []
    for (index, item) in items.enumerated() {
      let path = "spec.kubernetesDistributions[\(index)]"
      guard
        let fields = reader.fields(item, path: path, known: ["type", "version", "sha256"])
      else {
        continue
      }
      var kind: KubernetesDistribution.Kind?
      if let field = fields["type"],
        let value = reader.string(field.value, path: "\(path).type")
      {
        kind = KubernetesDistribution.Kind(rawValue: value)
        let known = KubernetesDistribution.Kind.allCases.map(\.rawValue).joined(
          separator: ", ")
        if kind == nil {
          reader.error(
            "unknown distribution type '\(value)' (known: \(known))",
            at: field.value.mark)
        } else if let found = kind, let first = firstKind, first.kind != found {
          reader.error(
            "all kubernetesDistributions must share one type: entry \(first.index) "
              + "is '\(first.kind.rawValue)', this one is '\(found.rawValue)'",
            at: field.value.mark)
          kind = nil
        } else if let found = kind, firstKind == nil {
          firstKind = (found, index)
        }
      } else if fields["type"] == nil {
        reader.error("\(path) is missing 'type' (kubernetes, k3s or k8e)", at: item.mark)
      }
      let version = reader.version(fields, path: path, parent: item, example: "v1.23.17")
      var sums: [String: [Arch: Digest]] = [:]
      if let field = fields["sha256"],
        let binaries = reader.fields(
          field.value, path: "\(path).sha256", known: KubernetesDistribution.binaries)
      {
        for (binary, entry) in binaries {
          let checksums = reader.archChecksums(
            entry.value, path: "\(path).sha256.\(binary)", arches: arches)
          if !checksums.isEmpty { sums[binary] = checksums }
        }
      }
      guard let kind, let version else { continue }
      for binary in sums.keys where !kind.binaries.contains(binary) {
        reader.warning(
          "\(path).sha256.\(binary): a \(kind.rawValue) distribution has no \(binary) binary "
            + "(it has \(kind.binaries.joined(separator: ", ")))", then: "the value is unused",
          at: binaryKeyMark(fields, binary))
      }
      let distribution = KubernetesDistribution(type: kind, version: version, sha256: sums)
      if let same = result.firstIndex(where: { $0.type == kind && $0.version == version }) {
        if result[same].sha256.isEmpty { result[same].sha256 = sums }
        reader.warning(
          "\(kind.rawValue) \(version) is listed twice", then: "listed once", at: item.mark)
        continue
      }
      result.append(distribution)
    }
    return result
  }

  /// The mark of key `binary` under the entry's `sha256` mapping.
  func binaryKeyMark(_ fields: [String: (key: Node, value: Node)], _ binary: String) -> Mark? {
    guard case .mapping(let mapping)? = fields["sha256"]?.value else { return nil }
    return mapping.first { $0.key.string == binary }?.key.mark
  }

  /// Parses each entry with `OCI.Reference` (Docker's normalisation; digests allowed) and
  /// merges entries that name the same image.
  mutating func images(_ node: Node) -> [Reference] {
    var result: [Reference] = []
    var firstSeen: [Reference: (raw: String, mark: Mark?)] = [:]
    for (raw, item) in reader.strings(node, path: "spec.images") {
      let reference: Reference
      do {
        reference = try Reference(parsing: raw)
      } catch {
        var reason = error.description
        if case .invalidReference(_, let why) = error { reason = why }
        reader.error("image '\(raw)': \(reason)", at: item.mark)
        continue
      }
      if let first = firstSeen[reference] {
        let line = first.mark.map { " on line \($0.line)" } ?? ""
        let message =
          first.raw == raw
          ? "duplicate image '\(raw)' (also\(line))"
          : "duplicate image: '\(raw)' and '\(first.raw)'\(line) are both \(reference)"
        reader.warning(message, then: "listed once", at: item.mark)
        continue
      }
      firstSeen[reference] = (raw, item.mark)
      result.append(reference)
    }
    return result
  }
}
