import Blobstore
import Foundation
import OCI

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The persistent download cache: a `BlobStore` (an OCI layout) shared by every export.
///
/// Why a Blobstore: every blob enters through a verifying writer and an atomic rename, so a
/// `kill -9` at any moment leaves only complete, verified blobs under `blobs/` (and temp files
/// under `.ingest/`, removed by `prune`), and two `kk` processes can share the directory.
/// `index.json` records the last resolved top descriptor of each image reference (written
/// under the store's flock), which is what lets an export skip blobs it already has.
public struct ExportCache: Sendable {
  /// The store, `.rebuildable`: commits are not forced to disk (see ``BlobDurability``). A
  /// power cut may tear a blob committed just before it; every export hashes the cached blobs
  /// it packs, and removes and fetches again any that do not match (`ArtifactExporter`).
  public let store: BlobStore

  public init(store: BlobStore) {
    var store = store
    store.durability = .rebuildable
    self.store = store
  }

  /// The cache directory: `$XDG_CACHE_HOME/kk`, else `~/.cache/kk`.
  public static func defaultDirectory(
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> String {
    if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/kk" }
    let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
    return home + "/.cache/kk"
  }

  /// What an export suggests when the cache cannot be used.
  public static let exportRemedy = "pass --cache-dir DIR (a writable directory) or --no-cache"

  /// Opens the cache at `directory`, creating it when missing, and writes the marker
  /// (`markerName`) that `kk cache prune` requires. `kk cache` uses `openExisting` instead.
  ///
  /// - Parameter remedy: the way out the error suggests; `kk cache` has no `--no-cache`.
  public static func open(at directory: String, remedy: String = exportRemedy)
    throws(ExportError) -> ExportCache
  {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory),
      !isDirectory.boolValue
    {
      throw .store("the cache \(directory) is a file, not a directory; \(remedy)")
    }
    // The default (~/.cache/kk) lives under a directory a fresh account may not have yet.
    let parent = parentDirectory(of: directory)
    if !FileManager.default.fileExists(atPath: parent) {
      do {
        try FileManager.default.createDirectory(
          atPath: parent, withIntermediateDirectories: true)
      } catch {
        throw .store(
          "cannot create the cache's directory \(parent): \(error.localizedDescription); "
            + remedy)
      }
    }
    let store: BlobStore
    do {
      store = try BlobStore.create(at: directory)
    } catch {
      throw .store("cannot open the cache \(directory): \(error); \(remedy)")
    }
    // Every export writes into the cache (index.json, the manifest blob, downloads): a
    // read-only cache would only fail after the images were resolved, with a lock-file error.
    for path in [store.root, store.root + "/.ingest", store.root + "/blobs/sha256"]
    where FileManager.default.fileExists(atPath: path) && access(path, W_OK) != 0 {
      throw .store("the cache \(directory) is not writable (\(path)); \(remedy)")
    }
    // The marker is what lets `kk cache prune` tell this cache from any other OCI layout.
    try writeMarker(in: directory, remedy: remedy)
    return ExportCache(store: store)
  }

  /// Marks a blob as used now (its mtime), so `prune --older-than` keeps what recent exports
  /// needed. Failures are ignored: the mark is advisory.
  public func touch(_ digest: Digest) {
    _ = utimes(store.path(for: digest), nil)
  }

  /// What `prune` removed.
  public struct PruneReport: Sendable, Hashable {
    public var removedBlobs: Int
    public var removedTempFiles: Int
    public var freedBytes: Int64
    /// Records of compressed forms removed (`CompressedForms`): older than the cutoff, or
    /// naming a blob that is gone.
    public var removedCompressedRecords: Int = 0
  }

  /// Removes blobs not used for `days` days (by mtime, which exports refresh), or every blob
  /// when `days` is nil, and every ingest temp file older than an hour (or all, when `days`
  /// is nil). Index entries whose top blob went away are dropped. A running export sharing the
  /// cache would lose blobs it is about to pack: `kk cache prune` holds `CacheLock.exclusive`
  /// around this call.
  public func prune(olderThanDays days: Int?, now: Date = Date()) throws(ExportError) -> PruneReport
  {
    var report = PruneReport(removedBlobs: 0, removedTempFiles: 0, freedBytes: 0)
    let cutoff = days.map { now.timeIntervalSince1970 - Double($0) * 86_400 }
    let blobDir = store.root + "/blobs/sha256"
    for name in (try? FileManager.default.contentsOfDirectory(atPath: blobDir)) ?? [] {
      let path = blobDir + "/" + name
      var info = stat()
      guard stat(path, &info) == 0 else { continue }
      if let cutoff, Double(info.st_mtim.tv_sec) >= cutoff { continue }
      if unlink(path) == 0 {
        report.removedBlobs += 1
        report.freedBytes += Int64(info.st_size)
      }
    }
    // After the blobs: a record whose compressed blob was just removed must not dangle.
    report.removedCompressedRecords = CompressedForms(store: store).prune(olderThan: cutoff)
    let tempCutoff = days == nil ? now.timeIntervalSince1970 : now.timeIntervalSince1970 - 3600
    for name in (try? FileManager.default.contentsOfDirectory(atPath: store.ingestDirectory)) ?? []
    where !name.hasSuffix(".lock") {
      let path = store.ingestDirectory + "/" + name
      var info = stat()
      guard stat(path, &info) == 0, Double(info.st_mtim.tv_sec) <= tempCutoff else { continue }
      if unlink(path) == 0 {
        report.removedTempFiles += 1
        report.freedBytes += Int64(info.st_size)
      }
    }
    do {
      try store.updateIndex { (index: inout ImageIndex) throws(BlobstoreError) in
        index.manifests.removeAll { !store.contains($0.digest) }
      }
    } catch {
      throw .store("cannot update \(store.root)/index.json: \(error)")
    }
    return report
  }
}
