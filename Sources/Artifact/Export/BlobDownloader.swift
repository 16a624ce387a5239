import Blobstore
import Foundation
import OCI

/// A blob to fetch and every place it can be fetched from (images sharing a layer may live in
/// different repositories or registries; the first source is tried first).
struct BlobSource: Sendable {
  var descriptor: Descriptor
  var sources: [(client: RegistryClient, repository: String, image: String)]
}

/// A thread-safe byte counter for progress and the summary.
final class ByteCounter: @unchecked Sendable {
  private let lock = NSLock()
  private var value: Int64 = 0

  func add(_ count: Int64) -> Int64 {
    lock.lock()
    defer { lock.unlock() }
    value += count
    return value
  }

  var total: Int64 {
    lock.lock()
    defer { lock.unlock() }
    return value
  }
}

/// Feeds a `BlobWriter` from a registry download; a 200 answering a range request restarts it.
/// A `DigestVerifyingSink`: the `BlobWriter` hashes every byte and commits only on a match,
/// so the registry client does not hash the stream a second time (it was two sha256 passes
/// per downloaded byte, the largest cost of a cold export).
final class CountingBlobSink: DigestVerifyingSink, @unchecked Sendable {
  let writer: BlobWriter
  let counter: ByteCounter
  let onProgress: @Sendable (Int64) -> Void
  /// Bytes this sink received (over restarts), to take back out of the total on failure.
  let received = ByteCounter()

  init(writer: BlobWriter, counter: ByteCounter, onProgress: @escaping @Sendable (Int64) -> Void) {
    self.writer = writer
    self.counter = counter
    self.onProgress = onProgress
  }

  func write(_ bytes: UnsafeRawBufferPointer) throws {
    try writer.write(bytes)
    _ = received.add(Int64(bytes.count))
    onProgress(counter.add(Int64(bytes.count)))
  }

  func restart() throws {
    try writer.reset()
  }
}

/// Downloads blobs into the cache, each unique digest once, up to `parallel` at a time.
///
/// The caller passes the set of unique blobs, so two images needing the same layer never
/// download it twice; two `kk` processes racing on one blob each write a private temp file
/// and the atomic rename makes the second commit a no-op.
struct BlobDownloader: Sendable {
  var store: BlobStore
  var parallel: Int
  /// Commits leave the directory fsync to the export's one `syncDirectories()`.
  var batch: BlobBatch?

  /// Fetches every blob not yet stored, starting them in the order given; returns the number
  /// of blobs fetched.
  ///
  /// - Parameter onStored: called (from the collecting task) as each blob is in the store,
  ///   so a packer waiting for it can go on; `fetched` says whether this call downloaded it
  ///   (its bytes were hashed against the digest as they were stored) or found it there.
  func download(
    _ blobs: [BlobSource], counter: ByteCounter,
    onStored: (_ digest: Digest, _ fetched: Bool) -> Void = { _, _ in },
    onProgress: @escaping @Sendable (Int64) -> Void
  ) async throws(ExportError) -> Int {
    var fetched = 0
    do {
      try await withThrowingTaskGroup(of: (Digest, Bool).self) { group in
        var pending = blobs[...]
        func addNext() {
          guard let blob = pending.popFirst() else { return }
          group.addTask {
            (
              blob.descriptor.digest,
              try await fetch(blob, counter: counter, onProgress: onProgress)
            )
          }
        }
        for _ in 0..<parallel { addNext() }
        while let (digest, didFetch) = try await group.next() {
          if didFetch { fetched += 1 }
          onStored(digest, didFetch)
          // Cancelled (the export failed elsewhere): let the transfers in flight end, start
          // no more.
          if Task.isCancelled { throw CancellationError() }
          addNext()
        }
      }
    } catch let error as ExportError {
      throw error
    } catch {
      throw .store("\(error)")
    }
    return fetched
  }

  private func fetch(
    _ blob: BlobSource, counter: ByteCounter, onProgress: @escaping @Sendable (Int64) -> Void
  ) async throws(ExportError) -> Bool {
    let descriptor = blob.descriptor
    if store.size(of: descriptor.digest) == descriptor.size { return false }
    var lastError: ExportError?
    var resumeAllowed = true
    var sourceIndex = 0
    while sourceIndex < blob.sources.count {
      let source = blob.sources[sourceIndex]
      let writer: BlobWriter
      do {
        writer =
          resumeAllowed
          ? try store.resumableWriter(expecting: descriptor.digest, size: descriptor.size)
          : try store.writer(expecting: descriptor.digest, size: descriptor.size)
      } catch {
        throw .store("cannot write blob \(descriptor.digest) into the cache: \(error)")
      }
      let sink = CountingBlobSink(writer: writer, counter: counter, onProgress: onProgress)
      do {
        try await source.client.fetchBlob(
          repository: source.repository, descriptor: descriptor, into: sink,
          resumingAt: writer.written)
        try writer.commit(batch: batch)
        return true
      } catch {
        _ = counter.add(-sink.received.total)
        let detail = "\(error)"
        switch error {
        case let error as BlobstoreError:
          writer.cancel()
          if case .digestMismatch(let expected, let actual, _, _) = error {
            if writer.resumedFrom > 0 {
              // The kept prefix may be bad (a torn write before a crash): start over, once.
              resumeAllowed = false
              continue
            }
            // The writer is the one checking the digest of what the registry sent.
            let mismatch = RegistryError.digestMismatch(
              what: "blob \(expected)", expected: expected, actual: actual)
            throw .registry(image: source.image, detail: "\(mismatch)")
          }
          throw .store(
            "cannot store blob \(descriptor.digest) of \(source.image) in \(store.root): \(detail)")
        case let error as RegistryError:
          switch error {
          case .digestMismatch, .sizeMismatch:
            writer.cancel()
          default:
            // Connection trouble: keep the bytes so far for the next run's Range request.
            writer.suspend()
          }
          if case .blobUnknown = error {
            lastError = .registry(image: source.image, detail: detail)
            sourceIndex += 1
            continue
          }
          throw .registry(image: source.image, detail: detail)
        default:
          writer.suspend()
          throw .registry(image: source.image, detail: detail)
        }
      }
    }
    throw lastError ?? .store("no source for blob \(descriptor.digest)")
  }
}
