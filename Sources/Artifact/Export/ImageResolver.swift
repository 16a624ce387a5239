import Blobstore
import Foundation
import OCI

/// An image after resolution: its manifests are in the cache, its blobs are listed.
struct ResolvedImage: Sendable {
  var reference: Reference
  /// The `index.json` entry (top descriptor with ref.name/containerd/upstream annotations).
  var entry: Descriptor
  /// Config and layer descriptors of every kept manifest, each once.
  var blobs: [Descriptor]
  /// Sizes of every manifest and index kept (for the per-image byte count).
  var manifestBytes: Int64
  var platforms: [String]
  /// The registry's own index digest when the index was rewritten.
  var upstreamDigest: Digest?
  var warnings: [String]
}

/// Fetches an image's manifests and decides which platforms it keeps.
///
/// Kept: manifests for the requested arches, plus buildx attestation manifests
/// (`vnd.docker.reference.type: attestation-manifest`) whose `vnd.docker.reference.digest`
/// names a kept manifest. When everything is kept the upstream index bytes are stored as they
/// are (same digest, so `skopeo inspect` and containerd see the upstream digest); otherwise a
/// new index (CanonicalJSON) lists the kept manifests, and the entry carries the upstream
/// digest in `io.kubekey.upstream.digest`.
struct ImageResolver: Sendable {
  static let referenceType = "vnd.docker.reference.type"
  static let referenceDigest = "vnd.docker.reference.digest"

  var store: BlobStore
  var platforms: [Platform]
  var skipMissingPlatforms: Bool
  /// Manifests are committed in this batch (see `BlobBatch`).
  var batch: BlobBatch?
  /// Told about each cached manifest or config removed because its bytes no longer hash to
  /// its digest (SPEC 3.4: such a blob is removed with a warning and fetched again).
  var warn: @Sendable (String) -> Void = { _ in }

  func resolve(_ reference: Reference, client: RegistryClient) async throws(ExportError)
    -> ResolvedImage?
  {
    let name = reference.description
    let repository = reference.repository
    let root = try await fetchManifest(client, repository, reference.manifestReference, name)
    var image = ResolvedImage(
      reference: reference, entry: root.descriptor, blobs: [], manifestBytes: 0, platforms: [],
      upstreamDigest: nil, warnings: [])
    var seenBlobs = Set<Digest>()
    func addBlobs(of manifest: ManifestBytes) throws(ExportError) {
      guard let parsed = manifest.manifest else {
        throw .registry(image: name, detail: "\(manifest.digest) is not an image manifest")
      }
      for blob in parsed.blobs
      where !MediaType.isNondistributable(blob.mediaType) && seenBlobs.insert(blob.digest).inserted
      {
        image.blobs.append(blob)
      }
    }
    guard let index = root.index else {
      // A single manifest: its platform is in the config.
      guard let manifest = root.manifest else {
        throw .registry(
          image: name, detail: "the registry returned neither a manifest nor an index")
      }
      let config = try await fetchConfigPlatform(client, repository, manifest.config, name)
      let have = config?.description ?? "unknown"
      // Every requested arch must be served: a single-arch image in a multi-arch bundle
      // would fail at pod start on the other nodes ("no matching manifest").
      var missing: [Platform] = []
      for platform in platforms where !(config.map(platform.matches) ?? false) {
        if !skipMissingPlatforms {
          throw .missingPlatform(image: name, platform: platform.description, available: [have])
        }
        missing.append(platform)
      }
      guard let config, platforms.contains(where: { $0.matches(config) }) else { return nil }
      for platform in missing {
        image.warnings.append(
          Self.platformLeftOut(name, platform, it: "it is \(have)", kept: [config.description]))
      }
      try ingest(root, name)
      try addBlobs(of: root)
      image.manifestBytes = root.size
      image.platforms = [config.description]
      image.entry = entry(root.descriptor, reference: name, upstream: nil)
      return image
    }
    // An index: keep the requested platforms and the attestations that refer to them.
    var kept = index.manifests.filter { child in
      child.platform.map { have in platforms.contains { $0.matches(have) } } ?? false
    }
    var missing: [Platform] = []
    for platform in platforms
    where !kept.contains(where: { $0.platform.map(platform.matches) ?? false }) {
      let have = index.manifests.compactMap(\.platform).filter { $0.architecture != "unknown" }
        .map(\.description)
      if !skipMissingPlatforms {
        throw .missingPlatform(image: name, platform: platform.description, available: have)
      }
      missing.append(platform)
    }
    if kept.isEmpty { return nil }
    let keptPlatforms = kept.compactMap(\.platform?.description)
    for platform in missing {
      image.warnings.append(Self.platformLeftOut(name, platform, it: nil, kept: keptPlatforms))
    }
    // A reference pinned by digest must still resolve by that digest on the private
    // registry (pod specs and charts pin digests): keep the upstream index whole.
    if reference.digest != nil, kept.count != index.manifests.count {
      kept = index.manifests
      image.warnings.append(
        "\(name) is pinned by digest: all \(index.manifests.count) manifests of its index are kept "
          + "so that the digest stays valid")
    }
    let keptDigests = Set(kept.map(\.digest.description))
    kept = index.manifests.filter { child in
      if keptDigests.contains(child.digest.description) { return true }
      guard child.annotation(Self.referenceType) == "attestation-manifest",
        let target = child.annotation(Self.referenceDigest)
      else { return false }
      return keptDigests.contains(target)
    }
    for child in kept {
      let fetched = try await fetchManifest(client, repository, child.digest.description, name)
      if fetched.index != nil {
        throw .registry(
          image: name, detail: "nested index \(child.digest) is not supported by kk export")
      }
      try ingest(fetched, name)
      try addBlobs(of: fetched)
      image.manifestBytes += fetched.size
      if let platform = child.platform, child.annotation(Self.referenceType) == nil {
        image.platforms.append(platform.description)
      }
    }
    var top = root
    if kept.count != index.manifests.count {
      var filtered = index
      filtered.manifests = kept
      do {
        top = try ManifestBytes(encoding: filtered)
      } catch {
        throw .registry(image: name, detail: "cannot encode the filtered index: \(error)")
      }
      image.upstreamDigest = root.digest
    }
    try ingest(top, name)
    image.manifestBytes += top.size
    image.entry = entry(top.descriptor, reference: name, upstream: image.upstreamDigest)
    return image
  }

