import Blobstore
import Foundation
import OCI

/// `kk artifact export`: a KubeKey manifest in, one deduplicated, verified, reproducible
/// artifact out.
///
/// Phases (failures come early and cheap: nothing large is fetched before every image
/// resolved and every file was planned):
/// 1. resolve: every image's manifests (small) into the cache, platforms filtered;
/// 2. download: after a free-space check with the numbers, the union of the image blobs, each
///    digest once, `parallel` at a time: the configs, then the layers in archive order in the
///    background, while 3 and 4 run; blobs already in the cache cost nothing;
/// 3. files: the catalog's binaries and ISOs, then the manifest YAML (passwords removed), as
///    file artifacts: with the manifests they make `index.json` and the archive plan;
/// 4. pack: the archive in SPEC order from the cache, each layer as soon as it has landed
///    (`PackPipeline`); verified while packing: every blob hashed as it is copied in (or as it
///    was downloaded, by this run) and the layout checked before the rename (unless disabled),
///    never read back.
public struct ArtifactExporter: Sendable {
  public var manifest: KubeKeyManifest
  public var cache: ExportCache
  public var options: ExportOptions
  /// Plans the binaries and ISOs; nil exports images (and the manifest) only.
  public var catalog: Catalog?
  /// The manifest's text, so catalog refusals carry `file:line:col`.
  public var locator: ManifestLocator?

  public init(
    manifest: KubeKeyManifest, cache: ExportCache, options: ExportOptions = ExportOptions(),
    catalog: Catalog? = Catalog(), locator: ManifestLocator? = nil
  ) {
    self.manifest = manifest
    self.cache = cache
    self.options = options
    self.catalog = catalog
    self.locator = locator
  }

  /// The `io.kubekey.path` of the stored manifest YAML (SPEC §1.2).
  public static let manifestPath = "manifest.yaml"

  /// A manifest with no images and no planned binaries or ISOs (the export and its dry run
  /// give the same answer).
  public static let nothingToExport = ExportError.invalidInput(
    "nothing to export: the manifest lists no images (spec.images) and no binaries or "
      + "ISOs are planned; add images or components")

  /// Runs the export into `output`; `events` receives progress (called from any thread).
  ///
  /// `claimed` is the output already checked and locked (the command claims it before it
  /// arms its interrupt cleanup, so a refused second export never deletes the first one's
  /// `OUT.partial`); without it the export claims `output` itself. Either way the lock is
  /// dropped when this returns.
  ///
  /// A cached blob whose bytes no longer hash to its digest (a disk fault, or a power cut
  /// tearing a blob of the `.rebuildable` cache) is found while packing, before anything is
  /// written under `output`: it is removed from the cache, a warning names it, and the export
  /// runs again, fetching it again (up to 4 passes, while each finds new bad blobs).
  public func export(
    to output: String, claimed: ExportOutput? = nil,
    events: @escaping @Sendable (ExportEvent) -> Void = { _ in }
  ) async throws(ExportError) -> ExportSummary {
    let target: ExportOutput
    if let claimed {
      target = claimed
    } else {
      target = try ExportOutput(output, force: options.force)
    }
    defer { target.release() }
    // A pass stops at the first bad blob of a kind, so two torn blobs of different kinds (a
    // binary's compressed form and a layer) take two further passes: go on while each pass
    // finds blobs not removed before; a blob bad again after a fresh fetch fails the export.
    var removed: Set<Digest> = []
    var pass = 0
    while true {
      pass += 1
      do {
        return try await exportOnce(to: output, events: events)
      } catch {
        guard case .verification(_, _, _, let corrupt) = error, !corrupt.isEmpty, pass < 4,
          !corrupt.contains(where: removed.contains)
        else { throw error }
        for digest in corrupt {
          cache.store.remove(digest)
          removed.insert(digest)
          events(
            .warning(
              "cached blob \(digest) did not match its digest; removed it from "
                + "\(cache.store.root) and fetching it again"))
        }
        try target.reclaimIfGone()
      }
    }
  }

