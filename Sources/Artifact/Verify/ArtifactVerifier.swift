import Blobstore
import Foundation
import OCI

/// `kk artifact verify`: checks an artifact, whether it is an OCI layout directory or an
/// archive of one (tar, tar.gz or tar.zst, recognised by magic bytes).
///
/// An archive is verified in ONE pass with nothing unpacked to disk: entries are hashed on
/// two worker threads while they stream past, or read by offset when the archive can be
/// mapped (`ArchiveScanner`), small JSON blobs
/// are kept for the graph walk, and the facts are checked by the same `LayoutVerifier` that
/// checks a directory, so both give the same report for the same layout. Any entry order is
/// accepted (SPEC order, or `tar czf` of a skopeo layout).
public enum ArtifactVerifier {
  /// Verifies `path`. Blocking work runs on its own threads, off the Swift concurrency pool.
  ///
  /// - Throws: `ArchiveError` when the archive itself is unreadable or unsafe (truncated,
  ///   links, `..`), `BlobstoreError` when a directory is not an OCI layout. Problems with
  ///   the content (missing, corrupt, unreferenced blobs, a bad index) are in the report.
  public static func verify(path: String) async throws -> VerifyReport {
    try await withCheckedThrowingContinuation { continuation in
      let thread = Thread { continuation.resume(with: Result { try verifyBlocking(path: path) }) }
      thread.name = "kk-verify"
      thread.start()
    }
  }

  /// `verify(path:)` on the calling thread.
  public static func verifyBlocking(path: String) throws -> VerifyReport {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory),
      isDirectory.boolValue
    {
      return try BlobStore.open(at: path).verify(threads: 2)
    }
    return LayoutVerifier.verify(try snapshot(archive: path))
  }

  /// Reads an archive once into the facts `LayoutVerifier` checks: the bytes of `oci-layout`
  /// and `index.json`, and every blob's size, sha256 and (for small JSON) content.
  /// With `hashing: false` (inspect) blobs are only counted, and their digests are not checked.
  public static func snapshot(archive path: String, workers: Int = 2, hashing: Bool = true)
    throws(ArchiveError)
    -> LayoutSnapshot
  {
    var strays: [String] = []
    var nested: String?
    // Without hashing (inspect) a blob too large to be a manifest is only counted: unread.
    var unread: [(String, BlobFacts)] = []
    let result = try ArchiveScanner.scan(path: path, workers: workers) {
      name, size -> BlobInspector? in
      switch LayoutSnapshot.classify(path: name) {
      case .ociLayout, .index: return BlobInspector(hashing: false, keepAnything: true)
      case .blob where !hashing && size > Int64(LayoutSnapshot.contentLimit):
        unread.append((name, BlobFacts(size: size, actualDigest: nil, content: nil)))
        return nil
      case .blob(let digest): return BlobInspector(hashing: hashing && digest.algorithm == .sha256)
      case .strayBlob:
        strays.append(name)
        return nil
      case .other:
        nested = nested ?? EntryName.nestedLayoutDirectory(name)
        return nil
      }
    }
    if let nested, !result.entries.contains(where: { $0.name == "index.json" }) {
      throw EntryName.misplacedLayout(path: path, directory: nested)
    }
    var snapshot = LayoutSnapshot(source: path, strayFiles: strays)
    for entry in result.entries {
      snapshot.record(path: entry.name, facts: entry.sink.finish())
    }
    for (name, facts) in unread { snapshot.record(path: name, facts: facts) }
    return snapshot
  }
}
