import Blobstore
import Foundation
import OCI

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Moves verified blobs from the staging store to their places in the work dir.
///
/// Images: every blob of each image's closure hard-linked into `images/blobs` (same file
/// system, no copy), `images/index.json` rewritten with the image entries plus one
/// `<ref>-<arch>` entry per platform manifest (Go KubeKey 3.x's push looks images up by those).
/// Files: the layer of each file manifest moved (or copied, when shared) to a temp name beside
/// its `io.kubekey.path`, then renamed over it; no path component may be a link.
struct ImportPlacer {
  let directory: String
  let staging: BlobStore

  struct Placed {
    var images: [String] = []
    var archEntries: [String] = []
    var files: [String] = []
  }

  /// Plans everything first (reads only: closures, per-arch entries, file targets), so any
  /// refusal comes before the first write; then removes the stamp and places `images/` and
  /// the files.
  func place(index: ImageIndex) throws(ImportError) -> Placed {
    var placed = Placed()
    var entries: [Descriptor] = []
    var archEntries: [Descriptor] = []
    var imageBlobs: [Digest] = []
    var imageBlobSet: Set<Digest> = []
    var fileEntries: [Descriptor] = []
    // OCI forms of Docker-typed platform manifests, written for the views (ImportOCIView).
    var viewBlobs: [(Digest, [UInt8])] = []
    // An image the artifact itself names `<ref>-<arch>` (calico's per-arch tags listed in
    // the manifest) keeps its entry; no view entry of the same name is added beside it.
    let named = Set(index.manifests.compactMap { $0.annotation(AnnotationKey.refName) })
    for entry in index.manifests {
      if entry.annotation(AnnotationKey.path) != nil {
        fileEntries.append(entry)
        continue
      }
      let name = entry.annotation(AnnotationKey.refName) ?? entry.digest.description
      for blob in try closure(of: entry, owner: name) where imageBlobSet.insert(blob).inserted {
        imageBlobs.append(blob)
      }
      entries.append(entry)
      placed.images.append(name)
      for (arch, manifest) in try platformManifests(of: entry, owner: name) {
        var perArch = manifest
        let reference = Self.archReference(name, arch: arch)
        if named.contains(reference) { continue }
        if let converted = try ociView(of: manifest, owner: name) {
          perArch = converted.descriptor
          perArch.platform = manifest.platform
          viewBlobs.append((converted.digest, converted.bytes))
        }
        perArch.annotations = [
          AnnotationKey.refName: reference, AnnotationKey.containerdImageName: reference,
          AnnotationKey.platformOf: name,
        ]
        archEntries.append(perArch)
        placed.archEntries.append(reference)
      }
    }
    let files = try planFiles(fileEntries)

    // `images/` is exactly this artifact's layout (SPEC 5.4): foreign entries go first, so
    // that blobs land in real directories; blobs of an earlier import that the new index no
    // longer reaches go once it is written (QA F15), so `verify` and `push --images-dir` see
    // no orphans. The work dir is the import's own; no other writer shares it.
    // The earlier import's stamp goes before the first change here, the new one is written
    // only after everything is placed: an import stopped in between leaves no stamp.
    try ArtifactImporter.removeStamp(directory)
    let imagesPath = directory + "/images"
    try ImportImagesDirectory.removeForeign(in: imagesPath)
    let images: BlobStore
    do { images = try BlobStore.create(at: imagesPath) } catch { throw .store(error) }
    try Self.writeAtomically(
      Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8), to: imagesPath + "/oci-layout")
    for blob in imageBlobs {
      try link(
        staging.path(for: blob), to: images.path(for: blob),
        through: images.ingestDirectory + "/\(blob.encoded).kk-link")
    }
    do {
      for (_, bytes) in viewBlobs { try images.ingest(bytes: bytes) }
      try images.writeIndex(ImageIndex(manifests: entries + archEntries))
    } catch {
      throw .store(error)
    }
    try ImportImagesDirectory.removeBlobs(
      in: imagesPath, keeping: Set((imageBlobs + viewBlobs.map(\.0)).map(\.encoded)))
    // `BlobStore.create` makes `.ingest/` for writers; the import only passes links through
    // it, so an empty one is litter KubeKey and skopeo do not expect (QA F4).
    _ = rmdir(images.ingestDirectory)
    placed.files = try placeFiles(files, imageBlobs: imageBlobSet)
    return placed
  }

  /// Every blob reachable from `root` (itself included), each checked to be staged.
  func closure(of root: Descriptor, owner: String) throws(ImportError) -> [Digest] {
    var seen: Set<Digest> = []
    var order: [Digest] = []
    var queue = [root]
    while let next = queue.popLast() {
      guard seen.insert(next.digest).inserted else { continue }
      guard staging.contains(next.digest) else {
        if MediaType.isNondistributable(next.mediaType) || !(next.urls ?? []).isEmpty { continue }
        throw .missingBlob(next.digest, neededBy: owner)
      }
      order.append(next.digest)
      if MediaType.isManifestOrIndex(next.mediaType) {
        queue.append(contentsOf: try parse(next, owner: owner).children)
      }
    }
    return order
  }

  func parse(_ descriptor: Descriptor, owner: String) throws(ImportError) -> ManifestBytes {
    let bytes: [UInt8]
    do { bytes = try staging.readJSON(descriptor.digest) } catch { throw .store(error) }
    do {
      return try ManifestBytes(
        bytes: bytes, mediaType: descriptor.mediaType, expected: descriptor.digest)
    } catch {
      throw .malformed(what: "manifest \(descriptor.digest) of \(owner)", reason: "\(error)")
    }
  }

  /// The per-architecture manifests of an image: the children of an index that name a real
  /// platform, or a single manifest with the platform from its config.
  func platformManifests(of entry: Descriptor, owner: String) throws(ImportError)
    -> [(String, Descriptor)]
  {
    let parsed = try parse(entry, owner: owner)
    switch parsed.content {
    case .index(let index):
      var seen: Set<String> = []
      return index.manifests.compactMap { child in
        guard let platform = child.platform, platform.os != "unknown",
          platform.architecture != "unknown"
        else { return nil }
        let label = Self.archLabel(platform)
        guard seen.insert(label).inserted else { return nil }
        var plain = child
        plain.annotations = nil
        return (label, plain)
      }
    case .manifest(let manifest):
      guard MediaType.isManifestOrIndex(entry.mediaType), manifest.artifactType == nil,
        let bytes = try? staging.readJSON(manifest.config.digest),
        let config = try? JSONDecoder().decode(Platform.self, from: Data(bytes))
      else { return [] }
      var plain = entry
      plain.annotations = nil
      return [(Self.archLabel(config), plain)]
    }
  }

  /// The OCI form of a Docker-typed platform manifest for its view, nil for an OCI one.
  func ociView(of manifest: Descriptor, owner: String) throws(ImportError) -> ManifestBytes? {
    guard MediaType.essence(manifest.mediaType) == MediaType.dockerManifest else { return nil }
    let bytes: [UInt8]
    do { bytes = try staging.readJSON(manifest.digest) } catch { throw .store(error) }
    do {
      return try ImportOCIView.convert(manifest, bytes: bytes)
    } catch {
      throw .malformed(what: "manifest \(manifest.digest) of \(owner)", reason: "\(error)")
    }
  }

  /// `amd64`, `arm64` (also for `arm64/v8`), `arm-v7`: KubeKey's arch suffix.
  static func archLabel(_ platform: Platform) -> String {
    let normalized = platform.normalized()
    guard let variant = normalized.variant, !variant.isEmpty,
      !(normalized.architecture == "arm64" && variant == "v8")
    else { return normalized.architecture }
    return "\(normalized.architecture)-\(variant)"
  }

  /// The `<ref>-<arch>` name of a platform manifest. The suffix must land on a tag, or the
  /// name is no valid reference (`repo@sha256:<hex>-amd64`) and nothing can pull or push by
  /// it: `repo:tag@sha256:<hex>` becomes `repo:tag-amd64` (the digest names the index, not
  /// this manifest), a digest-only `repo@sha256:<hex>` becomes `repo:sha256-<hex>-amd64`
  /// (the tag `images push` gives digest-only images, SPEC 5.1).
  static func archReference(_ name: String, arch: String) -> String {
    guard let at = name.firstIndex(of: "@") else { return "\(name)-\(arch)" }
    let repository = name[..<at]
    let digest = name[name.index(after: at)...]
    let lastSlash = repository.lastIndex(of: "/") ?? repository.startIndex
    if repository[lastSlash...].contains(":") { return "\(repository)-\(arch)" }
    return "\(repository):\(digest.replacingOccurrences(of: ":", with: "-"))-\(arch)"
  }
}
