import Blobstore
import Foundation
import OCI

/// Pushes a `PushPlan` into one registry: blobs (HEAD-skip, one upload per digest then
/// cross-repository mounts), then every manifest byte-for-byte, children first, the root
/// under its tags. Target digests therefore equal the artifact's.
public final class ImagePusher: Sendable {
  public let client: RegistryClient
  public let plan: PushPlan
  public let parallel: Int
  /// Progress lines (one per image and per notable event).
  let log: @Sendable (String) -> Void
  let ledger: PushLedger
  /// `plan.blobUses` by digest, computed once.
  let uses: [Digest: (blob: Descriptor, repositories: [String])]
  /// What the registry already has, when ``learnPresence()`` asked.
  let presence = BlobPresence()
  /// Images whose tags already name their root digest (``learnCompleteImages()``).
  let complete = CompleteImages()
  /// Upload sessions opened ahead of their blobs.
  let sessions: UploadSessions
  /// Platform manifests sent as soon as their image's blobs are in.
  let early: EarlyManifests
  /// Those early sends, awaited before the push reports.
  let earlyWork = BackgroundWork()
  /// Manifest PUTs shared by images of one repository.
  let manifestPuts = ManifestPutOnce()
  /// Repositories the registry refused to take blobs into.
  let refusals = RepositoryRefusals()
  /// Bytes and blobs so far, for the command's progress line.
  let progress: PushProgress?

  public init(
    client: RegistryClient, plan: PushPlan, parallel: Int = 6, continueOnError: Bool = false,
    progress: PushProgress? = nil, log: @escaping @Sendable (String) -> Void = { _ in }
  ) {
    self.client = client
    self.progress = progress
    self.plan = plan
    self.parallel = max(1, parallel)
    self.log = log
    sessions = UploadSessions(client: client)
    early = EarlyManifests(plan)
    ledger = PushLedger(stopOnFailure: !continueOnError)
    var uses: [Digest: (blob: Descriptor, repositories: [String])] = [:]
    for use in plan.blobUses { uses[use.blob.digest] = use }
    self.uses = uses
  }

  /// Pushes from an OCI layout directory (an unpacked artifact, or `kubekey/images`), `parallel`
  /// blobs at a time.
  public func push(from store: BlobStore) async -> PushReport {
    await push(
      manifest: { digest in try? store.readJSON(digest) },
      open: { digest in
        guard store.contains(digest) else {
          throw PushError.source("blob \(digest) is not in \(store.root)")
        }
        return try store.open(digest)
      })
  }

  /// Pushes blobs that can each be opened any number of times, in any order (a layout, a
  /// mapped archive), `parallel` at a time, then the manifests.
  func push(
    manifest: @escaping @Sendable (Digest) -> [UInt8]?,
    open: @escaping @Sendable (Digest) throws -> any ByteSource
  ) async -> PushReport {
    let started = Date()
    // All HEADs first, in parallel: uploads then skip theirs (one round trip less each).
    await learnPresence()
    startProgress()
    expectUploads(upfront: false)
    startEarlyManifests(manifest)
    await limited(Self.largestFirst(plan.blobUses)) { use in
      await self.pushBlob(use.blob, to: use.repositories, rereadable: true) {
        try open(use.blob.digest)
      }
    }
    await sessions.close()
    await pushManifests(manifest)
    return finish(started)
  }

  /// The blob uses, largest blob first (ties in plan order).
  ///
  /// Why: the registry hashes and writes each upload on one thread, so the push ends when
  /// its last large blob does. Started last (plan order puts an image's big layer wherever
  /// the image is), a 60 MiB layer kept one lane busy for half a second after the others
  /// had finished, with the second core idle; started first, it overlaps the small ones.
  static func largestFirst(
    _ uses: [(blob: Descriptor, repositories: [String])]
  ) -> [(blob: Descriptor, repositories: [String])] {
    uses.enumerated().sorted {
      $0.element.blob.size != $1.element.blob.size
        ? $0.element.blob.size > $1.element.blob.size : $0.offset < $1.offset
    }.map(\.element)
  }

  /// Sends one blob to every repository that needs it: upload into the first, mount into the
  /// others (the client falls back to an upload when a mount is refused). Repositories known
  /// to have it (``learnPresence()``) are skipped and serve as the mount source. With
  /// `background`, the mounts run there and this returns once the first copy is in.
  func pushBlob(
    _ blob: Descriptor, to repositories: [String], rereadable: Bool,
    background: BackgroundWork? = nil,
    make: @escaping @Sendable () throws -> any ByteSource
  ) async {
    if ledger.isStopped || ledger.isDone(blob.digest) { return }
    let counted: @Sendable () throws -> any ByteSource
    if let progress { counted = { progress.counting(try make()) } } else { counted = make }
    let factory = BlobSourceFactory(blob, rereadable: rereadable, make: counted)
    var targets: [String] = []
    var from: String?
    for repository in repositories {
      if presence.present(blob.digest, in: repository) == true {
        ledger.record(.existed, size: blob.size)
        from = from ?? repository
      } else {
        targets.append(repository)
      }
    }
    guard !targets.isEmpty else {
      blobDone(blob.digest)
      return
    }
    // The first copy goes into the first repository that takes it: a refusal (no push
    // right there) moves on to the next one instead of failing every image of the blob.
    var rest = targets[...]
    var first: String?
    var refusal: String?
    while first == nil, let repository = rest.popFirst() {
      switch await send(blob, to: repository, from: from, factory) {
      case .sent: first = repository
      case .refused(let reason): refusal = reason
      case .failed: return
      }
    }
    guard let first else {
      if from != nil {
        // The repositories that still lacked it refused the account (their images fail
        // with that reason); those that have it are served: not a failure of the blob.
        blobDone(blob.digest)
      } else {
        ledger.fail(blob.digest, refusal ?? "blob \(blob.digest): no repository took it")
      }
      return
    }
    let source = from ?? first
    let others = Array(rest)
    if others.isEmpty {
      blobDone(blob.digest)
    } else if let background {
      background.add { await self.sendRest(blob, to: others, from: source, factory) }
    } else {
      await sendRest(blob, to: others, from: source, factory)
    }
  }

