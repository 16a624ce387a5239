import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The cache-wide lock between exports and `kk cache prune`: `flock(2)` on the marker file
/// `kk-cache.json`.
///
/// Why: `prune` deleted what a running export sharing the cache needed (its locked `.resume`
/// downloads, blobs it was about to pack), and the export then failed. Now every export holds
/// a shared lock for its whole run (exports share a cache freely), and `prune` takes an
/// exclusive one without waiting, refusing while any export holds its shared one. The marker
/// is the lock file because every cache has it once an export opened it, `prune` requires it,
/// and nothing replaces it once written; it is opened read-only, so it is never truncated.
/// The lock dies with its process (even on `kill -9`), so a crashed export never blocks a
/// prune. `kk cache info` takes no lock.
public final class CacheLock: Sendable {
  private let fd: Int32

  private init(fd: Int32) { self.fd = fd }

  deinit { close(fd) }

  /// For an export: a shared lock on the marker of `directory`, waiting while a prune holds
  /// the exclusive one (a prune is short). Call after `ExportCache.open`, which writes the
  /// marker.
  public static func shared(_ directory: String) throws(ExportError) -> CacheLock {
    try lock(directory, LOCK_SH, remedy: ExportCache.exportRemedy)
  }

  /// For `kk cache prune`: the exclusive lock on the marker of `directory`, or an error when
  /// an export holds its shared one (nothing may be removed then).
  public static func exclusive(_ directory: String, remedy: String) throws(ExportError)
    -> CacheLock
  {
    try lock(directory, LOCK_EX | LOCK_NB, remedy: remedy)
  }

  /// `flock(operation)` on the marker, retried on EINTR; a non-blocking exclusive lock an
  /// export holds is the prune's refusal.
  private static func lock(_ directory: String, _ operation: Int32, remedy: String)
    throws(ExportError) -> CacheLock
  {
    let fd = try openMarker(directory, remedy: remedy)
    while flock(fd, operation) != 0 {
      let code = errno
      if code == EINTR { continue }
      close(fd)
      if code == EWOULDBLOCK {
        throw .invalidInput(
          "an export is using \(directory) (it holds the cache lock); "
            + "run prune when it has finished")
      }
      throw .store(
        "cannot lock the cache \(directory)/\(ExportCache.markerName): "
          + "\(String(cString: strerror(code))) (errno \(code)); \(remedy)")
    }
    return CacheLock(fd: fd)
  }

  private static func openMarker(_ directory: String, remedy: String) throws(ExportError)
    -> Int32
  {
    let path = directory + "/" + ExportCache.markerName
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      let code = errno
      throw .store(
        "cannot open \(path) to lock the cache: \(String(cString: strerror(code))) "
          + "(errno \(code)); \(remedy)")
    }
    return fd
  }
}
