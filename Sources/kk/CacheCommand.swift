import ArgumentParser
import Artifact
import Foundation

/// `kk cache ...`: the export download cache.
struct CacheCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "cache",
    abstract: "Show or prune the export blob cache.",
    subcommands: [CacheInfoCommand.self, CachePruneCommand.self])
}

struct CacheOptions: ParsableArguments {
  @Option(help: "The blob cache (default $XDG_CACHE_HOME/kk or ~/.cache/kk).")
  var cacheDir: String?

  var directory: String { cacheDir ?? ExportCache.defaultDirectory() }

  /// What `kk cache` suggests when DIR is not a cache (there is no --no-cache here).
  static let remedy =
    "pass --cache-dir with the directory an export used (default $XDG_CACHE_HOME/kk or ~/.cache/kk)"

  /// What DIR is, looked at read-only; a file in its place is an error.
  func recognize() throws(ExportError) -> ExportCache.Recognition {
    try ExportCache.recognize(directory, remedy: Self.remedy)
  }
}

/// `kk cache info`: where the cache is and what it holds.
struct CacheInfoCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "info", abstract: "Print the cache directory, blob count and size.")

  @OptionGroup var cache: CacheOptions

  func run() async throws {
    try await reportingFailures {
      // Read-only: info never creates or marks anything (QA F9: it used to make a cache).
      let directory = cache.directory
      let kind = try cache.recognize()
      if kind == .missing {
        print("no cache at \(directory)")
        return
      }
      let blobs = directory + "/blobs/sha256"
      var count = 0
      var bytes: Int64 = 0
      for name in (try? FileManager.default.contentsOfDirectory(atPath: blobs)) ?? [] {
        let size =
          (try? FileManager.default.attributesOfItem(atPath: blobs + "/" + name))?[
            .size] as? Int64
        count += 1
        bytes += size ?? 0
      }
      // Temp files too: an interrupted download's take space that `prune` gives back.
      let temp = ExportCache.temporaryFiles(in: directory)
      print(
        "cache  \(directory)\nblobs  \(count) (\(Output.bytes(bytes)))\n"
          + "temp   \(temp.count) files (\(Output.bytes(temp.bytes)))")
      if case .notACache(let reason) = kind {
        print("note   not a kk cache (\(reason)); kk cache prune refuses it")
      }
    }
  }
}

/// `kk cache prune [--older-than DAYS]`.
struct CachePruneCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "prune",
    abstract: "Remove cached blobs: all of them, or those unused for DAYS days.",
    discussion: """
      Every export marks the blobs it packs as used. Without --older-than the whole cache is \
      emptied. Only a directory an export made (it holds kk-cache.json) is pruned; any other \
      directory is refused, and so is a cache a running export holds (its lock).
      """)

  @OptionGroup var cache: CacheOptions

  @Option(help: "Only remove blobs no export has used for this many days.")
  var olderThan: Int?

  func validate() throws {
    if let olderThan, olderThan < 0 { throw ValidationError("--older-than must be >= 0") }
  }

  func run() async throws {
    try await reportingFailures {
      // Never creates a cache, and refuses any directory that is not one (QA F9).
      guard
        let store = try ExportCache.openExisting(
          at: cache.directory, remedy: CacheOptions.remedy)
      else {
        print("no cache at \(cache.directory); nothing to prune")
        return
      }
      // Exclusive, not waiting: a running export holds the shared lock and needs its blobs
      // and `.resume` downloads.
      let lock = try CacheLock.exclusive(cache.directory, remedy: CacheOptions.remedy)
      let report = try withExtendedLifetime(lock) { () throws(ExportError) in
        try store.prune(olderThanDays: olderThan)
      }
      print(
        "removed \(report.removedBlobs) blobs and \(report.removedTempFiles) temp files, "
          + "freed \(Output.bytes(report.freedBytes))")
    }
  }
}