  private func sendRest(
    _ blob: Descriptor, to repositories: [String], from: String, _ factory: BlobSourceFactory
  ) async {
    for repository in repositories {
      if case .failed = await send(blob, to: repository, from: from, factory) { return }
    }
    blobDone(blob.digest)
  }

  enum SendOutcome {
    case sent
    /// The registry refused the account for this repository (recorded in `refusals`).
    case refused(String)
    /// Recorded in the ledger.
    case failed
  }

  /// One repository; the failure is recorded unless the outcome is `.sent`.
  private func send(
    _ blob: Descriptor, to repository: String, from: String?, _ factory: BlobSourceFactory
  ) async -> SendOutcome {
    // A source that can be read twice may also be reopened by the client: a redirected
    // upload is re-sent and a cut chunked upload resumes from the registry's Range.
    var reopen: (@Sendable () throws -> any ByteSource)?
    if factory.rereadable { reopen = { @Sendable in try factory.open() } }
    // Known to be missing and nothing to mount from: take a session opened ahead.
    let absent = presence.present(blob.digest, in: repository) == false
    let session = from == nil && absent ? await sessions.take(repository) : nil
    do {
      let result = try await client.pushBlob(
        repository: repository, descriptor: blob, mountFrom: from, reopen: reopen,
        checkExisting: presence.present(blob.digest, in: repository) == nil, session: session,
        open: factory.open)
      ledger.record(result, size: blob.size)
      return .sent
    } catch {
      if ledger.isInterrupted {
        // Aborted by ``interrupt()``: the command reports the interruption once.
        ledger.fail(blob.digest, "blob \(blob.digest): the push was interrupted")
        return .failed
      }
      if factory.needsSecondPass {
        ledger.deferToSecondPass(blob.digest)
        return .failed
      }
      if RepositoryRefusals.isRefusal(error) {
        let reason = "blob \(blob.digest) into \(repository): \(error)"
        if refusals.record(repository, reason) {
          log("REFUSED \(client.host)/\(repository): \(error)")
        }
        return .refused(reason)
      }
      var reason = "blob \(blob.digest) into \(repository): \(error)"
      if case .digestRefused = error, let (actual, size) = factory.localDigest(),
        actual != blob.digest || size != blob.size
      {
        reason = PushError.blobCorrupt(blob.digest, actual: actual, size: size).description
      }
      ledger.fail(blob.digest, reason)
      log("FAILED \(client.host): \(reason)")
      return .failed
    }
  }

  /// Pushes the manifests of every image whose blobs all arrived; the others are failed with
  /// the first blob's reason and none of their manifests is sent.
  func pushManifests(_ manifest: @escaping @Sendable (Digest) -> [UInt8]?) async {
    await limited(Array(plan.images.indices), lanes: requestLanes) { index in
      await self.pushManifests(
        of: self.plan.images[index], complete: self.complete.contains(index), manifest)
    }
    // Early sends of images that then failed are not awaited above.
    await earlyWork.wait()
  }

