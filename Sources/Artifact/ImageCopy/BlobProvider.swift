import Blobstore
import Foundation
import OCI

/// A blob store ingest seen as a restartable sink: a 200 answering a range request
/// truncates the partial file and starts the hash over. The writer hashes every byte and its
/// commit refuses a mismatch, so the registry client need not hash them too.
final class BlobWriterSink: DigestVerifyingSink, @unchecked Sendable {
  let writer: BlobWriter

  init(_ writer: BlobWriter) { self.writer = writer }

  func write(_ bytes: UnsafeRawBufferPointer) throws { try writer.write(bytes) }

  func restart() throws { try writer.reset() }
}

/// A staged blob being uploaded: once the upload is done with it, the staged copy goes, so a
/// registry-to-registry copy needs disk for the blobs in flight, not for the whole image.
/// (A retried upload fetches the blob again.)
final class StagedBlobSource: ByteSource, @unchecked Sendable {
  private let reader: BlobReader
  private let path: String

  init(reader: BlobReader, path: String) {
    self.reader = reader
    self.path = path
  }

  deinit {
    reader.close()
    try? FileManager.default.removeItem(atPath: path)
  }

  func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    try reader.read(into: buffer)
  }
}

/// Hands out the source's blobs: straight from a source layout, or fetched from the source
/// registry — into the destination layout directly, or (registry to registry) once into a
/// staging store (verified) and read from there.
final class BlobProvider: Sendable {
  private let sourceStore: BlobStore?
  private let sourceClient: RegistryClient?
  private let sourceRepository: String
  private let staging: BlobStore?
  private let stagingPath: String?
  private let ownsStaging: Bool

  /// `client`: the source registry's client, shared with the graph walk so the connection
  /// facts it learned (HTTPS → HTTP fallback, tokens) are not learned again. `staging`: a
  /// registry destination reads blobs back from a staging store; a layout destination
  /// needs none.
  init(
    source: ImageLocation, client: RegistryClient?, staging needsStaging: Bool,
    copier: ImageCopier, options: ImageCopyOptions
  ) throws(ImageCopyError) {
    switch source {
    case .layout(let path, _):
      sourceStore = try copier.openLayout(path)
      sourceClient = nil
      sourceRepository = ""
      staging = nil
      stagingPath = nil
      ownsStaging = false
    case .registry(let reference):
      sourceStore = nil
      if let client {
        sourceClient = client
      } else {
        sourceClient = try copier.client(for: reference, options: options.source)
      }
      sourceRepository = reference.repository
      guard needsStaging else {
        staging = nil
        stagingPath = nil
        ownsStaging = false
        return
      }
      let path: String
      if let given = options.stagingDirectory {
        path = given
      } else {
        // Named with the pid, so that an interrupted copy finds its own and a later one
        // those whose process is gone (a kill leaves them, tens of MB each).
        let parent = CopyLeftovers.temporaryDirectory
        CopyLeftovers.removeAbandonedStaging(in: parent)
        path = CopyLeftovers.newStagingPath(in: parent)
      }
      ownsStaging = options.stagingDirectory == nil
      stagingPath = path
      do {
        staging = try BlobStore.create(at: path)
      } catch {
        throw .layout("cannot create the staging directory \(path): \(error)")
      }
    }
  }

  /// Removes a staging directory this provider created.
  func cleanUp() {
    if ownsStaging, let stagingPath { try? FileManager.default.removeItem(atPath: stagingPath) }
  }

  /// A source over the blob's verified bytes.
  func open(_ blob: Descriptor) async throws -> any ByteSource {
    if let sourceStore { return try sourceStore.open(blob.digest) }
    guard let staging else { throw ImageCopyError.layout("no blob source") }
    if !staging.contains(blob.digest) { try await fetch(blob, into: staging) }
    return StagedBlobSource(
      reader: try staging.open(blob.digest), path: staging.path(for: blob.digest))
  }

  /// What one task of `ingest` finished.
  private enum Step: Sendable {
    /// A registry blob's bytes are all in its writer: the transfer slot is free, the commit
    /// (fdatasync, rename) still to do.
    case fetched(BlobWriter, Descriptor)
    /// A layout blob is copied and stored: its transfer slot is free.
    case copied
    /// A fetched blob's commit is done (its slot was freed when it was fetched).
    case stored
  }

