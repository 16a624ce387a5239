import Foundation

/// A group of blob commits whose directory entries become durable together: one fsync of
/// `blobs/sha256` per batch instead of one per blob.
///
/// Use it when several blobs are stored and then made reachable at once (an image copy, an
/// export): pass the batch to `BlobWriter.commit(batch:)` / `BlobStore.ingest(...batch:)`,
/// then call `syncDirectories()` BEFORE writing anything that refers to the blobs
/// (`index.json`, `putImage`, an artifact's index) — or hand the batch to
/// `putImage(_:reference:syncing:)` / `writeIndex(_:syncing:)`, which sync it while the new
/// index is fdatasynced and before it is renamed into place. Without a batch every commit
/// syncs the directory itself, as before.
///
/// Why this keeps the contract ("a file under `blobs/sha256/<hex>` only ever holds exactly
/// the bytes of its digest, even after power loss"):
/// - a commit verifies the digest, then `fdatasync`s the temp file (bytes and size on disk),
///   and only then renames it into `blobs/`: a name never points at bytes that are not
///   durable, whether or not the directory was synced;
/// - skipping the per-blob directory fsync only means a blob committed just before a power
///   loss may be *missing* afterwards, never wrong or short — and a missing blob is fetched
///   again by the next run;
/// - a blob becomes reachable only through `index.json` (manifests are blobs too, and the
///   index names the roots), so syncing the directory before the index is written means no
///   durable index ever names a blob whose directory entry could still be lost;
/// - `syncDirectories()` syncs `blobs/sha256` even when this batch renamed nothing, because
///   the caller may have skipped a download for a blob that another process committed
///   (batched) and has not synced yet: the fsync makes every entry there durable.
///
/// Thread-safe: the commits of one batch may run on many tasks at once. A rename that lands
/// while `syncDirectories()` runs is covered by that sync or marks the batch dirty again.
public final class BlobBatch: @unchecked Sendable {
  private let lock = NSLock()
  /// Directories in the order first seen, each with whether it needs a sync.
  private var directories: [String]
  private var dirty: Set<String>
  private let syncDirectory: @Sendable (String) throws(BlobstoreError) -> Void

  /// `directories` are synced by the first `syncDirectories()` whatever happens in between.
  init(
    directories: [String],
    syncDirectory: @escaping @Sendable (String) throws(BlobstoreError) -> Void = {
      (path: String) throws(BlobstoreError) in try FileIO.fsyncDirectory(path)
    }
  ) {
    self.directories = directories
    self.dirty = Set(directories)
    self.syncDirectory = syncDirectory
  }

  /// Records a rename into `directory` that is not durable yet.
  func noteRename(in directory: String) {
    lock.lock()
    defer { lock.unlock() }
    if !directories.contains(directory) { directories.append(directory) }
    dirty.insert(directory)
  }

  /// Makes every rename committed in this batch so far durable (one fsync per directory
  /// touched; a second call with nothing new in between does nothing). Call it before writing
  /// `index.json` or anything else that names the batch's blobs.
  public func syncDirectories() throws(BlobstoreError) {
    let pending: [String] = {
      lock.lock()
      defer { lock.unlock() }
      let list = directories.filter { dirty.contains($0) }
      dirty.removeAll()
      return list
    }()
    for (position, directory) in pending.enumerated() {
      do throws(BlobstoreError) {
        try syncDirectory(directory)
      } catch {
        lock.lock()
        for unsynced in pending[position...] { dirty.insert(unsynced) }
        lock.unlock()
        throw error
      }
    }
  }
}

extension BlobStore {
  /// A batch for commits into this store (see ``BlobBatch``): its first `syncDirectories()`
  /// fsyncs `blobs/sha256` (nothing for a `.rebuildable` store).
  public func makeBatch() -> BlobBatch {
    durability == .synced
      ? BlobBatch(directories: ["\(root)/blobs/sha256"])
      : BlobBatch(directories: [], syncDirectory: { (_: String) throws(BlobstoreError) in })
  }
}
