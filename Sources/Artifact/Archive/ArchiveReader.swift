import CArchive
import OCI

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Reads an artifact archive (plain tar, tar.gz or tar.zst) in one forward pass.
///
/// Compression is recognised from magic bytes by libarchive, never from the file name, because
/// artifacts get renamed on their way to an air-gapped site. Every entry is checked before the
/// caller sees it: names with `..` or a leading `/`, links, devices, fifos and duplicate names
/// are typed errors naming the entry; directory entries are skipped. The reader never writes
/// anything anywhere. Not thread-safe: one thread drives it (entries are a view into it).
///
/// Integrity comes from digests, not from the container: libarchive 3.6 does not check the
/// gzip trailer's CRC-32 (and the reader stops at the tar end marker), so callers must hash
/// what they read, as the verifier and importer do. Tar header checksums are checked.
public final class ArchiveReader {
  /// libarchive's read block: large reads keep syscalls off the profile.
  public static let blockSize = 1 << 20

  public let path: String
  private let archive: OpaquePointer
  /// Closed after the archive is freed (released after `deinit`'s body).
  private let file: ArchiveFile
  private var seen: Set<String> = []
  /// Incremented per header; an entry only reads while its generation is current.
  private var generation = 0
  private var lastName: String?
  private var ended = false

  /// The compression found in the stream; known once the first header has been read.
  public private(set) var compression: ArchiveCompression?

  /// Opens `path` for reading. Fails for a missing, empty or non-regular file.
  public init(path: String) throws(ArchiveError) {
    self.path = path
    let file = try ArchiveFile(path: path)
    if file.isDirectory { throw .notAnArchive(path: path, detail: "it is a directory") }
    if file.isRegular && file.size == 0 { throw .empty(path: path) }
    #if os(Linux)
      _ = posix_fadvise(file.fd, 0, 0, POSIX_FADV_SEQUENTIAL)
    #endif
    guard let archive = archive_read_new() else {
      throw .notAnArchive(path: path, detail: "libarchive could not allocate a reader")
    }
    archive_read_support_filter_all(archive)
    archive_read_support_format_tar(archive)
    archive_read_support_format_gnutar(archive)
    self.file = file
    self.archive = archive
    guard archive_read_open_fd(archive, file.fd, Self.blockSize) == ARCHIVE_OK else {
      // deinit frees the archive; the file closes after it.
      let detail = Self.message(archive)
      // A copy cut within its first kilobytes: the same advice as one cut later.
      if detail.lowercased().contains("truncated") {
        throw .truncated(path: path, entry: "(first header)")
      }
      throw .notAnArchive(path: path, detail: detail)
    }
  }

  deinit { archive_read_free(archive) }

  /// The next regular-file entry, or nil at the end of the archive.
  ///
  /// Calling it again invalidates the previous entry; its unread bytes are skipped (for a
  /// compressed archive that still means decompressing them).
  public func next() throws(ArchiveError) -> ArchiveEntry? {
    guard !ended else { return nil }
    generation += 1
    while true {
      var header: OpaquePointer?
      let status = archive_read_next_header(archive, &header)
      if status == ARCHIVE_EOF {
        ended = true
        if compression == nil {
          // An archive with no entries at all: only the end-of-archive marker.
          try recordCompression()
        }
        return nil
      }
      guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let header else {
        ended = true
        throw headerFailure()
      }
      if compression == nil { try recordCompression() }
      let raw = archive_entry_pathname(header).map { String(cString: $0) } ?? ""
      if let entry = try check(header, raw: raw) { return entry }
    }
  }

  /// Validates one header; nil means "skip it" (a directory).
  private func check(_ header: OpaquePointer, raw: String) throws(ArchiveError) -> ArchiveEntry? {
    if archive_entry_hardlink(header) != nil {
      throw .forbiddenEntryType(path: path, entry: raw, type: "hardlink")
    }
    let type = archive_entry_filetype(header) & 0o170000
    if type == 0o040000 {
      // Directories carry no bytes; refuse only names that try to escape.
      if case .failure(let refusal) = EntryName.normalize(raw),
        raw.hasPrefix("/") || raw.split(separator: "/").contains("..")
      {
        throw .unsafePath(path: path, entry: raw, reason: refusal.reason)
      }
      return nil
    }
    guard type == 0o100000 else {
      throw .forbiddenEntryType(path: path, entry: raw, type: Self.typeName(type))
    }
    let name: String
    switch EntryName.normalize(raw) {
    case .success(let normalized): name = normalized
    case .failure(let refusal): throw .unsafePath(path: path, entry: raw, reason: refusal.reason)
    }
    guard seen.insert(name).inserted else { throw .duplicateEntry(path: path, entry: name) }
    lastName = name
    let size = archive_entry_size_is_set(header) != 0 ? archive_entry_size(header) : 0
    return ArchiveEntry(reader: self, generation: generation, name: name, size: Int64(size))
  }

