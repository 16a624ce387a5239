import Foundation
import OCI

/// How `ArtifactExporter` runs.
public struct ExportOptions: Sendable {
  /// Blob downloads (and image resolutions) at once.
  public var parallel: Int
  /// Go on, with a warning, when an image lacks a requested platform.
  public var skipMissingPlatforms: Bool
  /// Replace an existing output file.
  public var force: Bool
  /// Check every blob against its digest, and the layout's graph, while packing (before the
  /// artifact gets its final name); `--skip-verify` turns it off.
  public var verify: Bool
  /// Connection attempts per registry call before giving up.
  public var retryAttempts: Int
  /// Where `~/.docker/config.json` and friends are looked up.
  public var environment: [String: String]

  /// Keep the gzip members of raw files in the cache and copy them on later exports. Off for
  /// a throw-away cache (`--no-cache`): writing them there would only cost a write and a hash.
  public var reuseCompressed: Bool

  public init(
    parallel: Int = 8, skipMissingPlatforms: Bool = false, force: Bool = false,
    verify: Bool = true, retryAttempts: Int = 3,
    environment: [String: String] = ProcessInfo.processInfo.environment,
    reuseCompressed: Bool = true
  ) {
    self.reuseCompressed = reuseCompressed
    self.parallel = max(1, parallel)
    self.skipMissingPlatforms = skipMissingPlatforms
    self.force = force
    self.verify = verify
    self.retryAttempts = max(1, retryAttempts)
    self.environment = environment
  }
}

/// The phases an export goes through, in order, for progress display.
public enum ExportPhase: String, Sendable, Codable {
  case resolve
  case download
  /// Binaries and ISOs of the catalog plan.
  case files
  /// Writing the archive; verification runs inside it.
  case pack
}

/// What the exporter reports while it runs. The command renders these as a TTY progress line
/// or plain log lines; the library never prints.
public enum ExportEvent: Sendable {
  /// A phase starts; `total` is its item count (images) or byte count (download, pack).
  case phaseStarted(ExportPhase, total: Int64)
  /// Progress inside a phase: items or bytes done so far.
  case progress(ExportPhase, done: Int64)
  case phaseFinished(ExportPhase)
  /// Something the user should know that does not stop the export.
  case warning(String)
}

/// One exported image, as the summary lists it.
public struct ExportedImage: Sendable, Hashable, Codable {
  /// Full normalised reference (`ref.name`).
  public var reference: String
  /// The top descriptor's digest in the artifact.
  public var digest: String
  /// Set when platforms were filtered: the registry's own index digest.
  public var upstreamDigest: String?
  /// Platforms kept (`linux/amd64`, ...), attestations excluded.
  public var platforms: [String]
  /// Bytes of every blob of this image (manifests included), counted once per image.
  public var bytes: Int64
}

/// The `--json` summary of an export.
public struct ExportSummary: Sendable, Hashable, Codable {
  public var output: String
  public var images: [ExportedImage]
  /// Every platform kept, over all images.
  public var platforms: [String]
  /// Bytes of all unique blobs in the artifact.
  public var uniqueBytes: Int64
  /// Sum of per-image bytes minus unique bytes: what storing each blob once saved.
  public var bytesSavedByDedup: Int64
  /// Blob bytes fetched from registries in this run (0 on a warm cache).
  public var downloadedBytes: Int64
  /// Blobs that were already in the cache.
  public var cachedBlobs: Int
  /// Blobs fetched in this run.
  public var downloadedBlobs: Int
  /// Component files and ISOs in the artifact (their bytes are in `uniqueBytes`; the
  /// download counters above are for image blobs).
  public var files: Int
  /// Bytes of those files.
  public var fileBytes: Int64
  public var outputSize: Int64
  /// sha256 of the artifact file.
  public var sha256: String
  /// Images whose index was rewritten because platforms were filtered.
  public var filteredImages: [String]
  /// Images (or image platforms) left out with `--skip-missing-platforms`.
  public var warnings: [String]
  /// Whether the artifact was verified after writing.
  public var verified: Bool
  /// Wall-clock seconds per phase.
  public var seconds: [String: Double]
}
