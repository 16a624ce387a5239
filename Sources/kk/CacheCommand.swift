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

  /// The cache directory, or nil when nothing is there; a file in its place is an error.
  func existingDirectory() throws(ExportError) -> String? {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
      return nil
    }
    guard isDirectory.boolValue else {
      throw .invalidInput("the cache \(directory) is a file, not a directory; \(Self.remedy)")
    }
    return directory
  }
}

/// `kk cache info`: where the cache is and what it holds.
struct CacheInfoCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "info", abstract: "Print the cache directory, blob count and size.")

  @OptionGroup var cache: CacheOptions

  func run() async throws {
    try await reportingFailures {
      let directory = cache.directory
      _ = try cache.existingDirectory()
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
      print("cache  \(directory)\nblobs  \(count) (\(Output.bytes(bytes)))")
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
      emptied. Do not prune while an export using the same cache is running.
      """)

  @OptionGroup var cache: CacheOptions

  @Option(help: "Only remove blobs no export has used for this many days.")
  var olderThan: Int?

  func validate() throws {
    if let olderThan, olderThan < 0 { throw ValidationError("--older-than must be >= 0") }
  }

  func run() async throws {
    try await reportingFailures {
      guard let directory = try cache.existingDirectory() else {
        print("cache \(cache.directory) does not exist; nothing to prune")
        return
      }
      let report = try ExportCache.open(at: directory, remedy: CacheOptions.remedy).prune(
        olderThanDays: olderThan)
      print(
        "removed \(report.removedBlobs) blobs and \(report.removedTempFiles) temp files, "
          + "freed \(Output.bytes(report.freedBytes))")
    }
  }
}
