import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// An exclusive lock on an import's target directory, held for the whole import.
///
/// Why: two imports into one `--dir` shared its staging store and removed each other's
/// blobs (both failed), or one read the stamp before the other replaced the images and said
/// "already imported" over a directory holding the other artifact. `flock(2)` on the
/// directory itself leaves no file behind and is released when the process dies, even by
/// SIGKILL, so a crashed import never blocks the next one.
final class ImportLock {
  private let fd: Int32

  /// Locks `directory` (which must exist), or fails at once when another import holds it.
  init(_ directory: String) throws(ImportError) {
    fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { throw .io(path: directory, operation: "open", errno: errno) }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      let code = errno
      close(fd)
      if code == EWOULDBLOCK { throw .busy(directory: directory) }
      throw .io(path: directory, operation: "lock", errno: code)
    }
  }

  deinit { close(fd) }
}
