/// Every failure reading or writing an artifact archive.
///
/// Each case names the archive and, where there is one, the entry at fault, because the user
/// has to decide whether to re-download, re-export or report a bug from this message alone.
public enum ArchiveError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The file could not be opened, read or created at the OS level.
  case io(path: String, operation: String, errno: Int32)
  /// A zero-byte file where an archive was expected.
  case empty(path: String)
  /// The bytes are not a tar archive (plain, gzip or zstd).
  case notAnArchive(path: String, detail: String)
  /// The archive ends inside an entry (or inside a header right after `entry`).
  case truncated(path: String, entry: String)
  /// libarchive reported a damaged stream (bad checksum, corrupt compression).
  case corrupt(path: String, entry: String?, detail: String)
  /// An entry name that would escape the target directory or is otherwise unusable.
  case unsafePath(path: String, entry: String, reason: String)
  /// A symlink, hardlink, device, fifo or socket entry: the format only has regular files.
  case forbiddenEntryType(path: String, entry: String, type: String)
  /// The same name twice: which copy is "the" blob would be ambiguous.
  case duplicateEntry(path: String, entry: String)
  /// The output name does not say which compression to use.
  case unsupportedExtension(path: String)
  /// A writer source delivered a different number of bytes than the size declared for it.
  case sizeMismatch(path: String, entry: String, declared: Int64, actual: Int64)
  /// A writer's byte source failed while its entry was being written.
  case sourceFailed(path: String, entry: String, detail: String)
  /// A consumer of entry bytes (a hasher, an ingest) failed while an entry streamed past.
  case consumerFailed(path: String, entry: String, detail: String)
  /// The compressor failed (zlib or libarchive's zstd filter).
  case compression(path: String, detail: String)
  /// The writer was used after `finish()`/`abandon()`, or the reader after the stream ended.
  case misuse(String)
  /// A tarball of Go KubeKey 3.x's work dir (its images an OCI layout under `images/`), not
  /// an artifact kk wrote: said as such, since "no index.json" would not tell the user why.
  case kubekeyWorkDir(path: String)
  /// The archive holds an OCI layout in a directory instead of at its root.
  case nestedLayout(path: String, directory: String)

  public var description: String {
    switch self {
    case .io(let path, let operation, let code):
      return "\(path): cannot \(operation): \(String(cString: strerror(code))) (errno \(code))"
    case .empty(let path):
      return "\(path): the file is empty, not an artifact archive; re-copy or re-export it"
    case .notAnArchive(let path, let detail):
      return
        "\(path): not a tar, tar.gz or tar.zst archive (\(detail)); check the file is a kk artifact"
    case .truncated(let path, let entry):
      let place = entry.hasPrefix("(") ? "before its first entry" : "inside entry '\(entry)'"
      return "\(path): archive is truncated \(place); the copy is incomplete, copy it again"
    case .corrupt(let path, let entry, let detail):
      let at = entry.map { " at entry '\($0)'" } ?? ""
      let what = detail.isEmpty ? "its data does not read back (cut short or altered)" : detail
      return "\(path): archive is damaged\(at): \(what); copy it again or re-export it"
    case .unsafePath(let path, let entry, let reason):
      return "\(path): refusing entry '\(entry)': \(reason)"
    case .forbiddenEntryType(let path, let entry, let type):
      return "\(path): refusing \(type) entry '\(entry)': artifacts contain only regular files"
    case .duplicateEntry(let path, let entry):
      return
        "\(path): entry '\(entry)' appears more than once; the archive is ambiguous, re-export it"
    case .unsupportedExtension(let path):
      return "\(path): unknown archive extension; use .tar.gz, .tgz, .tar.zst or .tar"
    case .sizeMismatch(let path, let entry, let declared, let actual):
      return
        "\(path): entry '\(entry)' was declared as \(declared) bytes but its source gave \(actual)"
    case .sourceFailed(let path, let entry, let detail):
      return "\(path): reading the bytes for entry '\(entry)' failed: \(detail)"
    case .consumerFailed(let path, let entry, let detail):
      return "\(path): processing entry '\(entry)' failed: \(detail)"
    case .compression(let path, let detail):
      return "\(path): compression failed: \(detail)"
    case .misuse(let detail):
      return "archive API misuse: \(detail)"
    case .nestedLayout(let path, let directory):
      let lower = path.lowercased()
      let flags =
        lower.hasSuffix(".gz") || lower.hasSuffix(".tgz")
        ? "-czf" : lower.hasSuffix(".zst") ? "--zstd -cf" : "-cf"
      return
        "\(path) holds its OCI layout under '\(directory)/', not at the archive's root where kk "
        + "reads it: re-create it with `tar -C \(directory) \(flags) \(path) .`"
    case .kubekeyWorkDir(let path):
      return
        "\(path) looks like an artifact of Go KubeKey 3.x (a tarball of its work dir, images under "
        + "images/), not one kk wrote: kk reads the artifacts of `kk artifact export` (one OCI "
        + "layout at the root); export the manifest with kk, or push this one with the KubeKey "
        + "that wrote it"
    }
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
