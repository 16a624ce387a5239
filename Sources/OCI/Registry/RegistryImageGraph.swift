import Foundation

/// An image as a registry holds it: every manifest and index, and every blob they name.
///
/// Pushing must go children first (a registry refuses an index whose manifests it lacks, and
/// a manifest whose blobs it lacks), so `manifests` is kept in that order, root last.
public struct ImageGraph: Sendable {
  /// Manifests and indexes, children before parents; the last one is the root.
  public var manifests: [ManifestBytes]
  /// Configs and layers of every manifest, each once, in first-seen order.
  public var blobs: [Descriptor]
  /// Set when platforms were filtered: the digest of the registry's own index, which the
  /// new, smaller root index replaces.
  public var upstreamDigest: Digest?

  public init(manifests: [ManifestBytes], blobs: [Descriptor], upstreamDigest: Digest? = nil) {
    self.manifests = manifests
    self.blobs = blobs
    self.upstreamDigest = upstreamDigest
  }

  /// The top manifest or index (what a tag points to).
  public var root: ManifestBytes? { manifests.last }
}

extension RegistryClient {
  /// Walks an image from `reference` down: the root, its child manifests (all, or those for
  /// `platforms`), and their blob descriptors. With a platform list and an index at the root,
  /// the root becomes a new index listing only the kept manifests (bytes re-encoded; the
  /// upstream digest is kept in `upstreamDigest`).
  public func fetchImageGraph(
    repository: String, reference: String, platforms: [Platform]? = nil
  ) async throws(RegistryError) -> ImageGraph {
    let root = try await manifest(repository: repository, reference: reference)
    var graph = ImageGraph(manifests: [], blobs: [])
    var seenBlobs = Set<Digest>()
    var seenManifests = Set<Digest>()
    guard let index = root.index else {
      try collect(root, into: &graph, seen: &seenBlobs)
      graph.manifests.append(root)
      return graph
    }
    var children = index.manifests
    if let platforms {
      children = index.manifests(matchingAny: platforms)
      guard !children.isEmpty else {
        let have = index.manifests.compactMap { $0.platform?.description }.joined(separator: ", ")
        let want = platforms.map(\.description).joined(separator: ", ")
        throw .unsupported(
          "\(host)/\(repository):\(reference) has no manifest for \(want); it has: \(have)")
      }
    }
    for child in children where seenManifests.insert(child.digest).inserted {
      let fetched = try await manifest(repository: repository, reference: child.digest.description)
      if fetched.index != nil {
        // A nested index: bring its whole subtree along.
        let sub = try await fetchImageGraph(
          repository: repository, reference: child.digest.description)
        for m in sub.manifests
        where seenManifests.insert(m.digest).inserted || m == fetched {
          graph.manifests.append(m)
        }
        for b in sub.blobs where seenBlobs.insert(b.digest).inserted { graph.blobs.append(b) }
        continue
      }
      try collect(fetched, into: &graph, seen: &seenBlobs)
      graph.manifests.append(fetched)
    }
    if platforms != nil, children.count != index.manifests.count {
      var filtered = index
      filtered.manifests = children
      do {
        graph.manifests.append(try ManifestBytes(encoding: filtered))
      } catch {
        throw .local("cannot encode the filtered index of \(repository):\(reference): \(error)")
      }
      graph.upstreamDigest = root.digest
    } else {
      graph.manifests.append(root)
    }
    return graph
  }

  private func collect(
    _ manifest: ManifestBytes, into graph: inout ImageGraph, seen: inout Set<Digest>
  ) throws(RegistryError) {
    guard let parsed = manifest.manifest else {
      throw .invalidResponse(host: host, detail: "\(manifest.digest) is not an image manifest")
    }
    for blob in parsed.blobs where seen.insert(blob.digest).inserted { graph.blobs.append(blob) }
  }

  /// Pushes an image graph: blobs first (up to `parallel` at once, each skipped when present
  /// and mounted from `mountFrom` when possible), then child manifests by digest, then the
  /// root under `tag` (by digest when `tag` is nil).
  public func pushImageGraph(
    _ graph: ImageGraph, repository: String, tag: String?, parallel: Int = 4,
    mountFrom: String? = nil,
    openBlob: @escaping @Sendable (Descriptor) throws -> any ByteSource
  ) async throws(RegistryError) {
    guard let root = graph.root else { return }
    do {
      try await withThrowingTaskGroup(of: Void.self) { group in
        var pending = graph.blobs[...]
        func addNext() {
          guard let blob = pending.popFirst() else { return }
          group.addTask {
            try await self.pushBlob(repository: repository, descriptor: blob, mountFrom: mountFrom)
            {
              try openBlob(blob)
            }
          }
        }
        for _ in 0..<max(1, parallel) { addNext() }
        while try await group.next() != nil { addNext() }
      }
    } catch let error as RegistryError {
      throw error
    } catch {
      throw .local("\(error)")
    }
    for manifest in graph.manifests.dropLast() {
      try await pushManifest(
        repository: repository, reference: manifest.digest.description,
        bytes: manifest.bytes,
        mediaType: manifest.mediaType)
    }
    try await pushManifest(
      repository: repository, reference: tag ?? root.digest.description,
      bytes: root.bytes,
      mediaType: root.mediaType)
  }
}