  /// The `index.json` entry of an image: media type, digest and size, no platform (the entry
  /// is the whole image), both name annotations and the upstream digest when filtered.
  func entry(_ descriptor: Descriptor, reference: String, upstream: Digest?) -> Descriptor {
    var annotations = [
      AnnotationKey.refName: reference,
      AnnotationKey.containerdImageName: reference,
    ]
    annotations[AnnotationKey.upstreamDigest] = upstream?.description
    return Descriptor(
      mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size,
      annotations: annotations)
  }

  /// Stores a manifest. A cached blob of the same digest and size whose bytes differ (torn
  /// by a power cut, edited) would make the store skip the write and the pack plan fail on
  /// it later ("cannot be read as a manifest"): it is replaced.
  private func ingest(_ manifest: ManifestBytes, _ name: String) throws(ExportError) {
    if store.size(of: manifest.digest) == manifest.size,
      (try? store.readJSON(manifest.digest)) != manifest.bytes
    {
      removeCorrupt(manifest.digest, name)
    }
    do {
      try store.ingest(bytes: manifest.bytes, batch: batch)
    } catch {
      throw .store("\(name): cannot store manifest \(manifest.digest) in the cache: \(error)")
    }
  }

  private func removeCorrupt(_ digest: Digest, _ name: String) {
    store.remove(digest)
    warn(
      "cached blob \(digest) (of \(name)) did not match its digest; removed it from "
        + "\(store.root) and fetching it again")
  }

  private func fetchManifest(
    _ client: RegistryClient, _ repository: String, _ reference: String, _ name: String
  ) async throws(ExportError) -> ManifestBytes {
    // A digest reference whose bytes are already cached needs no network; cached bytes that
    // no longer hash to the digest are removed and fetched again.
    if let digest = try? Digest(parsing: reference), store.contains(digest) {
      if let bytes = try? store.readJSON(digest),
        let cached = try? ManifestBytes(bytes: bytes, mediaType: nil, expected: digest)
      {
        return cached
      }
      removeCorrupt(digest, name)
    }
    do {
      return try await client.manifest(repository: repository, reference: reference)
    } catch {
      throw .registry(image: name, detail: "\(error)")
    }
  }

  /// `X has no manifest for linux/arm64: that platform is left out, the image is kept for
  /// linux/amd64`: "left out" alone read as if the whole image had been dropped.
  static func platformLeftOut(_ name: String, _ platform: Platform, it: String?, kept: [String])
    -> String
  {
    var unique: [String] = []
    for each in kept where !unique.contains(each) { unique.append(each) }
    let what = it.map { " (\($0))" } ?? ""
    return "\(name) has no manifest for \(platform)\(what): that platform is left out, the image "
      + "is kept for \(unique.joined(separator: ", "))"
  }

  private func fetchConfigPlatform(
    _ client: RegistryClient, _ repository: String, _ config: Descriptor, _ name: String
  ) async throws(ExportError) -> Platform? {
    struct ConfigPlatform: Decodable {
      var architecture: String?
      var os: String?
      var variant: String?
    }
    let bytes: [UInt8]
    if let cached = try? store.readJSON(config.digest), SHA256Hasher.digest(cached) == config.digest
    {
      bytes = cached
    } else {
      if store.contains(config.digest) { removeCorrupt(config.digest, name) }
      do {
        bytes = try await client.blobBytes(repository: repository, descriptor: config)
        try store.ingest(bytes: bytes, batch: batch)
      } catch {
        throw .registry(image: name, detail: "\(error)")
      }
    }
    guard let parsed = try? JSONDecoder().decode(ConfigPlatform.self, from: Data(bytes)),
      let arch = parsed.architecture
    else { return nil }
    return Platform(os: parsed.os ?? "linux", architecture: arch, variant: parsed.variant)
  }
}
