import OCI

/// One thing wrong (or worth knowing) about a layout, naming the file and the image it
/// belongs to so the user knows what to re-fetch.
public struct VerifyProblem: Sendable, Hashable, CustomStringConvertible {
  public enum Kind: Sendable, Hashable {
    /// `oci-layout` is absent or is not version 1.0.0.
    case badLayoutFile(String)
    /// `index.json` is absent or does not parse.
    case malformedIndex(String)
    /// A manifest or index blob does not parse (or could not be read).
    case malformedManifest(String)
    /// A descriptor is unusable: unknown digest algorithm, no size, no media type.
    case invalidDescriptor(String)
    /// A referenced blob is not in the layout.
    case missing
    /// The blob's bytes do not hash to the digest that names it.
    case corrupt(actual: Digest)
    /// The blob is shorter than its descriptor says and its content does not match:
    /// an interrupted copy.
    case truncated(declared: Int64, actual: Int64)
    /// The blob is intact (its digest matches) but a descriptor declares another size.
    case sizeMismatch(declared: Int64, actual: Int64)
    /// Present in `blobs/` but referenced by nothing (a warning: GC would delete it).
    case unreferenced(size: Int64)
    /// A file under `blobs/` whose name is not a digest.
    case strayFile
    /// Named by a digest algorithm this build cannot hash (sha512): not checked.
    case unverifiable
  }

  public enum Severity: Sendable, Hashable {
    case error
    case warning
  }

  public var kind: Kind
  /// The file at fault, relative to the layout root (`index.json`, `blobs/sha256/<hex>`),
  /// or the offending digest text for an invalid descriptor.
  public var file: String
  public var digest: Digest?
  /// Where the blob sits in the graph: "layer 2 of docker.io/library/busybox:1.36 (linux/arm64)";
  /// nil for problems that belong to no image (unreferenced blobs, the layout files).
  public var context: String?
  /// The image reference (or file path) of the `index.json` entry the problem belongs to.
  public var image: String?
  public var severity: Severity

  public init(
    kind: Kind, file: String, digest: Digest? = nil, context: String? = nil, image: String? = nil,
    severity: Severity = .error
  ) {
    self.kind = kind
    self.file = file
    self.digest = digest
    self.context = context
    self.image = image
    self.severity = severity
  }

  public var description: String {
    let what: String
    switch kind {
    case .badLayoutFile(let reason): what = "bad oci-layout: \(reason)"
    case .malformedIndex(let reason): what = "index.json is malformed: \(reason)"
    case .malformedManifest(let reason): what = "does not parse: \(reason)"
    case .invalidDescriptor(let reason): what = "invalid descriptor: \(reason)"
    case .missing: what = "missing"
    case .corrupt(let actual): what = "corrupt: content hashes to \(actual)"
    case .truncated(let declared, let actual): what = "truncated: \(actual) of \(declared) bytes"
    case .sizeMismatch(let declared, let actual):
      what = "size mismatch: descriptor says \(declared) bytes, the intact blob has \(actual)"
    case .unreferenced(let size):
      // No command of kk garbage-collects a layout; say what the blob is, not a Swift API.
      what = "unreferenced (\(size) bytes): nothing in index.json uses it; safe to delete"
    case .strayFile: what = "not a blob name (expected blobs/<algorithm>/<hex>)"
    case .unverifiable: what = "not verified: only sha256 content can be hashed"
    }
    let label = severity == .error ? "error" : "warning"
    let subject: String
    if let context {
      subject = "\(context): \(digest?.description ?? file)"
    } else {
      subject = file
    }
    return "\(label): \(subject): \(what)"
  }
}

/// What `kk artifact verify` prints about a layout that was checked.
public struct VerifySummary: Sendable, Hashable {
  /// Blobs present under `blobs/`.
  public var blobCount: Int
  /// Their total size in bytes.
  public var totalBytes: Int64
  /// Ref names of the image entries in `index.json`, in order.
  public var images: [String]
  /// `io.kubekey.path` of the file entries (binaries, ISOs, the manifest YAML), in order.
  public var files: [String]
  /// Every platform found (descriptor platforms and single-arch image configs), sorted.
  public var platforms: [String]
  /// sha256 of the `index.json` bytes: names the whole bundle, since everything else
  /// is reachable from it by digest. Nil when `index.json` is absent.
  public var topDigest: Digest?

  public init(
    blobCount: Int = 0, totalBytes: Int64 = 0, images: [String] = [], files: [String] = [],
    platforms: [String] = [], topDigest: Digest? = nil
  ) {
    self.blobCount = blobCount
    self.totalBytes = totalBytes
    self.images = images
    self.files = files
    self.platforms = platforms
    self.topDigest = topDigest
  }
}

/// The outcome of verifying a layout.
public struct VerifyReport: Sendable {
  public var summary: VerifySummary
  /// Errors and warnings, in walk order, then unreferenced and stray files.
  public var problems: [VerifyProblem]

  public init(summary: VerifySummary, problems: [VerifyProblem]) {
    self.summary = summary
    self.problems = problems
  }

  public var errors: [VerifyProblem] { problems.filter { $0.severity == .error } }
  public var warnings: [VerifyProblem] { problems.filter { $0.severity == .warning } }
  /// True when nothing is missing, corrupt or malformed (warnings allowed).
  public var isValid: Bool { errors.isEmpty }
}
