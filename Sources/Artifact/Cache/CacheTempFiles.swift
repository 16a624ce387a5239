import Blobstore
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The temp files of a cache: what downloads leave under `.ingest/` while they run.
///
/// Why here: an export interrupted by Ctrl-C left `<hex>.<pid>.<n>.members` (the gzip
/// members of a binary being downloaded) and `.partial` files that no later run reuses, and
/// `kk cache info` did not count them. The names carry the writer's pid, so an interrupted
/// export removes exactly its own, never those of another export sharing the cache; `.resume`
/// files (a layer download to continue with `Range`) are kept on purpose.
extension ExportCache {
  /// Kinds of temp file a process names `<x>.<pid>.<y>.<kind>`.
  static let perProcessKinds: Set<Substring> = ["partial", "members", "download"]

  /// Temp files under `.ingest/` and record temp files under `kk-compressed/`: count and
  /// bytes. Lock files are not counted (they are empty and stay).
  public static func temporaryFiles(in directory: String) -> (count: Int, bytes: Int64) {
    var count = 0
    var bytes: Int64 = 0
    for path in candidates(in: directory) {
      var info = stat()
      guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
      count += 1
      bytes += Int64(info.st_size)
    }
    return (count, bytes)
  }

  /// Removes the temp files process `pid` wrote under `directory` (an interrupted export's),
  /// keeping `.resume` downloads. Returns how many were removed.
  @discardableResult
  public static func removeTemporaryFiles(of pid: Int32, in directory: String) -> Int {
    var removed = 0
    for path in candidates(in: directory) {
      let parts = (path as NSString).lastPathComponent.split(
        separator: ".", omittingEmptySubsequences: false)
      let ours: Bool
      if let kind = parts.last, perProcessKinds.contains(kind) {
        ours = parts.count >= 4 && parts[1] == "\(pid)"
      } else {
        // `kk-compressed/<raw hex>.<key>.json.<pid>.tmp`.
        ours = parts.count >= 3 && parts.last == "tmp" && parts[parts.count - 2] == "\(pid)"
      }
      if ours, unlink(path) == 0 { removed += 1 }
    }
    return removed
  }

  private static func candidates(in directory: String) -> [String] {
    let ingest = directory + "/.ingest"
    let records = directory + "/" + CompressedForms.directoryName
    let files = FileManager.default
    let temp = ((try? files.contentsOfDirectory(atPath: ingest)) ?? [])
      .filter { !$0.hasSuffix(".lock") }.map { ingest + "/" + $0 }
    let recordTemp = ((try? files.contentsOfDirectory(atPath: records)) ?? [])
      .filter { $0.hasSuffix(".tmp") }.map { records + "/" + $0 }
    return temp + recordTemp
  }
}