  /// - Parameter complete: the image's tags already name its root digest: every manifest is
  ///   there, none is asked about or sent.
  private func pushManifests(
    of image: PlannedImage, complete: Bool, _ manifest: @escaping @Sendable (Digest) -> [UInt8]?
  ) async {
    let name = image.source.description
    if ledger.isStopped {
      // The image whose blob stopped the push is listed with that blob's reason, not as
      // "not attempted": the reason is what the user needs on stderr.
      let reason =
        ledger.isInterrupted
        ? "not tagged: the push was interrupted"
        : image.blobs.lazy.compactMap { self.ledger.failure(of: $0.digest) }.first
          ?? "not attempted: stopped after an earlier failure"
      ledger.update { $0.failed.append(PushReport.Failure(image: name, reason: reason)) }
      return
    }
    if let reason = refusals.reason(for: image.repository) {
      fail(name, reason)
      return
    }
    for blob in image.blobs where !ledger.isDone(blob.digest) {
      let reason =
        ledger.failure(of: blob.digest)
        ?? (ledger.deferredBlobs.contains(blob.digest)
          ? "blob \(blob.digest): its upload kept failing and the archive could not be re-read"
          : PushError.blobNotInArchive(blob.digest).description)
      fail(name, reason)
      return
    }
    do {
      // Platform manifests name no other manifest: they go at once; then the indexes,
      // children first, the root last.
      let leaves = image.manifests.filter {
        !MediaType.isIndex($0.mediaType) && $0.digest != image.root.digest
      }
      let leafDigests = Set(leaves.map(\.digest))
      try await withThrowingTaskGroup(of: Void.self) { group in
        for descriptor in leaves {
          group.addTask {
            try await self.putManifest(descriptor, of: image, complete: complete, manifest)
          }
        }
        try await group.waitForAll()
      }
      for descriptor in image.manifests where !leafDigests.contains(descriptor.digest) {
        try await putManifest(descriptor, of: image, complete: complete, manifest)
      }
      let targets = image.tags.map { "\(image.target.registry)/\(image.repository):\($0)" }
      ledger.update { $0.pushed += targets }
      let already = complete ? ", already there" : ""
      log("pushed \(name) -> \(targets.joined(separator: ", ")) (\(image.root.digest)\(already))")
    } catch {
      fail(name, "\(error)")
    }
  }

  /// PUTs one manifest of `image` under its references (the tags for the root, else its
  /// digest), once per repository and reference, unless the registry has these very bytes
  /// there: known from the image's tags (`complete`), or asked with a HEAD. The HEAD is
  /// skipped in a repository the catalog did not list, and for the root when
  /// ``learnCompleteImages()`` already saw its tags missing or elsewhere.
  func putManifest(
    _ descriptor: Descriptor, of image: PlannedImage, complete: Bool,
    _ manifest: @escaping @Sendable (Digest) -> [UInt8]?
  ) async throws {
    guard let bytes = manifest(descriptor.digest) else {
      throw PushError.missingManifest(descriptor.digest, image: image.source.description)
    }
    let isRoot = descriptor.digest == image.root.digest
    let references = isRoot ? image.tags : [descriptor.digest.description]
    for reference in references {
      let askFirst =
        !self.complete.isEmpty(image.repository)
        && !(isRoot
          && self.complete.elsewhere(image.repository, reference, not: descriptor.digest))
      let client = client
      let ledger = ledger
      _ = try await manifestPuts.run(repository: image.repository, reference: reference) {
        // Already there with these very bytes (same digest): skip the PUT.
        // docker-registry writes and fsyncs several files per manifest PUT, which made
        // up most of a re-push.
        if complete {
          ledger.update { $0.manifestsPresent += 1 }
          return false
        }
        if askFirst,
          let found = try? await client.manifestDescriptor(
            repository: image.repository, reference: reference, forPush: true),
          found.digest == descriptor.digest
        {
          ledger.update { $0.manifestsPresent += 1 }
          return false
        }
        try await Self.pushManifestRetryingUnknownBlobs(
          client, repository: image.repository, reference: reference, bytes: bytes,
          mediaType: descriptor.mediaType)
        ledger.update { $0.manifestsPushed += 1 }
        return true
      }
    }
  }

  /// A manifest PUT refused with `MANIFEST_BLOB_UNKNOWN` although its blobs were just
  /// confirmed: another push (the same artifact pushed twice at once) was committing the same
  /// blob, and docker-registry rewrites the repository's link file non-atomically. A moment
  /// later the link is back; two more tries, then an error saying what probably happened.
  static func pushManifestRetryingUnknownBlobs(
    _ client: RegistryClient, repository: String, reference: String, bytes: [UInt8],
    mediaType: String
  ) async throws {
    var attempt = 0
    while true {
      attempt += 1
      do {
        try await client.pushManifest(
          repository: repository, reference: reference, bytes: bytes, mediaType: mediaType)
        return
      } catch {
        guard case .registry(_, "PUT", _, 400, let errors) = error,
          errors.contains(where: { $0.code == "MANIFEST_BLOB_UNKNOWN" })
        else { throw error }
        guard attempt < 3 else {
          throw PushError.source(
            "\(client.host) refused the manifest \(repository):\(reference) naming blobs it "
              + "had just confirmed (MANIFEST_BLOB_UNKNOWN); another push into \(repository) was "
              + "probably writing the same blobs at that moment: run the command again")
        }
        try? await Task.sleep(nanoseconds: UInt64(attempt) * 500_000_000)
      }
    }
  }

  /// Stops the push as soon as it can (a signal): no new blob or manifest is started, the
  /// transfers in flight are aborted, and their upload sessions, like those opened ahead,
  /// are cancelled with `DELETE`; the push then returns with no image tagged.
  public func interrupt() {
    ledger.interrupt()
    client.abortTransfers()
  }

  private func fail(_ image: String, _ reason: String) {
    ledger.failImage(PushReport.Failure(image: image, reason: reason))
    // The reason is listed once, with the failures at the end (QA F3).
    log("FAILED \(image)")
  }

  func finish(_ started: Date) -> PushReport {
    var report = ledger.snapshot
    report.seconds = Date().timeIntervalSince(started)
    return report
  }
}
