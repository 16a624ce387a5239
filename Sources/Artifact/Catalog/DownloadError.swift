import Blobstore
import OCI

/// Why a planned file could not be fetched; each case names the URL (or file) and what to do.
public enum DownloadError: Error, Sendable, CustomStringConvertible {
  /// The server answered with a status other than 200/206 or a redirect.
  case http(url: String, status: Int)
  /// The connection kept failing after every retry.
  case transport(url: String, attempts: Int, message: String)
  /// The bytes did not hash to the expected digest, twice in a row: nothing was stored.
  /// `field`: the manifest field that pins the file's sha256, when it has one.
  case checksumMismatch(
    url: String, path: String, expected: Digest, actual: Digest, expectedSize: Int64,
    actualSize: Int64, field: String? = nil)
  /// The upstream `.sha256` file was not a sha256 hex digest.
  case badChecksumFile(url: String, reason: String)
  /// More than the allowed number of redirects, or one without a usable `Location`.
  case badRedirect(url: String, reason: String)
  /// A 206 response whose `Content-Range` does not continue where the file stopped.
  case badRange(url: String, reason: String)
  /// The archive has no such member (helm: `linux-amd64/helm`) or could not be read.
  case archive(url: String, member: String, reason: String)
  /// A local file (an ISO's `localPath`) does not hash to the checksum the manifest gives:
  /// fetching again cannot help; the file or the checksum is wrong.
  case localChecksumMismatch(
    file: String, path: String, expected: Digest, actual: Digest, size: Int64, field: String)
  /// The local blob store failed (disk full, permissions).
  case store(path: String, BlobstoreError)

  public var description: String {
    switch self {
    case .http(let url, let status):
      let hint =
        status == 404
        ? "check the version in the manifest, or that the mirror holds this file"
        : "the server refused the download"
      return "GET \(url) answered HTTP \(status): \(hint)"
    case .transport(let url, let attempts, let message):
      return "GET \(url) failed after \(attempts) attempts: \(message)"
    case .checksumMismatch(
      let url, let path, let expected, let actual, let size, let got, let field):
      // `size` is what the server announced (Content-Length), not a known size of the
      // expected file: printed beside the expected digest it read as a second expectation.
      let announced = size == got ? "" : " (the server announced \(size))"
      let pin =
        field.map { "set \($0): \(actual.encoded) in the manifest" }
        ?? "pin its sha256 in the manifest"
      return "\(path) from \(url) has sha256 \(actual.encoded) (\(got) bytes\(announced)), "
        + "expected \(expected.encoded), on two downloads; nothing was stored. "
        + "If the upstream file legitimately changed, \(pin)"
    case .badChecksumFile(let url, let reason):
      return "checksum file \(url) is unusable: \(reason)"
    case .badRedirect(let url, let reason):
      return "GET \(url): \(reason)"
    case .badRange(let url, let reason):
      return "GET \(url): bad resume response: \(reason)"
    case .archive(let url, let member, let reason):
      return "cannot extract \(member) from \(url): \(reason)"
    case .localChecksumMismatch(let file, let path, let expected, let actual, let size, let field):
      return "\(file) (for \(path)) has sha256 \(actual.encoded) (\(size) bytes), but \(field) "
        + "says \(expected.encoded); nothing was stored. Point localPath at the right file or "
        + "correct \(field)"
    case .store(let path, let error):
      return "storing \(path): \(error)"
    }
  }
}