  private func exportOnce(
    to output: String, events: @escaping @Sendable (ExportEvent) -> Void
  ) async throws(ExportError) -> ExportSummary {
    var seconds: [String: Double] = [:]
    guard !manifest.arches.isEmpty else {
      throw .invalidInput("the manifest lists no arches (spec.arches); add amd64 and/or arm64")
    }
    let platforms = manifest.arches.map {
      Platform(os: "linux", architecture: $0.architecture, variant: $0.variant)
    }
    let store = cache.store
    // Every blob this export commits (manifests, layers, files) skips the per-blob directory
    // fsync; one sync before index.json names them keeps the cache's power-loss contract.
    let batch = store.makeBatch()
    // The file plan first: a version without a checksum is refused before any download.
    var files: [FilePlan] = []
    var planWarnings: [String] = []
    if let catalog {
      do {
        let filePlan = try catalog.plan(manifest, locator: locator)
        files = filePlan.files
        planWarnings = filePlan.warnings
      } catch {
        throw .invalidInput("\(error)")
      }
    }
    for warning in planWarnings { events(.warning(warning)) }
    let sessions = try RegistrySessions(
      hosts: Set(manifest.images.map(\.registry)), auths: manifest.registry, options: options)

    // 1. Resolve.
    var clock = Date()
    events(.phaseStarted(.resolve, total: Int64(manifest.images.count)))
    let resolved = try await resolveAll(
      sessions: sessions, platforms: platforms, batch: batch, events: events)
    events(.phaseFinished(.resolve))
    seconds["resolve"] = Date().timeIntervalSince(clock)
    var warnings = resolved.flatMap(\.warnings)
    let images = resolved.compactMap(\.image)
    for reference in resolved.filter({ $0.image == nil }).map(\.reference) {
      let requested = platforms.map(\.description).joined(separator: ", ")
      warnings.append(
        "\(reference) has none of the requested platforms (\(requested)); the image is left out")
    }
    for warning in warnings { events(.warning(warning)) }
    warnings = planWarnings + warnings
    if images.isEmpty && files.isEmpty {
      // An artifact holding only the manifest YAML is never what was meant.
      let platformList = platforms.map(\.description).joined(separator: ", ")
      throw .invalidInput(
        manifest.images.isEmpty
          ? "\(Self.nothingToExport)"
          : "nothing to export: none of the \(manifest.images.count) images has a requested "
            + "platform (\(platformList)) and no binaries or ISOs are planned, so "
            + "--skip-missing-platforms left nothing; check spec.arches against the images")
    }

    // 2. The union of image blobs, each once: the configs (the archive's metadata) now, then
    // the layers in archive order, in the background while the files download (3) and while
    // they are packed (4, PackPipeline).
    clock = Date()
    var order: [Digest] = []
    var sources: [Digest: BlobSource] = [:]
    for image in images {
      guard let client = sessions.client(for: image.reference) else { continue }
      for blob in image.blobs {
        let source = (client, image.reference.repository, image.reference.description)
        if sources[blob.digest] == nil {
          order.append(blob.digest)
          sources[blob.digest] = BlobSource(descriptor: blob, sources: [source])
        } else {
          sources[blob.digest]?.sources.append(source)
        }
      }
    }
    let missing = order.compactMap { sources[$0] }.filter {
      store.size(of: $0.descriptor.digest) != $0.descriptor.size
    }
    let missingBytes = missing.reduce(Int64(0)) { $0 + $1.descriptor.size }
    let uniqueBlobBytes = order.reduce(Int64(0)) { $0 + (sources[$1]?.descriptor.size ?? 0) }
    try DiskSpace.require(missingBytes + 1 << 20, at: store.root, what: "the downloads (cache)")
    try DiskSpace.require(
      uniqueBlobBytes + 1 << 20, at: parentDirectory(of: output), what: "the artifact")
    let counter = ByteCounter()
    events(.phaseStarted(.download, total: missingBytes))
    let downloader = BlobDownloader(store: store, parallel: options.parallel, batch: batch)
    let metadata = Set(
      try PackPlan(store: store, entries: images.map(\.entry)).metadata.map(\.digest))
    let configs = try await downloader.download(
      missing.filter { metadata.contains($0.descriptor.digest) }, counter: counter
    ) { done in events(.progress(.download, done: done)) }
    let downloads = PackPipeline.startDownloads(
      missing.filter { !metadata.contains($0.descriptor.digest) }, downloader: downloader,
      counter: counter, events: events)

    // 3. The files (their artifact manifests go into index.json) and the manifest YAML.
    let plan: PackPlan
    let fetchedFiles: Set<Digest>
    let fileEntries: [Descriptor]
    let fileBytes: Int64
    do throws(ExportError) {
      let filesClock = Date()
      // Into a .tar.gz from a lasting cache, raw files keep only their gzip members, made as
      // they download (the warm path's only read of them): SPEC 3.4.
      let keepsForms =
        options.reuseCompressed && options.verify
        && (try? ArchiveCompression.forOutput(path: output)) == .gzip
      (fileEntries, fileBytes, fetchedFiles) = try await FileWorkItems(
        store: store, parallel: options.parallel, batch: batch,
        forms: keepsForms ? CompressedForms(store: store) : nil
      ).fetch(files, pool: sessions.pool, events: events)
      if !files.isEmpty { seconds["files"] = Date().timeIntervalSince(filesClock) }
      let yaml = Array(manifest.redactedYAML().utf8)
      let manifestEntry = try FileArtifact(kind: .manifest, path: Self.manifestPath).store(
        bytes: yaml, in: store, batch: batch)
      var entries = images.map(\.entry)
      entries.append(manifestEntry)
      entries += fileEntries
      plan = try PackPlan(store: store, entries: entries)
      try DiskSpace.require(
        plan.blobBytes + 1 << 20, at: parentDirectory(of: output), what: "the artifact")
    } catch {
      await downloads.stop()
      throw error
    }
    for blob in plan.blobs { cache.touch(blob.digest) }

    // 4. Pack, and verify while packing: every blob's bytes as they go into the archive, then
    // the layout's graph, before the rename (ArtifactPacker).
    events(.phaseStarted(.pack, total: plan.blobBytes))
    let (layers, downloaded, packed) = try await PackPipeline(store: store).pack(
      plan: plan, downloads: downloads, output: output, checkedFiles: fetchedFiles,
      options: options, events: events)
    events(.phaseFinished(.pack))
    // Download and pack overlap: both are counted from the start of the downloads.
    seconds["download"] = downloaded.timeIntervalSince(clock)
    seconds["pack"] = Date().timeIntervalSince(clock)
    let fetched = configs + layers
    do {
      try batch.syncDirectories()
      try store.putImages(images.map { ($0.entry, $0.reference.description) })
    } catch {
      throw .store("cannot record the images in \(store.root)/index.json: \(error)")
    }

    let perImage = images.map { image in
      ExportedImage(
        reference: image.reference.description, digest: image.entry.digest.description,
        upstreamDigest: image.upstreamDigest?.description, platforms: image.platforms,
        bytes: image.manifestBytes + image.blobs.reduce(0) { $0 + $1.size })
    }
    let imageBytes = perImage.reduce(Int64(0)) { $0 + $1.bytes }
    let manifestBytes: Int64 = images.reduce(0) { $0 + $1.manifestBytes }
    let uniqueImageBytes: Int64 = uniqueBlobBytes + manifestBytes
    var allPlatforms: [String] = []
    for platform in images.flatMap(\.platforms) where !allPlatforms.contains(platform) {
      allPlatforms.append(platform)
    }
    return ExportSummary(
      output: output, images: perImage, platforms: allPlatforms, uniqueBytes: plan.blobBytes,
      bytesSavedByDedup: max(0, imageBytes - uniqueImageBytes), downloadedBytes: counter.total,
      cachedBlobs: order.count - fetched, downloadedBlobs: fetched,
      files: fileEntries.count, fileBytes: fileBytes, outputSize: packed.size,
      sha256: packed.sha256.description,
      filteredImages: images.filter { $0.upstreamDigest != nil }.map(\.reference.description),
      warnings: warnings, verified: options.verify, seconds: seconds)
  }

