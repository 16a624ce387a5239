import OCI

/// Every failure the Blobstore module throws. Each message names the file or blob at fault
/// and, where there is one, what the user can do about it.
public enum BlobstoreError: Error, Sendable, CustomStringConvertible {
  /// The directory is not an OCI image layout (no or unreadable `oci-layout`).
  case notALayout(path: String, reason: String)
  /// A system call failed on a file of the layout.
  case io(path: String, operation: String, errno: Int32)
  /// Bytes were ingested whose digest or size differ from what the caller expected.
  /// Nothing was stored: the temporary file has already been removed.
  case digestMismatch(expected: Digest, actual: Digest, expectedSize: Int64, actualSize: Int64)
  /// More bytes arrived than the expected size; the ingest was aborted before filling the disk.
  case sizeExceeded(expected: Digest, expectedSize: Int64)
  /// Only sha256 content can be hashed and therefore stored or verified.
  case unsupportedAlgorithm(Digest)
  /// The blob is not in the layout.
  case blobNotFound(Digest, root: String)
  /// A file or directory of the layout is a symbolic link, which kk does not follow.
  case symbolicLink(path: String)
  /// A writer was used after `commit()` or `cancel()`.
  case writerClosed(Digest)
  /// `index.json` (or a blob that should be JSON) does not parse.
  case malformedJSON(path: String, reason: String)
  /// A blob is too large to be read into memory as JSON.
  case tooLarge(Digest, size: Int64, limit: Int64)
  /// Garbage collection refused to run because the graph could not be fully read;
  /// deleting "unreachable" blobs then could delete blobs that are in use.
  case unsafeToCollect(problems: [String])

  public var description: String {
    switch self {
    case .notALayout(let path, let reason):
      return
        "\(path) is not an OCI image layout: \(reason); give a directory holding oci-layout, index.json and blobs/sha256 (or an archive of one)"
    case .symbolicLink(let path):
      return "\(path) is a symbolic link; kk does not follow links inside a layout (they "
        + "could point anywhere): replace it with the file it points to"
    case .io(let path, let operation, let errno):
      return "\(operation) \(path) failed: \(Self.errnoText(errno)) (errno \(errno))"
    case .digestMismatch(let expected, let actual, let expectedSize, let actualSize):
      return
        "content does not match: expected \(expected) (\(expectedSize) bytes), got \(actual) (\(actualSize) bytes); nothing was stored, fetch the blob again"
    case .sizeExceeded(let expected, let expectedSize):
      return
        "blob \(expected) is longer than its descriptor's \(expectedSize) bytes; the source sends different content, nothing was stored"
    case .unsupportedAlgorithm(let digest):
      return "cannot hash \(digest): only sha256 content is supported"
    case .blobNotFound(let digest, let root):
      return "blob \(digest) is not in \(root)"
    case .writerClosed(let digest):
      return "ingest of \(digest) was already committed or cancelled"
    case .malformedJSON(let path, let reason):
      return "\(path) is not valid JSON: \(reason)"
    case .tooLarge(let digest, let size, let limit):
      return
        "blob \(digest) is \(size) bytes, more than the \(limit) bytes allowed for JSON content"
    case .unsafeToCollect(let problems):
      return "refusing to garbage-collect, the graph is incomplete: "
        + problems.prefix(5).joined(separator: "; ")
        + " (run verify and repair the layout first)"
    }
  }

  private static func errnoText(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "unknown error" }
    return String(cString: text)
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif
