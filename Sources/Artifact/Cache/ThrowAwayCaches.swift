import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The throw-away caches of `--no-cache` exports: `.kk-export-<pid>` beside the output.
///
/// Why: an export removes its own throw-away cache when it ends or is interrupted by a signal
/// it can catch, but `kill -9` (or a crash, a power cut) leaves it behind for ever, up to the
/// size of the artifact each time, and neither a later export nor `kk cache prune` knew of
/// it. The next `--no-cache` export into the same directory removes those whose process is
/// gone. The name carries the owner's pid: a directory is removed only when `kill(pid, 0)`
/// says no such process (ESRCH), and only when no process holds the cache lock of its marker
/// (`CacheLock`; this catches an export of another pid namespace sharing the directory).
extension ExportCache {
  /// The name's prefix; the rest is the owner's pid in decimal.
  public static let throwAwayPrefix = ".kk-export-"

  /// The throw-away cache of process `pid` for an export into `directory`.
  public static func throwAwayDirectory(in directory: String, pid: Int32 = getpid()) -> String {
    directory + "/" + throwAwayPrefix + "\(pid)"
  }

  /// What `removeStaleThrowAwayCaches` removed: the names (sorted) and the bytes they held.
  public struct StaleRemoval: Sendable, Hashable {
    public var names: [String] = []
    public var bytes: Int64 = 0
  }

  /// Removes the `.kk-export-<pid>` directories in `directory` whose process is gone.
  ///
  /// Kept: this process's own, a live pid's (also one that is not ours to signal: EPERM),
  /// one whose marker is locked by some process, anything that is not a real directory (a
  /// symlink is never followed) and any name other than the prefix followed by a pid written
  /// as `kill` would take it (`.kk-export-0123`, `.kk-export-12.old` are left alone).
  public static func removeStaleThrowAwayCaches(
    in directory: String, isGone: (Int32) -> Bool = processIsGone
  ) -> StaleRemoval {
    var removal = StaleRemoval()
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    for name in names.sorted() where name.hasPrefix(throwAwayPrefix) {
      let digits = name.dropFirst(throwAwayPrefix.count)
      guard let pid = Int32(digits), pid > 1, "\(pid)" == digits, pid != getpid(), isGone(pid)
      else { continue }
      let path = directory + "/" + name
      var info = stat()
      guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { continue }
      // Held while removing, so an export that somehow still uses it keeps it.
      let marker = Glibc.open(path + "/" + markerName, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
      defer { if marker >= 0 { close(marker) } }
      if marker >= 0 && flock(marker, LOCK_EX | LOCK_NB) != 0 { continue }
      let bytes = Self.bytes(under: path)
      try? FileManager.default.removeItem(atPath: path)
      if lstat(path, &info) != 0 {
        removal.names.append(name)
        removal.bytes += bytes
      }
    }
    return removal
  }

  /// The bytes of the regular files under `path`; links are not followed.
  private static func bytes(under path: String) -> Int64 {
    var total: Int64 = 0
    for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
      let child = path + "/" + name
      var info = stat()
      guard lstat(child, &info) == 0 else { continue }
      switch info.st_mode & S_IFMT {
      case S_IFREG: total += Int64(info.st_size)
      case S_IFDIR: total += bytes(under: child)
      default: break
      }
    }
    return total
  }
}
