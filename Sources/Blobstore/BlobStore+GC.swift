import OCI

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// What `collectGarbage` removed (or, in a dry run, would remove).
public struct GCReport: Sendable, Hashable {
  /// Blobs not reachable from `index.json`.
  public var removedBlobs: [StoredBlob]
  /// Abandoned ingest temp files (from crashed or killed downloads).
  public var removedTempFiles: [String]
  /// Bytes freed by both.
  public var freedBytes: Int64
}

extension BlobStore {
  /// Deletes blobs that nothing in `index.json` reaches, and ingest temp files older than
  /// `tempFileAge` seconds (younger ones may belong to a download in progress).
  ///
  /// Refuses (throws `.unsafeToCollect`) when the graph cannot be read completely: if a
  /// manifest does not parse, its layers would look unreachable and be deleted.
  /// Holds the `index.json` lock, so entries added concurrently through `putImage` are
  /// seen; a caller that ingests blobs for an image it has not yet added to the index
  /// must not run GC at the same time (as with containerd leases).
  public func collectGarbage(tempFileAge: Int = 24 * 3600, dryRun: Bool = false)
    throws(BlobstoreError)
    -> GCReport
  {
    try withIndexLock { () throws(BlobstoreError) -> GCReport in
      let walk = try walk()
      guard walk.issues.isEmpty else {
        throw .unsafeToCollect(problems: walk.issues.map { "\($0.file): \($0.reason)" })
      }
      let reachable = walk.reachable
      var report = GCReport(removedBlobs: [], removedTempFiles: [], freedBytes: 0)
      for algorithm in FileIO.list(root + "/blobs").sorted() {
        for name in FileIO.list("\(root)/blobs/\(algorithm)").sorted() {
          let relative = "blobs/\(algorithm)/\(name)"
          guard case .blob(let digest) = LayoutSnapshot.classify(path: relative),
            !reachable.contains(digest), let info = FileIO.fileInfo(root + "/" + relative)
          else { continue }
          if !dryRun { try remove(root + "/" + relative) }
          report.removedBlobs.append(StoredBlob(digest: digest, size: info.size))
          report.freedBytes += info.size
        }
      }
      let cutoff = Int(time(nil)) - tempFileAge
      for name in FileIO.list(ingestDirectory).sorted() where name != "index.lock" {
        let path = ingestDirectory + "/" + name
        guard let info = FileIO.fileInfo(path), info.mtime <= cutoff else { continue }
        if !dryRun { try remove(path) }
        report.removedTempFiles.append(path)
        report.freedBytes += info.size
      }
      return report
    }
  }

  private func remove(_ path: String) throws(BlobstoreError) {
    guard unlink(path) == 0 || errno == ENOENT else {
      throw .io(path: path, operation: "remove", errno: errno)
    }
  }
}
