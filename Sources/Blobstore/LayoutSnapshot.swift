import Foundation
import OCI

/// What was observed about one blob's bytes: how many there were, what they hash to, and,
/// for small JSON-looking blobs, the bytes themselves (so manifests can be walked).
public struct BlobFacts: Sendable, Hashable {
  /// The number of bytes actually present.
  public var size: Int64
  /// The sha256 of the bytes as read; nil when the blob is named with an algorithm that
  /// cannot be hashed here (sha512), in which case verify reports it as unverifiable.
  public var actualDigest: Digest?
  /// The bytes, kept only when the blob may be a manifest, index or config
  /// (starts with `{`, at most `LayoutSnapshot.contentLimit` bytes).
  public var content: [UInt8]?

  public init(size: Int64, actualDigest: Digest?, content: [UInt8]?) {
    self.size = size
    self.actualDigest = actualDigest
    self.content = content
  }
}

/// Everything the verifier needs to know about an OCI layout, however it was read.
///
/// The point of this value is that verification does not care where the bytes live: a
/// directory on disk (`BlobStore.snapshot()`) and a tar archive read as a stream (hash each
/// entry through a `BlobInspector` while it streams past, then call `record(path:facts:)`)
/// produce the same snapshot, and `LayoutVerifier.verify(_:)` checks the graph either way.
public struct LayoutSnapshot: Sendable {
  /// Only blobs at most this large are kept in memory to be parsed as JSON.
  /// Registries refuse manifests over 4 MiB, so nothing walkable is larger.
  public static let contentLimit = 4 << 20

  /// Where the layout came from, for messages: a directory or an archive path.
  public var source: String
  /// The bytes of `oci-layout`, nil when the file is absent.
  public var ociLayout: [UInt8]?
  /// The bytes of `index.json`, nil when the file is absent.
  public var indexJSON: [UInt8]?
  /// Every blob present under `blobs/<alg>/<hex>`, keyed by the digest its path names.
  public var blobs: [Digest: BlobFacts]
  /// Paths under `blobs/` that do not name a digest (`blobs/md5/x`, `blobs/sha256/XYZ`).
  public var strayFiles: [String]

  public init(
    source: String, ociLayout: [UInt8]? = nil, indexJSON: [UInt8]? = nil,
    blobs: [Digest: BlobFacts] = [:], strayFiles: [String] = []
  ) {
    self.source = source
    self.ociLayout = ociLayout
    self.indexJSON = indexJSON
    self.blobs = blobs
    self.strayFiles = strayFiles
  }

  /// What a path inside a layout (a directory entry or a tar entry name) is.
  public enum Entry: Sendable, Hashable {
    case ociLayout
    case index
    case blob(Digest)
    /// Under `blobs/` but not a valid digest path.
    case strayBlob
    /// Anything else (a README beside the layout); ignored by verify.
    case other
  }

  /// Classifies a path relative to the layout root (`./` prefixes are accepted, as tar
  /// writers often add them).
  public static func classify(path: String) -> Entry {
    var path = Substring(path)
    while path.hasPrefix("./") { path = path.dropFirst(2) }
    if path == "oci-layout" { return .ociLayout }
    if path == "index.json" { return .index }
    guard path.hasPrefix("blobs/") else { return .other }
    let parts = path.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 3, let digest = try? Digest(parsing: "\(parts[1]):\(parts[2])") else {
      return .strayBlob
    }
    return .blob(digest)
  }

  /// Records one file of the layout. Pass the inspector's facts for blobs; for
  /// `oci-layout` and `index.json` the facts' `content` is taken as the file's bytes.
  public mutating func record(path: String, facts: BlobFacts) {
    switch Self.classify(path: path) {
    case .ociLayout: ociLayout = facts.content ?? []
    case .index: indexJSON = facts.content ?? []
    case .blob(let digest): blobs[digest] = facts
    case .strayBlob: strayFiles.append(path)
    case .other: break
    }
  }
}

/// A sink that observes a blob as it streams: counts, hashes with SHA-256 (EVP), and keeps
/// the bytes when they may be JSON, up to `LayoutSnapshot.contentLimit`.
///
/// Feed it every byte of one file (an archive entry, a blob on disk), then `finish()`.
/// Memory stays bounded: non-JSON content is dropped as soon as its first byte is seen.
public final class BlobInspector: ByteSink, @unchecked Sendable {
  private let lock = NSLock()
  private let hasher: SHA256Hasher?
  private let keepLimit: Int
  private var count: Int64 = 0
  private var kept: [UInt8] = []
  private var keeping = true
  private var sawFirstByte = false

  /// - Parameters:
  ///   - hashing: false for blobs named with an algorithm other than sha256.
  ///   - keepAnything: keep the bytes whatever they start with (for `index.json` and
  ///     `oci-layout`, which must be reported on even when they are not JSON).
  public init(hashing: Bool = true, keepAnything: Bool = false) {
    hasher = hashing ? SHA256Hasher() : nil
    // index.json of a large bundle may outgrow a manifest's limit.
    keepLimit = keepAnything ? 4 * LayoutSnapshot.contentLimit : LayoutSnapshot.contentLimit
    sawFirstByte = keepAnything
  }

  public func write(_ bytes: UnsafeRawBufferPointer) {
    lock.lock()
    defer { lock.unlock() }
    hasher?.update(bytes)
    count += Int64(bytes.count)
    guard keeping else { return }
    if !sawFirstByte {
      // Skip leading JSON whitespace; the first real byte decides.
      for byte in bytes where ![0x20, 0x09, 0x0a, 0x0d].contains(byte) {
        sawFirstByte = true
        keeping = byte == UInt8(ascii: "{")
        break
      }
    }
    guard keeping else {
      kept = []
      return
    }
    if kept.count + bytes.count > keepLimit {
      keeping = false
      kept = []
      return
    }
    kept.append(contentsOf: bytes)
  }

  /// The facts about everything written. Call once, after the last byte.
  public func finish() -> BlobFacts {
    lock.lock()
    defer { lock.unlock() }
    return BlobFacts(size: count, actualDigest: hasher?.finalize(), content: keeping ? kept : nil)
  }
}

/// The `oci-layout` file.
enum LayoutFile {
  static func isSupported(_ bytes: [UInt8]) -> Bool {
    struct Layout: Decodable { let imageLayoutVersion: String }
    guard let layout = try? JSONDecoder().decode(Layout.self, from: Data(bytes)) else {
      return false
    }
    return layout.imageLayoutVersion == "1.0.0"
  }
}
