import Foundation
import OCI

/// What the target registry already holds, per (repository, blob), learnt for a whole plan
/// before any blob is read.
///
/// Why: a re-push of a 20 GB artifact must not read 20 GB. With every answer known up front,
/// an archive push stops reading as soon as nothing it still needs is left in the archive, and
/// each upload skips its own HEAD (one round trip less per blob on a first push).
final class BlobPresence: @unchecked Sendable {
  // @unchecked: `known` is guarded by `lock`.
  private let lock = NSLock()
  private var known: [String: Bool] = [:]

  private static func key(_ digest: Digest, _ repository: String) -> String {
    repository + "@" + digest.description
  }

  func set(_ digest: Digest, in repository: String, _ present: Bool) {
    lock.withLock { known[Self.key(digest, repository)] = present }
  }

  /// true/false when a HEAD answered, nil when it was not asked or failed.
  func present(_ digest: Digest, in repository: String) -> Bool? {
    lock.withLock { known[Self.key(digest, repository)] }
  }
}

/// Unstructured work started while the archive is read on (mounts into further
/// repositories, blobs already in memory), awaited before the manifests are pushed.
final class BackgroundWork: @unchecked Sendable {
  // @unchecked: `tasks` is guarded by `lock`.
  private let lock = NSLock()
  private var tasks: [Task<Void, Never>] = []

  func add(_ work: @escaping @Sendable () async -> Void) {
    let task = Task { await work() }
    lock.withLock { tasks.append(task) }
  }

  /// Waits for everything added so far (and anything added meanwhile).
  func wait() async {
    while true {
      let batch: [Task<Void, Never>] = lock.withLock {
        defer { tasks.removeAll() }
        return tasks
      }
      if batch.isEmpty { return }
      for task in batch { await task.value }
    }
  }
}

/// Images of a plan that the registry already holds whole, by index in `plan.images`.
///
/// Why: an image whose every tag already names the artifact's root digest is complete in
/// its repository, because a registry only accepts a manifest (or index) once the blobs (or
/// child manifests) it names are in that repository. One HEAD per tag then replaces a HEAD per
/// blob and per manifest, and a re-push from an archive stops reading after the manifests.
final class CompleteImages: @unchecked Sendable {
  // @unchecked: the fields are guarded by `lock`.
  private let lock = NSLock()
  private var indices: Set<Int> = []
  /// What each `repository:tag` HEAD answered: the digest found, or nil for a 404.
  private var tags: [String: Digest?] = [:]

  /// Repositories the catalog did not list: no manifest there needs a HEAD before its PUT.
  private var empty: Set<String> = []

  func insert(_ index: Int) { _ = lock.withLock { indices.insert(index) } }
  func markEmpty(_ repositories: Set<String>) { lock.withLock { empty.formUnion(repositories) } }
  func isEmpty(_ repository: String) -> Bool { lock.withLock { empty.contains(repository) } }
  func contains(_ index: Int) -> Bool { lock.withLock { indices.contains(index) } }

  func answered(_ repository: String, _ tag: String, _ found: Digest?) {
    lock.withLock { tags[repository + ":" + tag] = .some(found) }
  }

  /// True when the tag's HEAD answered and named something other than `digest` (or nothing):
  /// the PUT of the root under it needs no HEAD of its own.
  func elsewhere(_ repository: String, _ tag: String, not digest: Digest) -> Bool {
    lock.withLock {
      guard let answer = tags[repository + ":" + tag] else { return false }
      return answer != digest
    }
  }
}

