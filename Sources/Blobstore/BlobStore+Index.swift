import Foundation
import OCI

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// One image named in `index.json`.
public struct IndexImage: Hashable, Sendable {
  /// The full reference (`org.opencontainers.image.ref.name`).
  public var reference: String
  /// The image's top manifest or index.
  public var descriptor: Descriptor
}

extension BlobStore {
  /// Reads `index.json` with the strict vocabulary types. Use `verify()` or `walk()` for
  /// a layout that may be damaged: they report bad entries instead of failing on the first.
  public func readIndex() throws(BlobstoreError) -> ImageIndex {
    let bytes = try FileIO.readFile(indexPath, limit: Int64(4 * LayoutSnapshot.contentLimit))
    do {
      return try JSONDecoder().decode(ImageIndex.self, from: Data(bytes))
    } catch {
      throw .malformedJSON(path: indexPath, reason: LayoutGraph.describe(error))
    }
  }

  /// Replaces `index.json` atomically (temp file, fdatasync, rename, fsync of the directory):
  /// a crash leaves the old or the new table of contents, never a torn one. Keys are
  /// sorted so the same index always produces the same bytes (and the same top digest).
  ///
  /// With `batch`, its `syncDirectories()` runs while the new index is being made durable
  /// and must succeed before the rename makes it visible (see ``BlobBatch``): the blobs the
  /// index names are durably present first, one fsync wait instead of two in a row.
  public func writeIndex(_ index: ImageIndex, syncing batch: BlobBatch? = nil)
    throws(BlobstoreError)
  {
    let bytes: [UInt8]
    do {
      bytes = try CanonicalJSON.encode(index)
    } catch {
      throw .malformedJSON(path: indexPath, reason: "cannot encode: \(error)")
    }
    var alongside: (@Sendable () throws(BlobstoreError) -> Void)?
    if let batch {
      alongside = { () throws(BlobstoreError) in try batch.syncDirectories() }
    }
    try FileIO.writeAtomically(bytes, to: indexPath, directory: root, alongside: alongside)
  }

  /// Read-modify-write of `index.json` under an exclusive lock (`flock` on a file in the
  /// ingest directory), so concurrent updates from tasks or processes do not lose entries.
  /// With `batch`, see `writeIndex(_:syncing:)`.
  public func updateIndex<R>(
    syncing batch: BlobBatch? = nil, _ change: (inout ImageIndex) throws(BlobstoreError) -> R
  ) throws(BlobstoreError) -> R {
    try withIndexLock { () throws(BlobstoreError) -> R in
      var index = try readIndex()
      let result = try change(&index)
      try writeIndex(index, syncing: batch)
      return result
    }
  }

  /// Adds an image entry, replacing any entry with the same reference. Sets both
  /// `org.opencontainers.image.ref.name` and `io.containerd.image.name` (SPEC 1.2) on top of
  /// the descriptor's own annotations (e.g. `io.kubekey.upstream.digest`). With `batch`, the
  /// batch's directories are synced before the new index becomes visible (see
  /// `writeIndex(_:syncing:)`): pass the batch the image's blobs were committed in.
  public func putImage(_ descriptor: Descriptor, reference: String, syncing batch: BlobBatch? = nil)
    throws(BlobstoreError)
  {
    try putImages([(descriptor, reference)], syncing: batch)
  }

  /// `putImage` for many images in one rewrite of index.json (an export records every image
  /// it packed: one lock, one write and one fsync instead of one per image).
  public func putImages(
    _ images: [(descriptor: Descriptor, reference: String)], syncing batch: BlobBatch? = nil
  ) throws(BlobstoreError) {
    guard !images.isEmpty else { return }
    try updateIndex(syncing: batch) { (index: inout ImageIndex) throws(BlobstoreError) in
      for (descriptor, reference) in images {
        var entry = descriptor
        var annotations = entry.annotations ?? [:]
        annotations[AnnotationKey.refName] = reference
        annotations[AnnotationKey.containerdImageName] = reference
        entry.annotations = annotations
        Self.place(entry, in: &index)
      }
    }
  }

  /// Adds an entry, replacing the one it supersedes: the same ref name for images, the same
  /// `io.kubekey.path` for files. Other entries keep their order; new ones are appended.
  /// With `batch`, see `writeIndex(_:syncing:)`.
  public func putEntry(_ entry: Descriptor, syncing batch: BlobBatch? = nil)
    throws(BlobstoreError)
  {
    try updateIndex(syncing: batch) { (index: inout ImageIndex) throws(BlobstoreError) in
      Self.place(entry, in: &index)
    }
  }

  private static func place(_ entry: Descriptor, in index: inout ImageIndex) {
    let key = entryKey(entry)
    if let key, let position = index.manifests.firstIndex(where: { entryKey($0) == key }) {
      index.manifests[position] = entry
      index.manifests.removeAll { $0 != entry && entryKey($0) == key }
    } else if !index.manifests.contains(entry) {
      index.manifests.append(entry)
    }
  }

  /// Removes the image entry with this reference; returns whether there was one.
  /// Its blobs stay until `collectGarbage()`.
  @discardableResult
  public func removeImage(reference: String) throws(BlobstoreError) -> Bool {
    try updateIndex { (index: inout ImageIndex) throws(BlobstoreError) -> Bool in
      let before = index.manifests.count
      index.manifests.removeAll { $0.annotation(AnnotationKey.refName) == reference }
      return index.manifests.count != before
    }
  }

  /// The image entries of `index.json` (those with a ref name), in order.
  public func images() throws(BlobstoreError) -> [IndexImage] {
    try readIndex().manifests.compactMap { entry in
      entry.annotation(AnnotationKey.refName).map { IndexImage(reference: $0, descriptor: entry) }
    }
  }

  /// What identifies an entry for replacement: ref name for images, path for files.
  static func entryKey(_ entry: Descriptor) -> String? {
    if let name = entry.annotation(AnnotationKey.refName) { return "ref:" + name }
    if let path = entry.annotation(AnnotationKey.path) { return "path:" + path }
    return nil
  }

  /// Runs `body` holding an exclusive `flock` on `<root>/.ingest/index.lock`. The lock is
  /// per open file, so it also serialises threads of one process.
  func withIndexLock<R>(_ body: () throws(BlobstoreError) -> R) throws(BlobstoreError) -> R {
    try FileIO.makeDirectory(ingestDirectory)
    let lockPath = ingestDirectory + "/index.lock"
    let fd = Glibc.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw .io(path: lockPath, operation: "open lock", errno: errno) }
    defer { close(fd) }
    while flock(fd, LOCK_EX) != 0 {
      guard errno == EINTR else { throw .io(path: lockPath, operation: "lock", errno: errno) }
    }
    defer { flock(fd, LOCK_UN) }
    return try body()
  }
}
