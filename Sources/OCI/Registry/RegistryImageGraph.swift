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

extension ImageGraph {
  /// Why a walk failed: a child could not be fetched (the fetcher's own error), or the image
  /// has nothing for the requested platforms.
  public enum WalkError: Error, Sendable, CustomStringConvertible {
    case noMatchingPlatform(name: String, wanted: [Platform], available: [String])
    case notAManifest(Digest)

    public var description: String {
      switch self {
      case .noMatchingPlatform(let name, let wanted, let available):
        return "\(name) has no manifest for \(wanted.map(\.description).joined(separator: ", ")); "
          + "it has: \(available.joined(separator: ", "))"
      case .notAManifest(let digest):
        return "\(digest) is listed as a manifest but is not an image manifest or index"
      }
    }
  }

  /// Builds the graph below `root`, whatever holds the image (a registry, an OCI layout):
  /// `fetch` returns a child manifest's verified bytes. With `platforms` and an index at the
  /// root, only matching children are kept and the root becomes a new index listing them
  /// (canonical JSON; the original digest goes to `upstreamDigest`).
  ///
  /// The root's children are fetched concurrently (one round trip for all platforms
  /// instead of one per platform); the graph's order does not depend on which answers first.
  public static func walk(
    root: ManifestBytes, name: String, platforms: [Platform]?,
    fetch: @escaping @Sendable (Descriptor) async throws -> ManifestBytes
  ) async throws -> ImageGraph {
    var graph = ImageGraph(manifests: [], blobs: [])
    var seenBlobs = Set<Digest>()
    var seenManifests: Set<Digest> = [root.digest]
    func collect(_ manifest: ManifestBytes) throws {
      guard let parsed = manifest.manifest else { throw WalkError.notAManifest(manifest.digest) }
      for blob in parsed.blobs where seenBlobs.insert(blob.digest).inserted {
        graph.blobs.append(blob)
      }
    }
    guard let index = root.index else {
      try collect(root)
      graph.manifests.append(root)
      return graph
    }
    var children = index.manifests
    if let platforms {
      children = index.manifests(matchingAny: platforms)
      guard !children.isEmpty else {
        throw WalkError.noMatchingPlatform(
          name: name, wanted: platforms,
          available: index.manifests.compactMap { $0.platform?.description })
      }
    }
    // Depth first, children before parents, each manifest once.
    var stack: [(ManifestBytes, expanded: Bool)] = []
    let unique = children.filter { seenManifests.insert($0.digest).inserted }
    for child in try await fetchAll(unique, fetch).reversed() {
      stack.append((child, false))
    }
    while let (node, expanded) = stack.popLast() {
      guard let nested = node.index, !expanded else {
        if node.index == nil { try collect(node) }
        graph.manifests.append(node)
        continue
      }
      stack.append((node, true))
      for child in nested.manifests.reversed() where seenManifests.insert(child.digest).inserted {
        stack.append((try await fetch(child), false))
      }
    }
    if platforms != nil, children.count != index.manifests.count {
      var filtered = index
      filtered.manifests = children
      graph.manifests.append(try ManifestBytes(encoding: filtered))
      graph.upstreamDigest = root.digest
    } else {
      graph.manifests.append(root)
    }
    return graph
  }

  /// Fetches every descriptor at once; results in the order asked.
  private static func fetchAll(
    _ descriptors: [Descriptor],
    _ fetch: @escaping @Sendable (Descriptor) async throws -> ManifestBytes
  ) async throws -> [ManifestBytes] {
    if descriptors.count < 2 { return try await descriptors.asyncMap(fetch) }
    return try await withThrowingTaskGroup(of: (Int, ManifestBytes).self) { group in
      for (position, descriptor) in descriptors.enumerated() {
        group.addTask { (position, try await fetch(descriptor)) }
      }
      var results = [ManifestBytes?](repeating: nil, count: descriptors.count)
      for try await (position, manifest) in group { results[position] = manifest }
      return results.compactMap { $0 }
    }
  }
}

extension Array {
  fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async throws -> [T] {
    var result: [T] = []
    for element in self { result.append(try await transform(element)) }
    return result
  }
}

extension RegistryClient {
  /// Walks an image from `reference` down: the root, its child manifests (all, or those for
  /// `platforms`), and their blob descriptors (see ``ImageGraph/walk(root:name:platforms:fetch:)``).
  public func fetchImageGraph(
    repository: String, reference: String, platforms: [Platform]? = nil
  ) async throws(RegistryError) -> ImageGraph {
    let root = try await manifest(repository: repository, reference: reference)
    do {
      return try await ImageGraph.walk(
        root: root, name: "\(host)/\(repository):\(reference)", platforms: platforms
      ) { child in
        try await self.manifest(repository: repository, reference: child.digest.description)
      }
    } catch let error as RegistryError {
      throw error
    } catch let error as ImageGraph.WalkError {
      throw .unsupported(error.description)
    } catch {
      throw .local("\(error)")
    }
  }

  /// Pushes an image graph: blobs first (up to `parallel` at once, each skipped when present
  /// and mounted from `mountFrom` when possible), then child manifests by digest, then the
  /// root under `tag` (by digest when `tag` is nil).
  public func pushImageGraph(
    _ graph: ImageGraph, repository: String, tag: String?, parallel: Int = 4,
    mountFrom: String? = nil,
    openBlob: @escaping @Sendable (Descriptor) async throws -> any ByteSource
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
              try await openBlob(blob)
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