  /// Puts every blob into `store`, `parallel` transfers at a time, skipping those it has.
  /// Commits go into `batch`: call its `syncDirectories()` before naming the blobs in
  /// `index.json`.
  ///
  /// A registry blob's commit runs beside the next transfer rather than in its slot: its
  /// fdatasync waits for the disk (milliseconds, far more on a busy one), and holding the
  /// slot for it left the network idle between blobs.
  func ingest(_ blobs: [Descriptor], into store: BlobStore, parallel: Int, batch: BlobBatch)
    async throws(ImageCopyError)
  {
    do {
      try await withThrowingTaskGroup(of: Step.self) { group in
        // Largest first: the copy ends when its longest transfer does, so that one must not
        // start last, behind a queue of small ones.
        var pending = blobs.filter { store.size(of: $0.digest) != $0.size }
          .sorted { $0.size > $1.size }[...]
        func next() {
          guard let blob = pending.popFirst() else { return }
          group.addTask {
            if let sourceStore = self.sourceStore {
              // Opened once through the store, which refuses a blob that is a link.
              try sourceStore.open(blob.digest).close()
              let file = sourceStore.path(for: blob.digest)
              do {
                try store.ingest(
                  file: file, expecting: blob.digest, size: blob.size, batch: batch)
              } catch BlobstoreError.digestMismatch(_, let actual, _, let actualSize) {
                // The source layout's own file is bad: not something to fetch again.
                throw ImageCopyError.layout(
                  "blob \(blob.digest) in \(file) is corrupt (its \(actualSize) bytes hash to "
                    + "\(actual)); nothing was copied into the destination for it: run kk "
                    + "artifact verify -a \(sourceStore.root), and copy the layout again from "
                    + "where it came from")
              }
              return .copied
            }
            return .fetched(try await self.download(blob, into: store), blob)
          }
        }
        for _ in 0..<parallel { next() }
        while let step = try await group.next() {
          switch step {
          case .copied: next()
          case .stored: continue
          case .fetched(let writer, let blob):
            next()
            group.addTask {
              try await self.commit(writer, blob, batch: batch)
              return .stored
            }
          }
        }
      }
    } catch let error as ImageCopyError {
      throw error
    } catch let error as RegistryError {
      throw .registry(error)
    } catch {
      throw .layout("\(error)")
    }
  }

  /// Fetches a blob and commits it at once (registry to registry staging).
  private func fetch(_ blob: Descriptor, into store: BlobStore) async throws {
    try await commit(try await download(blob, into: store), blob, batch: nil)
  }

  /// A writer holding all of the blob's bytes, not yet committed (cancelled on failure).
  private func download(_ blob: Descriptor, into store: BlobStore) async throws -> BlobWriter {
    guard let sourceClient else { throw ImageCopyError.layout("no source registry") }
    let writer = try store.writer(expecting: blob.digest, size: blob.size)
    do {
      try await sourceClient.fetchBlob(
        repository: sourceRepository, descriptor: blob, into: BlobWriterSink(writer))
    } catch {
      writer.cancel()
      throw error
    }
    return writer
  }

  /// Commits on a dispatch thread: fdatasync blocks, and the Swift concurrency pool has one
  /// thread per core to run every other task.
  private func commit(_ writer: BlobWriter, _ blob: Descriptor, batch: BlobBatch?) async throws {
    let result = await withCheckedContinuation {
      (continuation: CheckedContinuation<Result<Void, BlobstoreError>, Never>) in
      DispatchQueue.global(qos: .userInitiated).async {
        continuation.resume(
          returning: Result { () throws(BlobstoreError) in try writer.commit(batch: batch) })
      }
    }
    switch result {
    case .success: return
    case .failure(.digestMismatch(let expected, let actual, _, _)):
      // The writer was the only digest check (see DigestVerifyingSink): report it as the
      // registry's bad content, as the client would have.
      throw RegistryError.digestMismatch(
        what: "blob \(expected) of \(sourceClient?.host ?? "the source")/\(sourceRepository)",
        expected: expected, actual: actual)
    case .failure(let error):
      throw error
    }
  }

}
