import Blobstore
import Foundation
import OCI

/// How one copy runs: platform selection, how each side is reached, parallelism.
public struct ImageCopyOptions: Sendable {
  /// nil copies every platform byte for byte; a list keeps those and writes a new index.
  public var platforms: [Platform]?
  public var source: RegistryOptions
  public var destination: RegistryOptions
  /// Blobs moved at once (`--parallel`).
  public var parallel: Int
  /// Where blobs wait between two registries; a temporary directory when nil.
  public var stagingDirectory: String?

  public init(
    platforms: [Platform]? = nil, source: RegistryOptions = RegistryOptions(),
    destination: RegistryOptions = RegistryOptions(), parallel: Int = 4,
    stagingDirectory: String? = nil
  ) {
    self.platforms = platforms
    self.source = source
    self.destination = destination
    self.parallel = max(1, parallel)
    self.stagingDirectory = stagingDirectory
  }
}

/// What a copy did.
public struct ImageCopyResult: Sendable {
  /// The digest of what the destination now points to.
  public var digest: Digest
  public var mediaType: String
  public var manifests: Int
  public var blobs: Int
  /// Set when platforms were filtered: the source's own index digest.
  public var upstreamDigest: Digest?
}

/// Copies images between registries and OCI layouts, verifying every byte on the way.
///
/// Registry to registry goes through a staging blob store (or a cross-repository mount on the
/// same registry): bytes are verified before they are re-uploaded, and a cut connection on
/// either side resumes or retries without starting the image over.
public struct ImageCopier: Sendable {
  public let pool: TransferPool

  public init(pool: TransferPool) { self.pool = pool }

  /// The registry client for `reference`, with credentials filled from the auth files.
  public func client(for reference: Reference, options: RegistryOptions) throws(ImageCopyError)
    -> RegistryClient
  {
    var options = options
    do {
      try options.resolveCredentials(for: reference.registry)
    } catch {
      throw .registry(error)
    }
    return RegistryClient(host: reference.registry, options: options, pool: pool)
  }

  /// Reads the image graph at `location` (manifests verified, blobs not yet fetched).
  public func graph(
    at location: ImageLocation, options: RegistryOptions, platforms: [Platform]?
  ) async throws(ImageCopyError) -> ImageGraph {
    try await graph(at: location, client: nil, options: options, platforms: platforms)
  }

  /// `graph(at:options:platforms:)` through `client` (when the caller has one for the source).
  func graph(
    at location: ImageLocation, client: RegistryClient?, options: RegistryOptions,
    platforms: [Platform]?
  ) async throws(ImageCopyError) -> ImageGraph {
    switch location {
    case .registry(let reference):
      let registry: RegistryClient
      if let client {
        registry = client
      } else {
        registry = try self.client(for: reference, options: options)
      }
      do {
        return try await registry.fetchImageGraph(
          repository: reference.repository, reference: reference.manifestReference,
          platforms: platforms)
      } catch {
        throw .registry(error)
      }
    case .layout(let path, let name):
      let store = try openLayout(path)
      let root = try rootDescriptor(in: store, path: path, name: name)
      do {
        let top = try Self.readManifest(store, root)
        return try await ImageGraph.walk(
          root: top, name: location.description, platforms: platforms
        ) { child in try Self.readManifest(store, child) }
      } catch let error as ImageCopyError {
        throw error
      } catch {
        throw .layout("\(location): \(error)")
      }
    }
  }

