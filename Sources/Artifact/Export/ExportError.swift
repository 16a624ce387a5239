import Blobstore
import Foundation
import OCI

/// Why an export (or its pack step) stopped. Every case names the image, blob or path at fault
/// and what to do, because the user reads it as the one line `kk` prints before exiting 1.
public enum ExportError: Error, Sendable, CustomStringConvertible {
  /// The output already exists and `--force` was not given.
  case outputExists(path: String)
  /// Not enough free space where bytes are about to be written.
  case diskSpace(path: String, needed: Int64, available: Int64, what: String)
  /// An image has no manifest for a requested platform.
  case missingPlatform(image: String, platform: String, available: [String])
  /// A registry call failed for an image.
  case registry(image: String, detail: String)
  /// The content store failed.
  case store(String)
  /// Writing the archive failed.
  case archive(String)
  /// A manifest or index in the store could not be read while planning the archive.
  case badContent(digest: Digest, detail: String)
  /// The artifact's content did not verify while it was packed (nothing was left under
  /// `path`); `cache` is the store the bad blobs came from, `corrupt` the blobs whose bytes
  /// did not hash to their digest (the export removes them and fetches them again once).
  case verification(path: String, errors: [String], cache: String, corrupt: [Digest])
  /// The export was given something it cannot use.
  case invalidInput(String)

  public var description: String {
    switch self {
    case .outputExists(let path):
      return "\(path) already exists; pass --force to replace it or choose another -o"
    case .diskSpace(let path, let needed, let available, let what):
      return "not enough free space for \(what) in \(path): need \(Self.mib(needed)), "
        + "\(Self.mib(available)) available; free some space or point -o/--cache-dir elsewhere"
    case .missingPlatform(let image, let platform, let available):
      let have = available.isEmpty ? "none" : available.joined(separator: ", ")
      return "\(image) has no manifest for \(platform) (it has: \(have)); remove the arch from "
        + "spec.arches, drop the image, or pass --skip-missing-platforms"
    case .registry(let image, let detail):
      return "\(image): \(detail)"
    case .store(let detail):
      return detail
    case .archive(let detail):
      return detail
    case .badContent(let digest, let detail):
      return "blob \(digest) in the cache cannot be read as a manifest (\(detail)); run "
        + "`kk cache prune` and export again"
    case .verification(let path, let errors, let cache, _):
      let more = errors.count > 5 ? "; and \(errors.count - 5) more" : ""
      return "the artifact \(path) was not written: its content did not verify: "
        + errors.prefix(5).joined(separator: "; ") + more
        + "; delete the named blobs from \(cache)/blobs (or run `kk cache prune`) and export again"
    case .invalidInput(let detail):
      return detail
    }
  }

  static func mib(_ bytes: Int64) -> String {
    String(format: "%.1f MiB", Double(bytes) / 1_048_576)
  }
}