extension ImagePusher {
  /// Learns what the registry has for the whole plan: first each image's tags (an image whose
  /// tags all name its root digest is complete: its blobs count as present and none is
  /// asked about), then a HEAD for every remaining (blob, repository) pair, `parallel` at a
  /// time. Blobs every repository already has are marked done. A failed HEAD leaves the
  /// image or pair unknown: the normal path then asks again.
  func learnPresence() async {
    // A repository the registry does not list holds nothing (``RegistryClient/catalog``):
    // its tags and blobs need no HEAD. A first push into an empty registry asks nothing else.
    let unlisted: Set<String> =
      await client.catalog().map { Set(plan.images.map(\.repository)).subtracting($0) } ?? []
    complete.markEmpty(unlisted)
    await learnCompleteImages(skipping: unlisted)
    for (index, image) in plan.images.enumerated() where complete.contains(index) {
      for blob in image.blobs { presence.set(blob.digest, in: image.repository, true) }
    }
    for use in plan.blobUses {
      for repository in use.repositories where unlisted.contains(repository) {
        presence.set(use.blob.digest, in: repository, false)
      }
    }
    let pairs = plan.blobUses.flatMap { use in
      use.repositories.map { (use.blob.digest, $0) }
    }.filter { presence.present($0.0, in: $0.1) == nil }
    await limited(pairs, lanes: requestLanes) { digest, repository in
      if let exists = try? await self.client.blobExists(repository: repository, digest: digest) {
        self.presence.set(digest, in: repository, exists)
      }
    }
    for use in plan.blobUses
    where use.repositories.allSatisfy({ presence.present(use.blob.digest, in: $0) == true }) {
      for _ in use.repositories { ledger.record(.existed, size: use.blob.size) }
      blobDone(use.blob.digest)
    }
  }

  /// HEADs every tag of every image (`HEAD /v2/<repo>/manifests/<tag>`) and records the
  /// images whose tags all answer with the artifact's root digest in `complete`. A digest-only
  /// image is looked up by its `sha256-<hex>` tag alike. Tags in `unlisted` repositories are
  /// known missing without asking.
  func learnCompleteImages(skipping unlisted: Set<String> = []) async {
    await limited(Array(plan.images.indices), lanes: requestLanes) { index in
      let image = self.plan.images[index]
      guard !image.tags.isEmpty else { return }
      if unlisted.contains(image.repository) {
        for tag in image.tags { self.complete.answered(image.repository, tag, nil) }
        return
      }
      var all = true
      for tag in image.tags {
        let found: Descriptor?
        do {
          found = try await self.client.manifestDescriptor(
            repository: image.repository, reference: tag, forPush: true)
        } catch {
          // A failed HEAD leaves the tag unknown (and the image not complete).
          all = false
          continue
        }
        self.complete.answered(image.repository, tag, found?.digest)
        if found?.digest != image.root.digest { all = false }
      }
      if all { self.complete.insert(index) }
    }
  }

  /// Requests that move no blob bytes (HEADs, manifest PUTs) run this many at once: they
  /// wait on the registry's latency (docker-registry fsyncs every small file it writes), not
  /// on CPU, so they take every thread of the client's pool rather than `parallel`.
  var requestLanes: Int { max(parallel, client.transferThreads) }

  /// Runs `work` for each item, at most `lanes` (default `parallel`) at once.
  func limited<Item: Sendable>(
    _ items: [Item], lanes: Int? = nil, _ work: @escaping @Sendable (Item) async -> Void
  ) async {
    _ = await BoundedParallel.map(items, limit: lanes ?? parallel) { await work($0) }
  }
}

/// Fires once an archive entry has been read to its end (or its upload is over, whichever
/// comes first), so the archive reader may move on while the upload finishes.
final class EntryConsumed: @unchecked Sendable {
  // @unchecked: the fields are guarded by `lock`.
  private let lock = NSLock()
  private let size: Int64
  private var fired = false
  private var waiter: CheckedContinuation<Void, Never>?

  init(size: Int64) { self.size = size }

  func fire() {
    let resume: CheckedContinuation<Void, Never>? = lock.withLock {
      guard !fired else { return nil }
      fired = true
      defer { waiter = nil }
      return waiter
    }
    resume?.resume()
  }

  func wait() async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let now: Bool = lock.withLock {
        if fired { return true }
        waiter = continuation
        return false
      }
      if now { continuation.resume() }
    }
  }

  /// `source`, firing when `size` bytes have been read from it.
  func watching(_ source: any ByteSource) -> any ByteSource { Watched(source, self) }

  private final class Watched: ByteSource, @unchecked Sendable {
    // @unchecked: read by one transfer at a time.
    private let base: any ByteSource
    private let signal: EntryConsumed
    private var count: Int64 = 0

    init(_ base: any ByteSource, _ signal: EntryConsumed) {
      self.base = base
      self.signal = signal
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
      let n = try base.read(into: buffer)
      count += Int64(n)
      if n == 0 || count >= signal.size { signal.fire() }
      return n
    }
  }
}
