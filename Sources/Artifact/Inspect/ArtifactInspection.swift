import Blobstore
import OCI

/// What `kk artifact inspect` reports: the bundle's table of contents with sizes.
///
/// It is built from `index.json` and the small JSON blobs only; no large blob is read, so
/// inspecting a 20 GB artifact directory is instant. It does not verify: `kk artifact verify`
/// does. The JSON encoding of this value is the stable `--json` schema documented in SPEC.md.
public struct ArtifactInspection: Sendable, Codable, Equatable {
  /// One `index.json` entry that is an image.
  public struct Image: Sendable, Codable, Equatable {
    /// The full normalised reference (`org.opencontainers.image.ref.name`), or
    /// `index.json entry N` when the entry names none.
    public var reference: String
    /// Digest of the image's top manifest or index.
    public var digest: String
    public var mediaType: String
    /// `os/arch[/variant]`, sorted; from the index's descriptors or a single image's config.
    public var platforms: [String]
    /// Bytes of every distinct blob of this image (index, manifests, configs, layers).
    public var size: Int64
    /// Number of distinct blobs of this image.
    public var blobs: Int
    /// The upstream index digest when export filtered platforms (`io.kubekey.upstream.digest`).
    public var upstreamDigest: String?
  }

  /// One `index.json` entry that is a stored file (binary, ISO, the manifest YAML).
  public struct File: Sendable, Codable, Equatable {
    /// `file`, `iso` or `manifest` (`io.kubekey.artifact.kind`).
    public var kind: String
    public var component: String?
    public var version: String?
    public var arch: String?
    /// KubeKey work-dir path (`io.kubekey.path`).
    public var path: String
    /// Digest and size of the file's bytes (the artifact manifest's single blob).
    public var digest: String?
    public var size: Int64
  }

  /// The path that was inspected.
  public var source: String
  /// sha256 of `index.json`: names the whole bundle.
  public var topDigest: String
  public var images: [Image]
  public var files: [File]
  /// Distinct blobs referenced from `index.json`.
  public var blobCount: Int
  /// Sum of every entry's blob bytes (an image's ``Image/size``; a file's bytes plus its
  /// artifact manifest and config): what the bundle would weigh without deduplication.
  public var totalBytes: Int64
  /// Sum of distinct blob sizes: what is actually stored.
  public var uniqueBytes: Int64
}

// `--json` is a stable schema: every key is always present, `null` when it does not apply
// (a file entry of the manifest YAML has no component; most images were not filtered), so a
// script can index `f["arch"]` without guarding against a missing key.
extension ArtifactInspection.Image {
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(reference, forKey: .reference)
    try container.encode(digest, forKey: .digest)
    try container.encode(mediaType, forKey: .mediaType)
    try container.encode(platforms, forKey: .platforms)
    try container.encode(size, forKey: .size)
    try container.encode(blobs, forKey: .blobs)
    try container.encode(upstreamDigest, forKey: .upstreamDigest)
  }
}

extension ArtifactInspection.File {
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(kind, forKey: .kind)
    try container.encode(component, forKey: .component)
    try container.encode(version, forKey: .version)
    try container.encode(arch, forKey: .arch)
    try container.encode(path, forKey: .path)
    try container.encode(digest, forKey: .digest)
    try container.encode(size, forKey: .size)
  }
}

extension ArtifactInspection {
  /// Builds the inspection from `index.json` and a lookup of blob contents (for indexes,
  /// manifests and configs). Sizes come from descriptors.
  public init(source: String, indexJSON: [UInt8], content: (Digest) -> [UInt8]?)
    throws(ArtifactInspectError)
  {
    let walk = LayoutGraph.walk(indexJSON: indexJSON) { digest in
      content(digest).map(GraphContent.bytes) ?? .absent
    }
    if let broken = walk.issues.first(where: { $0.kind == .malformedIndex }) {
      throw .malformedIndex(source: source, reason: broken.reason)
    }
    // The walk descends into each digest once; rebuild the edges so that every entry's
    // closure can be summed on its own, shared blobs included.
    var children: [Digest: [GraphDescriptor]] = [:]
    var sizes: [Digest: Int64] = [:]
    var platformsOf: [Digest: Set<String>] = [:]
    for node in walk.nodes {
      guard let digest = node.descriptor.digest else { continue }
      sizes[digest] = node.descriptor.size ?? sizes[digest] ?? 0
      if let parent = node.parents.last?.digest {
        children[parent, default: []].append(node.descriptor)
      }
      if let platform = node.platform, node.role == .manifest || node.role == .config,
        let top = node.parents.first?.digest ?? node.descriptor.digest
      {
        platformsOf[top, default: []].insert(platform)
      }
    }

    func closure(of root: Digest) -> Set<Digest> {
      var seen: Set<Digest> = [root]
      var stack = [root]
      while let next = stack.popLast() {
        for child in children[next] ?? [] {
          if let digest = child.digest, seen.insert(digest).inserted { stack.append(digest) }
        }
      }
      return seen
    }

    var images: [Image] = []
    var files: [File] = []
    var everything = Set<Digest>()
    // Every entry's blobs, files included with their artifact manifest and empty config:
    // the same blobs `uniqueBytes` counts once, so `totalBytes >= uniqueBytes` always holds.
    var perEntryBytes: Int64 = 0
    for (number, entry) in walk.entries.enumerated() {
      guard let digest = entry.digest else { continue }
      let blobs = closure(of: digest)
      everything.formUnion(blobs)
      let size = blobs.reduce(Int64(0)) { $0 + (sizes[$1] ?? 0) }
      perEntryBytes += size
      if let path = entry.annotations[AnnotationKey.path] {
        let payload = (children[digest] ?? []).first { $0.mediaType != MediaType.ociEmpty }
        files.append(
          File(
            kind: entry.annotations[AnnotationKey.artifactKind] ?? "file",
            component: entry.annotations[AnnotationKey.component],
            version: entry.annotations[AnnotationKey.version],
            arch: entry.annotations[AnnotationKey.arch], path: path,
            digest: payload?.digest?.description, size: payload?.size ?? size))
      } else {
        images.append(
          Image(
            reference: entry.refName ?? "index.json entry \(number + 1)",
            digest: digest.description, mediaType: entry.mediaType,
            platforms: (platformsOf[digest] ?? []).sorted(), size: size, blobs: blobs.count,
            upstreamDigest: entry.annotations[AnnotationKey.upstreamDigest]))
      }
    }
    self.init(
      source: source, topDigest: SHA256Hasher.digest(indexJSON).description, images: images,
      files: files, blobCount: everything.count,
      totalBytes: perEntryBytes,
      uniqueBytes: everything.reduce(0) { $0 + (sizes[$1] ?? 0) })
  }
}