  /// Copies `source` to `destination`.
  public func copy(
    from source: ImageLocation, to destination: ImageLocation, options: ImageCopyOptions
  ) async throws(ImageCopyError) -> ImageCopyResult {
    // One client for the walk and the blobs: what it learns (HTTP fallback, tokens) is reused.
    var sourceClient: RegistryClient?
    if case .registry(let reference) = source {
      sourceClient = try client(for: reference, options: options.source)
    }
    let graph = try await graph(
      at: source, client: sourceClient, options: options.source, platforms: options.platforms)
    guard let root = graph.root else { throw .layout("\(source): empty image") }
    var toRegistry = false
    if case .registry = destination { toRegistry = true }
    let provider = try BlobProvider(
      source: source, client: sourceClient, staging: toRegistry, copier: self, options: options)
    defer { provider.cleanUp() }
    switch destination {
    case .registry(let reference):
      if let wanted = reference.digest, wanted != root.digest {
        throw .digestDestination(expected: wanted, actual: root.digest)
      }
      let client = try client(for: reference, options: options.destination)
      var mountFrom: String?
      if case .registry(let from) = source, from.registry == reference.registry {
        mountFrom = from.repository
      }
      do {
        try await client.pushImageGraph(
          graph, repository: reference.repository,
          tag: reference.digest == nil ? reference.tag : nil, parallel: options.parallel,
          mountFrom: mountFrom
        ) { blob in try await provider.open(blob) }
      } catch {
        throw .registry(error)
      }
    case .layout(let path, let name):
      var store: BlobStore
      // A layout this copy creates is removed again if the copy fails: a new directory
      // holding an empty index and a few stray blobs would look like a copy that happened.
      let created = !FileManager.default.fileExists(atPath: path)
      do {
        store = try BlobStore.create(at: path)
      } catch {
        throw .layout(error.description)
      }
      var succeeded = false
      defer { if created && !succeeded { try? FileManager.default.removeItem(atPath: path) } }
      // Copies killed before they could clean up left their partial files here; no ingest
      // reuses them, so without this the layout grew by every interrupted download.
      CopyLeftovers.removeAbandonedPartials(in: store)
      // A copy writes hundreds of MB it will not read back: keep the page cache out of it.
      store.pageCache = .dropWhenWritten
      // Every blob and manifest is fdatasynced and renamed; the directory is synced once,
      // before index.json names the image (see BlobBatch for why that is enough).
      let batch = store.makeBatch()
      // Manifests are in memory already: store them while the blobs stream, so their
      // fdatasyncs overlap the transfers instead of following them.
      let manifestBytes = graph.manifests.map(\.bytes)
      let frozen = store
      let manifestsStored = Task {
        for bytes in manifestBytes { try frozen.ingest(bytes: bytes, batch: batch) }
      }
      do {
        try await provider.ingest(
          graph.blobs, into: store, parallel: options.parallel, batch: batch)
      } catch {
        manifestsStored.cancel()
        _ = await manifestsStored.result
        throw error
      }
      do {
        try await manifestsStored.value
        var entry = root.descriptor
        if let upstream = graph.upstreamDigest {
          entry.annotations = [AnnotationKey.upstreamDigest: upstream.description]
        }
        // The blob directory is synced while the new index.json is made durable, and before
        // it is renamed into place.
        try store.putImage(
          entry, reference: name ?? Self.defaultName(for: source), syncing: batch)
        succeeded = true
      } catch {
        throw .layout("\(error)")
      }
    }
    return ImageCopyResult(
      digest: root.digest, mediaType: root.mediaType, manifests: graph.manifests.count,
      blobs: graph.blobs.count, upstreamDigest: graph.upstreamDigest)
  }

  /// The ref name an image gets in a layout when the destination names none: the source's
  /// full reference, as SPEC.md §1.2 writes it.
  static func defaultName(for source: ImageLocation) -> String {
    switch source {
    case .registry(let reference): return reference.description
    case .layout(_, let name): return name ?? "latest"
    }
  }

  func openLayout(_ path: String) throws(ImageCopyError) -> BlobStore {
    do {
      return try BlobStore.open(at: path)
    } catch {
      throw .layout(error.description)
    }
  }

  func rootDescriptor(in store: BlobStore, path: String, name: String?) throws(ImageCopyError)
    -> Descriptor
  {
    let index: ImageIndex
    do {
      index = try store.readIndex()
    } catch {
      throw .layout(error.description)
    }
    let named = index.manifests.compactMap { $0.annotation(AnnotationKey.refName) }
    if let name {
      guard
        let found = index.manifests.first(where: { $0.annotation(AnnotationKey.refName) == name })
      else { throw .imageNotInLayout(path: path, reference: name, available: named) }
      return found
    }
    guard index.manifests.count == 1, let only = index.manifests.first else {
      throw .imageNotInLayout(path: path, reference: nil, available: named)
    }
    return only
  }

  static func readManifest(_ store: BlobStore, _ descriptor: Descriptor) throws -> ManifestBytes {
    try ManifestBytes(
      bytes: try store.readJSON(descriptor.digest), mediaType: descriptor.mediaType,
      expected: descriptor.digest)
  }
}