  private struct Resolution: Sendable {
    var reference: Reference
    var image: ResolvedImage?
    var warnings: [String]
    var sessions: RegistrySessions
  }

  private func resolveAll(
    sessions: RegistrySessions, platforms: [Platform], batch: BlobBatch,
    events: @escaping @Sendable (ExportEvent) -> Void
  ) async throws(ExportError) -> [Resolution] {
    let resolver = ImageResolver(
      store: cache.store, platforms: platforms,
      skipMissingPlatforms: options.skipMissingPlatforms, batch: batch,
      warn: { events(.warning($0)) })
    // Every image is resolved even when one fails, so the error reported is the first one in
    // manifest order (the same run gives the same message), with a count of the others.
    var done: Int64 = 0
    let results = await BoundedParallel.map(
      manifest.images, limit: options.parallel,
      finished: { _, _ in
        done += 1
        events(.progress(.resolve, done: done))
      },
      work: { reference -> Result<Resolution, ExportError> in
        do throws(ExportError) {
          guard let client = sessions.client(for: reference) else {
            throw ExportError.registry(image: reference.description, detail: "no client")
          }
          let image = try await resolver.resolve(reference, client: client)
          return .success(
            Resolution(
              reference: reference, image: image, warnings: image?.warnings ?? [],
              sessions: sessions))
        } catch {
          return .failure(error)
        }
      })
    var resolutions: [Resolution] = []
    var failures: [(image: Reference, error: ExportError)] = []
    for (reference, result) in zip(manifest.images, results) {
      switch result {
      case .success(let resolution): resolutions.append(resolution)
      case .failure(let error): failures.append((reference, error))
      }
    }
    if let first = failures.first {
      let others = failures.dropFirst().map(\.image.description)
      if !others.isEmpty {
        events(
          .warning(
            "\(others.count) more image(s) failed to resolve: \(FileWorkItems.list(others))"))
      }
      throw first.error
    }
    return resolutions
  }
}
