import Blobstore
import Foundation
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
  /// The artifact's `index.json` is not JSON or not an OCI image index; `reason` completes
  /// "index.json of PATH ...".
  case malformedIndex(path: String, reason: String)
  /// `index.json` or a manifest inside the artifact does not parse.
  case malformed(what: String, reason: String)
  /// A blob the graph needs is not in the archive.
  case missingBlob(Digest, neededBy: String)
  /// A file entry's `io.kubekey.path` would escape the target directory or clash with the
  /// import's own directories.
  case unsafeFilePath(path: String, reason: String)
  /// Something already in the target directory blocks a file entry's path: `blocker` (the
  /// path itself or one of its directories) is `what` ("a symlink to X, not a regular
  /// file"). Not the artifact's fault: the user removes it.
  case pathInTheWay(path: String, blocker: String, what: String)
  /// `DIR/images` exists but is not a real directory (`kind`: "a symlink", "a regular
  /// file"...); placing the layout there could write outside DIR. Checked before any write.
  case imagesNotADirectory(path: String, directory: String, kind: String, linkTarget: String?)
  /// Two file entries name the same KubeKey path with different content.
  case conflictingFilePath(path: String)
  /// A file-system operation in the target directory failed.
  case io(path: String, operation: String, errno: Int32)
  /// The file system holding the target directory has less free space than the artifact's
  /// blobs need (known from the archive's front before anything is written).
  case noSpace(directory: String, needed: Int64, available: Int64)
  /// One archive entry declares more bytes than the target directory has free (a
  /// decompression bomb, or simply a full disk): refused before any of it is written.
  case entryTooLarge(directory: String, entry: String, size: Int64, available: Int64)
  /// Writing an archive entry into the staging store failed (disk full, quota, file-size
  /// limit, I/O error): the artifact is not at fault, the target directory is.
  case writeFailed(directory: String, entry: String, errno: Int32)
  /// The archive is readable but fails the checks `kk artifact verify` makes (SPEC 3.1):
  /// a bad `oci-layout`, a descriptor whose size is off, a manifest that does not parse.
  case failsVerification(path: String, problems: [String])
  /// The blob store under `images/` failed.
  case store(BlobstoreError)
  /// Another import holds the directory's lock (``ImportLock``).
  case busy(directory: String)

  public var description: String {
    switch self {
    case .archive(let error):
      return "\(error)"
    case .corruptBlob(let entry, let detail):
      return
        "\(entry) is corrupt: \(detail); nothing of this import was placed, get an intact copy of the artifact (kk artifact verify -a names every bad blob)"
    case .notAnArtifact(let path, let reason):
      return "\(path) is not a kk artifact: \(reason)"
    case .malformedIndex(let path, let reason):
      return
        "index.json of \(path) \(reason); nothing of this import was placed, get an intact copy of the artifact"
    case .malformed(let what, let reason):
      return "\(what) does not parse: \(reason)"
    case .missingBlob(let digest, let neededBy):
      return
        "blob \(digest) (needed by \(neededBy)) is not in the artifact; the artifact is incomplete, export it again"
    case .unsafeFilePath(let path, let reason):
      return
        "refusing file path '\(path)': \(reason); nothing of this import was placed, the artifact was not made by kk artifact export or was edited: export it again"
    case .pathInTheWay(let path, let blocker, let what):
      return
        "cannot place file '\(path)': \(blocker) is \(what); nothing of this import was placed, remove \(blocker) and import again"
    case .imagesNotADirectory(let path, let directory, let kind, let target?):
      let parent = parentDirectory(of: target)
      let fix =
        (target as NSString).lastPathComponent == "images"
        ? "remove the link or import with --dir \(parent)" : "remove the link and import again"
      return "\(path) is \(kind) to \(target); kk writes only inside \(directory): \(fix)"
    case .imagesNotADirectory(let path, _, let kind, nil):
      return
        "\(path) is \(kind), not a directory; kk keeps the artifact's OCI layout there: move it away and import again"
    case .busy(let directory):
      return "another kk artifact import is writing \(directory); wait for it to finish, or "
        + "import into another --dir"
    case .conflictingFilePath(let path):
      return
        "two files of the artifact claim the path '\(path)' with different content; export the artifact again"
    case .io(let path, let operation, let code):
      return
        "\(operation) \(path) failed: \(String(cString: strerror(code))) (errno \(code)); \(Self.ioHint(code))"
    case .noSpace(let directory, let needed, let available):
      return
        "no space left in \(directory): the artifact's blobs need \(Self.mib(needed)), \(Self.mib(available)) free; free space or choose another --dir (nothing was written)"
    case .entryTooLarge(let directory, let entry, let size, let available):
      return
        "no space left in \(directory) for \(entry): it is \(Self.mib(size)), \(Self.mib(available)) free; free space or choose another --dir; nothing of this import was placed"
    case .writeFailed(let directory, let entry, let code) where code == ENOSPC || code == EDQUOT:
      return
        "no space left in \(directory) while writing \(entry) (\(String(cString: strerror(code)))); free space or choose another --dir; nothing of this import was placed"
    case .writeFailed(let directory, let entry, let code):
      let hint = code == EFBIG ? " (a file-size limit: see ulimit -f)" : ""
      return
        "cannot write \(entry) into \(directory): \(String(cString: strerror(code))) (errno \(code))\(hint); nothing of this import was placed"
    case .failsVerification(let path, let problems):
      let shown = problems.prefix(3).joined(separator: "; ")
      let more = problems.count > 3 ? " (and \(problems.count - 3) more)" : ""
      return
        "\(path) does not verify: \(shown)\(more); nothing of this import was placed, get an intact copy of the artifact (kk artifact verify -a \(path) lists every problem)"
    case .store(let error):
      return "\(error)"
    }
  }

  /// What to do when the file system refuses: the usual causes have one fix each.
  static func ioHint(_ code: Int32) -> String {
    switch code {
    case ENOSPC, EDQUOT: return "free space or choose another --dir"
    case ENOTDIR, EEXIST, EISDIR: return "a file is in the way: move it or choose another --dir"
    case EROFS, EACCES, EPERM: return "choose a writable --dir"
    default: return "check that file system or choose another --dir"
    }
  }

  /// `4.0 MiB`: sizes in messages, one decimal.
  static func mib(_ bytes: Int64) -> String {
    let value = Double(bytes) / 1_048_576
    return value < 0.1 && bytes > 0 ? "\(bytes) bytes" : String(format: "%.1f MiB", value)
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
