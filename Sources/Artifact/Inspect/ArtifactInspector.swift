import Blobstore
import Foundation
import OCI

/// Reads what `ArtifactInspection` needs from a layout directory or an archive of one.
public enum ArtifactInspector {
  /// Inspects `path`, a directory or a tar / tar.gz / tar.zst (recognised by magic bytes).
  /// Blocking reads run on their own thread, off the Swift concurrency pool.
  public static func inspect(path: String) async throws -> ArtifactInspection {
    try await withCheckedThrowingContinuation { continuation in
      let thread = Thread { continuation.resume(with: Result { try inspectBlocking(path: path) }) }
      thread.name = "kk-inspect"
      thread.start()
    }
  }

  public static func inspectBlocking(path: String) throws -> ArtifactInspection {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw ArtifactInspectError.notALayout(source: path, reason: "no such file or directory")
    }
    if isDirectory.boolValue {
      let store = try BlobStore.open(at: path)
      guard let index = FileManager.default.contents(atPath: path + "/index.json") else {
        throw ArtifactInspectError.notALayout(source: path, reason: "index.json is missing")
      }
      return try ArtifactInspection(source: path, indexJSON: Array(index)) { digest in
        // Only indexes, manifests and configs are asked for; cap what a bad layout can
        // make us read.
        guard let size = store.size(of: digest), size <= Int64(LayoutSnapshot.contentLimit) else {
          return nil
        }
        return FileManager.default.contents(atPath: store.path(for: digest)).map(Array.init)
      }
    }
    // One streaming pass that keeps only the JSON-looking blobs; nothing is hashed.
    let snapshot = try ArtifactVerifier.snapshot(archive: path, hashing: false)
    guard let index = snapshot.indexJSON else {
      throw ArtifactInspectError.notALayout(source: path, reason: "the archive has no index.json")
    }
    return try ArtifactInspection(source: path, indexJSON: index) { snapshot.blobs[$0]?.content }
  }
}
