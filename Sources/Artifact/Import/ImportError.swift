import Blobstore
import OCI

/// Why `kk artifact import` stopped. Every case names the archive entry, blob or path at
/// fault; the import never leaves a half-written file at a KubeKey path (files are renamed
/// into place only after their blob verified).
public enum ImportError: Error, Sendable, CustomStringConvertible {
  /// The archive could not be read or holds an unsafe entry (`..`, absolute, link, device,
  /// duplicate): nothing from it was placed.
  case archive(ArchiveError)
  /// A blob's bytes do not hash to the digest in its name, or its size is off.
  case corruptBlob(entry: String, detail: String)
  /// The archive has no `index.json` (or `oci-layout`), so it is not a kk artifact.
  case notAnArtifact(path: String, reason: String)
  /// `index.json` or a manifest inside the artifact does not parse.
  case malformed(what: String, reason: String)
  /// A blob the graph needs is not in the archive.
  case missingBlob(Digest, neededBy: String)
  /// A file entry's `io.kubekey.path` would escape the target directory or clash with the
  /// import's own directories.
  case unsafeFilePath(path: String, reason: String)
  /// Two file entries name the same KubeKey path with different content.
  case conflictingFilePath(path: String)
  /// A file-system operation in the target directory failed.
  case io(path: String, operation: String, errno: Int32)
  /// The blob store under `images/` failed.
  case store(BlobstoreError)

  public var description: String {
    switch self {
    case .archive(let error):
      return "\(error)"
    case .corruptBlob(let entry, let detail):
      return
        "\(entry) is corrupt: \(detail); nothing of this import was placed, get an intact copy of the artifact (kk artifact verify -a names every bad blob)"
    case .notAnArtifact(let path, let reason):
      return "\(path) is not a kk artifact: \(reason)"
    case .malformed(let what, let reason):
      return "\(what) does not parse: \(reason)"
    case .missingBlob(let digest, let neededBy):
      return
        "blob \(digest) (needed by \(neededBy)) is not in the artifact; the artifact is incomplete, export it again"
    case .unsafeFilePath(let path, let reason):
      return "refusing file path '\(path)': \(reason)"
    case .conflictingFilePath(let path):
      return "two files of the artifact claim the path '\(path)' with different content"
    case .io(let path, let operation, let code):
      return "\(operation) \(path) failed: \(String(cString: strerror(code))) (errno \(code))"
    case .store(let error):
      return "\(error)"
    }
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
