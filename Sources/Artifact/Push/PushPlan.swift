import Foundation
import OCI

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// One image to push: where it comes from, where it goes, and everything it consists of.
public struct PlannedImage: Sendable {
  /// The reference in the artifact (`docker.io/calico/cni:v3.23.2`).
  public var source: Reference
  /// Where it goes (`dockerhub.kubekey.local/calico/cni:v3.23.2`).
  public var target: Reference
  /// Tags to put on the root manifest: the source tag, or `sha256-<hex>` for a digest-only
  /// image (registries and KubeKey's tooling need a tag to list it).
  public var tags: [String]
  /// The top manifest or index.
  public var root: Descriptor
  /// Every manifest and index of the image, children before parents, root last; pushed
  /// byte-for-byte in that order.
  public var manifests: [Descriptor]
  /// Every config and layer, each once.
  public var blobs: [Descriptor]

  public var repository: String { target.repository }
}

/// What `images push` will do, decided before any byte is sent: the name mapping (SPEC 4),
/// refused when two images would land on one target.
public struct PushPlan: Sendable {
  public var images: [PlannedImage]
  /// `--image` patterns that matched nothing while others did (a typo among several): the
  /// command warns about each; when none matched, planning fails instead.
  public var unmatchedPatterns: [String] = []

  /// Distinct blobs with the repositories that need them, in first-use order: the first
  /// repository gets the upload, the others a cross-repository mount.
  public var blobUses: [(blob: Descriptor, repositories: [String])] {
    var order: [Digest] = []
    var uses: [Digest: (Descriptor, [String])] = [:]
    for image in images {
      for blob in image.blobs {
        if var use = uses[blob.digest] {
          if !use.1.contains(image.repository) { use.1.append(image.repository) }
          uses[blob.digest] = use
        } else {
          uses[blob.digest] = (blob, [image.repository])
          order.append(blob.digest)
        }
      }
    }
    return order.compactMap { uses[$0].map { (blob: $0.0, repositories: $0.1) } }
  }

  /// The `source → target` lines `--dry-run` prints.
  public var mappingLines: [String] {
    images.map { image in
      let tags = image.tags.map { "\(image.target.registry)/\(image.target.repository):\($0)" }
      return
        "\(image.source) -> \(tags.joined(separator: ", ")) (\(image.manifests.count) manifests, \(image.blobs.count) blobs)"
    }
  }
}

/// Builds a `PushPlan` from an artifact's `index.json` and a way to read its manifests.
public enum PushPlanner {
  /// Outcome of planning when manifests may still be missing (an archive read so far).
  public enum Outcome: Sendable {
    case complete(PushPlan)
    /// These manifests are needed and have not been seen yet.
    case waiting(Set<Digest>)
  }

