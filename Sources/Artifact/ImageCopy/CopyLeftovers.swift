import Blobstore
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What a copy that did not finish leaves on disk, and how the next one finds it.
///
/// Why: a copy killed mid-download (SIGKILL, or a signal before it could clean up) left its
/// `.ingest/<hex>.<pid>.<n>.partial` files in the destination layout and, registry to
/// registry, a whole staging layout in the temp directory; nothing removed them, so every
/// interrupted run added its downloaded bytes for good. Both carry the writer's pid in their
/// names: an interrupted copy removes its own, and a later copy removes those whose process
/// is gone. A live process's files are never touched.
public enum CopyLeftovers {
  /// Whether process `pid` is gone: `kill(pid, 0)` fails with ESRCH. A process we may not
  /// signal (EPERM) exists; a pid that cannot name one process is never "gone".
  public static func processIsGone(_ pid: Int32) -> Bool {
    guard pid > 0 else { return false }
    return kill(pid, 0) != 0 && errno == ESRCH
  }

  /// Removes the partial files in `store` left by processes that are gone; returns their
  /// paths. Run before a copy writes into the layout.
  @discardableResult
  public static func removeAbandonedPartials(in store: BlobStore) -> [String] {
    store.removePartialFiles(writtenBy: processIsGone)
  }
}