  /// Reads entry bytes for the entry of `generation`; see `ArchiveEntry.read(into:)`.
  fileprivate func readData(
    generation: Int, entry: String, into buffer: UnsafeMutableRawBufferPointer
  ) throws(ArchiveError) -> Int {
    guard generation == self.generation, !ended else {
      throw .misuse("entry '\(entry)' of \(path) was read after the reader moved on")
    }
    guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
    let count = archive_read_data(archive, base, buffer.count)
    if count >= 0 { return count }
    // Any negative status mid-entry means the bytes cannot be trusted to be complete.
    let detail = Self.message(archive)
    ended = true
    if detail.lowercased().contains("truncated") { throw .truncated(path: path, entry: entry) }
    throw .corrupt(path: path, entry: entry, detail: detail)
  }

  private func recordCompression() throws(ArchiveError) {
    switch archive_filter_code(archive, 0) {
    case ARCHIVE_FILTER_NONE: compression = ArchiveCompression.none
    case ARCHIVE_FILTER_GZIP: compression = .gzip
    case ARCHIVE_FILTER_ZSTD: compression = .zstd
    default:
      ended = true
      let name = archive_filter_name(archive, 0).map { String(cString: $0) } ?? "an unknown filter"
      throw .notAnArchive(path: path, detail: "compressed with \(name); kk reads tar, gzip or zstd")
    }
  }

  private func headerFailure() -> ArchiveError {
    let detail = Self.message(archive)
    if detail.lowercased().contains("truncated") {
      if let lastName { return .truncated(path: path, entry: lastName) }
      return .truncated(path: path, entry: "(first header)")
    }
    if compression == nil && lastName == nil { return .notAnArchive(path: path, detail: detail) }
    return .corrupt(path: path, entry: lastName.map { "after \($0)" }, detail: detail)
  }

  private static func message(_ archive: OpaquePointer) -> String {
    archive_error_string(archive).map { String(cString: $0) } ?? ""
  }

  private static func typeName(_ type: UInt32) -> String {
    switch type {
    case 0o120000: return "symlink"
    case 0o020000: return "character device"
    case 0o060000: return "block device"
    case 0o010000: return "fifo"
    case 0o140000: return "socket"
    default: return "special (mode \(String(type, radix: 8)))"
    }
  }
}

/// One regular-file entry of an `ArchiveReader`, readable as a stream until the reader's next
/// `next()` call. Reading checks the byte count against the header: a short entry is
/// `ArchiveError.truncated` naming the entry.
public final class ArchiveEntry: ByteSource, @unchecked Sendable {
  // @unchecked: an entry is a view into its reader and shares its one-thread rule.
  private let reader: ArchiveReader
  private let generation: Int
  /// Canonical relative name (`./` removed), e.g. `blobs/sha256/<hex>`.
  public let name: String
  /// Size from the tar header.
  public let size: Int64
  public private(set) var bytesRead: Int64 = 0

  fileprivate init(reader: ArchiveReader, generation: Int, name: String, size: Int64) {
    self.reader = reader
    self.generation = generation
    self.name = name
    self.size = size
  }

  /// Fills up to `buffer.count` bytes; 0 at the end of the entry.
  public func read(into buffer: UnsafeMutableRawBufferPointer) throws(ArchiveError) -> Int {
    guard bytesRead < size else { return 0 }
    let count = try reader.readData(generation: generation, entry: name, into: buffer)
    if count == 0 { throw ArchiveError.truncated(path: reader.path, entry: name) }
    bytesRead += Int64(count)
    return count
  }

  /// Reads the whole entry into memory; for small JSON entries only.
  public func readAll(limit: Int) throws(ArchiveError) -> [UInt8] {
    guard size <= Int64(limit) else {
      throw .misuse("entry '\(name)' is \(size) bytes, over the \(limit)-byte in-memory limit")
    }
    var bytes = [UInt8](repeating: 0, count: Int(size))
    var filled = 0
    while filled < bytes.count {
      let result = bytes.withUnsafeMutableBytes { all in
        Result { () throws(ArchiveError) -> Int in
          try read(into: UnsafeMutableRawBufferPointer(rebasing: all[filled...]))
        }
      }
      filled += try result.get()
    }
    return bytes
  }
}