  /// - Parameters:
  ///   - indexJSON: the artifact's `index.json`.
  ///   - manifest: the bytes of a manifest or index blob, nil when not (yet) available.
  ///   - target: maps a source reference to its target (`ClusterRegistryConfig.pushTarget`).
  ///   - patterns: `--image` globs on the full source reference; empty = every image.
  public static func plan(
    indexJSON: [UInt8], manifest: (Digest) -> [UInt8]?,
    target: (Reference) throws -> Reference?, patterns: [String] = []
  ) throws(PushError) -> Outcome {
    let index: ImageIndex
    do {
      index = try JSONDecoder().decode(ImageIndex.self, from: Data(indexJSON))
    } catch {
      throw .malformed(what: "index.json", reason: "\(error)")
    }
    let candidates = index.manifests.filter {
      $0.annotation(AnnotationKey.path) == nil
        && ($0.annotation(AnnotationKey.refName) ?? $0.annotation(AnnotationKey.containerdImageName))
          != nil
        && MediaType.isManifestOrIndex($0.mediaType)
    }
    var waiting: Set<Digest> = []
    var closures: [Digest: (manifests: [Descriptor], blobs: [Descriptor])] = [:]
    for entry in candidates where closures[entry.digest] == nil {
      closures[entry.digest] = try walk(entry, manifest: manifest, waiting: &waiting)
    }
    if !waiting.isEmpty { return .waiting(waiting) }
    var images: [PlannedImage] = []
    var unmatched = Set(patterns)
    for entry in candidates {
      // The `<ref>-<arch>` views `kk artifact import` adds for Go KubeKey are not images of
      // their own. An image that is also another's platform manifest (`calico/node:v3.27.4`
      // and `calico/node:v3.27.4-amd64`, both in the manifest) is pushed under each name.
      if entry.annotation(AnnotationKey.platformOf) != nil { continue }
      // containerd's full name wins: `ctr export` puts only the tag in ref.name.
      let name =
        entry.annotation(AnnotationKey.containerdImageName)
        ?? entry.annotation(AnnotationKey.refName) ?? ""
      // `skopeo copy ... oci:DIR:v1.0` names the entry by its tag alone; reading that as the
      // image `docker.io/library/v1.0:latest` is never what the user meant.
      if entry.annotation(AnnotationKey.containerdImageName) == nil,
        !name.contains(where: { "/:@".contains($0) })
      {
        throw .badReference(
          name,
          reason: "'\(name)' is a bare tag (as `skopeo copy ... oci:DIR:\(name)` writes), not an "
            + "image name; push that image with `kk image copy oci:DIR:\(name) "
            + "docker://REGISTRY/REPOSITORY:\(name)`")
      }
      let source: Reference
      do { source = try Reference(parsing: name) } catch {
        throw .badReference(name, reason: error.description)
      }
      if !patterns.isEmpty {
        let hits = patterns.filter {
          glob($0, matches: source.description) || glob($0, matches: name)
        }
        if hits.isEmpty { continue }
        unmatched.subtract(hits)
      }
      let mapped: Reference?
      do { mapped = try target(source) } catch {
        throw .badReference(name, reason: "\(error)")
      }
      guard let mapped else { throw .noTarget }
      let closure = closures[entry.digest] ?? ([], [])
      var tags: [String] = []
      if let tag = source.tag { tags.append(tag) }
      // Named after what is pushed, never after a source digest the content may not have
      // (an artifact whose pinned image was platform-filtered by an older export).
      if source.tag == nil, source.digest != nil {
        tags.append("\(entry.digest.algorithm.rawValue)-\(entry.digest.encoded)")
      }
      var root = entry
      root.annotations = nil
      images.append(
        PlannedImage(
          source: source, target: mapped, tags: tags, root: root, manifests: closure.manifests,
          blobs: closure.blobs))
    }
    if !unmatched.isEmpty && images.isEmpty { throw .noImageMatched(patterns: patterns) }
    try checkConflicts(images)
    var plan = PushPlan(images: images)
    plan.unmatchedPatterns = patterns.filter { unmatched.contains($0) }
    return .complete(plan)
  }

  /// Two images may share a target repository but not a target tag, unless they are the
  /// very same content (one image exported from two mirrors: pushing it twice is a no-op).
  static func checkConflicts(_ images: [PlannedImage]) throws(PushError) {
    var claimed: [String: (source: String, digest: Digest)] = [:]
    for image in images {
      for tag in image.tags {
        let key = "\(image.target.registry)/\(image.target.repository):\(tag)"
        if let other = claimed[key], other.digest != image.root.digest {
          throw .conflictingTargets(target: key, sources: [other.source, image.source.description])
        }
        claimed[key] = (image.source.description, image.root.digest)
      }
    }
  }

  /// Depth-first closure: manifests children-first (root last), blobs once each.
  static func walk(
    _ root: Descriptor, manifest: (Digest) -> [UInt8]?, waiting: inout Set<Digest>
  ) throws(PushError) -> (manifests: [Descriptor], blobs: [Descriptor]) {
    var manifests: [Descriptor] = []
    var blobs: [Descriptor] = []
    var seen: Set<Digest> = []
    func visit(_ descriptor: Descriptor) throws(PushError) {
      guard seen.insert(descriptor.digest).inserted else { return }
      guard MediaType.isManifestOrIndex(descriptor.mediaType) else {
        if !MediaType.isNondistributable(descriptor.mediaType) { blobs.append(descriptor) }
        return
      }
      guard let bytes = manifest(descriptor.digest) else {
        waiting.insert(descriptor.digest)
        return
      }
      let parsed: ManifestBytes
      do {
        parsed = try ManifestBytes(
          bytes: bytes, mediaType: descriptor.mediaType, expected: descriptor.digest)
      } catch {
        throw .malformed(what: "manifest \(descriptor.digest)", reason: error.description)
      }
      for child in parsed.children { try visit(child) }
      var plain = descriptor
      plain.annotations = nil
      plain.mediaType = parsed.mediaType
      manifests.append(plain)
    }
    try visit(root)
    return (manifests, blobs)
  }

  /// Shell-style glob (`*`, `?`, `[...]`) over the whole reference; `*` crosses `/`.
  public static func glob(_ pattern: String, matches text: String) -> Bool {
    fnmatch(pattern, text, 0) == 0
  }
}
