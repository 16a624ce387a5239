import CArchive
import OCI

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Writes a deterministic artifact archive: tar, tar.gz or tar.zst, chosen by the output name.
///
/// Entries are written in the order given (the export code produces SPEC §1.1 order) with
/// mtime 0, uid/gid 0, no user/group names and mode 0644, in pax-restricted format so that
/// entries over 8 GiB still work. The same entries give byte-identical output.
///
/// - gzip: libarchive writes a plain tar stream into our callback and we gzip it as a
///   sequence of members (one gzip stream to every reader): tar headers, JSON and YAML in
///   serial members at level 6; the data of an entry that is already compressed (see
///   `EntryCompressibility`) as one member of stored blocks (`StoredMember`); the data of a
///   large entry without a media-type hint (binaries) deflated by `ChunkedDeflater` on
///   `workers` threads, one member per `chunking.chunkSize` bytes
///   (`ChunkedDeflateParameters.binaries`: libdeflate level 1, 1 MiB). The bytes depend on the
///   entries and `chunking`, never on `workers` or on how a source splits its reads.
/// - zstd: libarchive's zstd filter at `zstdLevel` (default 3, zstd's own default: ~ gzip -6
///   ratio at several times its speed; layers are already compressed so higher levels buy little).
///
/// Bytes go to `NAME.partial`; only `finish()` renames to `NAME`. If the writer is dropped or
/// `abandon()`ed without finishing, the partial file is removed. Not thread-safe.
public final class ArchiveWriter {
  public static let defaultZstdLevel = 3
  static let chunkSize = 1 << 20

  public let path: String
  public let compression: ArchiveCompression
  /// Where bytes go until `finish()`.
  public var partialPath: String { sink.file.partialPath }

  /// Threads that deflate chunks of large raw entries: the cores, at least 4, at most 8.
  public static var defaultWorkers: Int { ChunkedDeflater.defaultWorkers }

  /// How large raw entries are chunked (nil: they go in the serial members at zlib level 4).
  public let chunking: ChunkedDeflateParameters?

  let archive: OpaquePointer
  let sink: ArchiveSink
  var names: Set<String> = []
  var chunk: UnsafeMutableRawBufferPointer
  var closed = false

  /// - Parameters:
  ///   - workers: threads deflating chunks at once; does not change the bytes written.
  ///   - chunking: the chunk layout of large raw entries (gzip only); nil for none.
  ///   - onChunkDeflated: called on the writer's thread for every chunk handed to a worker
  ///     (lets tests see which entries were deflated and which were copied in).
  public init(
    path: String, zstdLevel: Int = ArchiveWriter.defaultZstdLevel,
    workers: Int = ArchiveWriter.defaultWorkers,
    chunking: ChunkedDeflateParameters? = .binaries, onChunkDeflated: (() -> Void)? = nil
  ) throws(ArchiveError) {
    self.path = path
    compression = try ArchiveCompression.forOutput(path: path)
    self.chunking = compression == .gzip ? chunking : nil
    let file = try PartialFile(finalPath: path)
    let gzip = compression == .gzip ? try GzipMemberEncoder(output: file) : nil
    let chunked = self.chunking.map {
      ChunkedDeflater(parameters: $0, workers: workers, path: path, onChunk: onChunkDeflated)
    }
    sink = ArchiveSink(file: file, gzip: gzip, chunked: chunked)
    guard let archive = archive_write_new() else {
      throw .compression(path: path, detail: "libarchive could not allocate a writer")
    }
    self.archive = archive
    chunk = .allocate(byteCount: Self.chunkSize, alignment: 4096)
    archive_write_set_format_pax_restricted(archive)
    if compression == .zstd {
      guard archive_write_add_filter_zstd(archive) == ARCHIVE_OK,
        archive_write_set_filter_option(archive, "zstd", "compression-level", "\(zstdLevel)")
          == ARCHIVE_OK
      else { throw .compression(path: path, detail: message()) }
    }
    // Unblocked output, and no padding of the last block: the tar stream ends right after
    // its end-of-archive marker (without this the output is padded to 10 KiB).
    archive_write_set_bytes_per_block(archive, 0)
    archive_write_set_bytes_in_last_block(archive, 1)
    let status = archive_write_open2(
      archive, Unmanaged.passUnretained(sink).toOpaque(), nil,
      { _, context, buffer, length in
        guard let context else { return -1 }
        let sink = Unmanaged<ArchiveSink>.fromOpaque(context).takeUnretainedValue()
        return sink.write(UnsafeRawBufferPointer(start: buffer, count: length))
      }, nil, nil)
    guard status == ARCHIVE_OK else {
      throw sink.failure ?? .compression(path: path, detail: message())
    }
  }

  deinit {
    // The tar trailer is never written for an unfinished archive; its partial file goes away.
    if !closed { archive_write_fail(archive) }
    archive_write_free(archive)
    if !closed { sink.file.discard() }
    chunk.deallocate()
  }

  /// Adds an entry whose bytes come from `source`, which must give exactly `size` bytes.
  public func add(
    name: String, size: Int64, from source: some ByteSource, hint: EntryCompressibility = .auto
  ) throws(ArchiveError) {
    try add(name: name, size: size, hint: hint) { buffer throws(ArchiveError) in
      do { return try source.read(into: buffer) } catch let error as ArchiveError {
        throw error
      } catch {
        throw .sourceFailed(path: path, entry: name, detail: "\(error)")
      }
    }
  }

  /// Adds an entry with the bytes of the regular file at `file`.
  ///
  /// - Parameters:
  ///   - observe: sees every byte read from the file, in order, before it is written (the
  ///     packer checks each blob's digest this way without reading it twice).
  ///   - capture: when the entry is chunked, sees its gzip members in order, exactly as
  ///     written (the packer keeps them in the export cache; see `addGzipMembers`).
  /// - Returns: how the entry's data was encoded.
  @discardableResult
  public func addFile(
    name: String, path file: String, hint: EntryCompressibility = .auto,
    observe: ((UnsafeRawBufferPointer) -> Void)? = nil,
    capture: ((UnsafeRawBufferPointer) throws(ArchiveError) -> Void)? = nil
  ) throws(ArchiveError) -> EntryEncoding {
    let fd = open(file, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw .io(path: file, operation: "open for reading", errno: errno) }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw .io(path: file, operation: "stat", errno: errno) }
    #if os(Linux)
      _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
    #endif
    let size = Int64(info.st_size)
    if sink.gzip != nil, size > 0, try isCompressed(fd: fd, file: file, hint: hint) {
      try addStored(name: name, size: size, fd: fd, file: file, observe: observe)
      return .stored
    }
    return try add(name: name, size: size, hint: hint, capture: capture) {
      buffer throws(ArchiveError) in
      while true {
        let n = read(fd, buffer.baseAddress, buffer.count)
        if n >= 0 {
          if n > 0 { observe?(UnsafeRawBufferPointer(rebasing: buffer[..<n])) }
          return n
        }
        if errno != EINTR { throw .io(path: file, operation: "read", errno: errno) }
      }
    }
  }

  /// Adds an entry from bytes in memory (oci-layout, index.json, manifests).
  public func add(name: String, bytes: [UInt8], hint: EntryCompressibility = .compressible)
    throws(ArchiveError)
  {
    var offset = 0
    try add(name: name, size: Int64(bytes.count), hint: hint) { buffer in
      let count = min(buffer.count, bytes.count - offset)
      bytes.withUnsafeBytes { all in
        buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: all[offset..<offset + count]))
      }
      offset += count
      return count
    }
  }

  /// Writes the end-of-archive marker and the compression trailer, fsyncs, renames
  /// `NAME.partial` to `NAME` and fsyncs the directory. On failure the partial file is removed.
  ///
  /// Returns the sha256 and size of the file, computed from the bytes as they were written:
  /// callers need not read a multi-GB artifact back just to learn its digest.
  @discardableResult
  public func finish() throws(ArchiveError) -> WrittenArchive {
    guard !closed else { throw .misuse("\(path): finish() after the archive was closed") }
    closed = true
    do throws(ArchiveError) {
      guard archive_write_close(archive) == ARCHIVE_OK else {
        throw sink.failure ?? .compression(path: path, detail: message())
      }
      try sink.gzip?.finish()
      let (sha256, size) = try sink.file.commit()
      return WrittenArchive(path: path, size: size, sha256: sha256)
    } catch {
      sink.file.discard()
      throw error
    }
  }

  /// Stops writing and removes the partial file.
  public func abandon() {
    guard !closed else { return }
    closed = true
    archive_write_fail(archive)
    sink.file.discard()
  }

  @discardableResult
  private func add(
    name: String, size: Int64, hint: EntryCompressibility,
    capture: ((UnsafeRawBufferPointer) throws(ArchiveError) -> Void)? = nil,
    fill: (UnsafeMutableRawBufferPointer) throws(ArchiveError) -> Int
  ) throws(ArchiveError) -> EntryEncoding {
    guard !closed else {
      throw .misuse("\(path): entry '\(name)' added after the archive was closed")
    }
    do {
      return try writeEntry(name: name, size: size, hint: hint, capture: capture, fill: fill)
    } catch {
      abandon()
      throw error
    }
  }

  private func writeEntry(
    name: String, size: Int64, hint: EntryCompressibility,
    capture: ((UnsafeRawBufferPointer) throws(ArchiveError) -> Void)?,
    fill: (UnsafeMutableRawBufferPointer) throws(ArchiveError) -> Int
  ) throws(ArchiveError) -> EntryEncoding {
    try writeHeader(name: name, size: size)
    var encoding = EntryEncoding.serial
    var total: Int64 = 0
    var first = true
    while true {
      let count = try fill(chunk)
      if count == 0 { break }
      total += Int64(count)
      guard total <= size else {
        throw .sizeMismatch(path: path, entry: name, declared: size, actual: total)
      }
      let bytes = UnsafeRawBufferPointer(rebasing: chunk[..<count])
      if first, let gzip = sink.gzip {
        let compressed =
          hint == .compressed || (hint == .auto && EntryCompressibility.looksCompressed(bytes))
        let binary = hint == .auto && size >= GzipMemberEncoder.binaryThreshold
        // Everything written so far (this entry's header) stays in the serial member.
        if compressed {
          try sink.beginStored(size: size)
          encoding = .stored
        } else if binary, let chunking {
          try sink.beginChunked(capture: capture)
          encoding = .chunked(chunking)
        } else {
          try gzip.setLevel(
            binary ? GzipMemberEncoder.binaryLevel : GzipMemberEncoder.defaultLevel)
        }
      }
      first = false
      let written = archive_write_data(archive, bytes.baseAddress, count)
      guard written == count else {
        throw sink.failure ?? .compression(path: path, detail: message())
      }
    }
    guard total == size else {
      throw .sizeMismatch(path: path, entry: name, declared: size, actual: total)
    }
    // The last members go out before the tar padding, which starts the next serial member.
    try sink.endChunked()
    try sink.endStored()
    try check(archive_write_finish_entry(archive))
    return encoding
  }

  /// Checks the name and writes a regular file's tar header (mtime 0, uid/gid 0, mode 0644).
  func writeHeader(name: String, size: Int64) throws(ArchiveError) {
    switch EntryName.normalize(name) {
    case .success(let canonical) where canonical == name: break
    case .success:
      throw .unsafePath(path: path, entry: name, reason: "write the canonical name (no ./, //)")
    case .failure(let refusal): throw .unsafePath(path: path, entry: name, reason: refusal.reason)
    }
    guard size >= 0 else { throw .sizeMismatch(path: path, entry: name, declared: size, actual: 0) }
    guard names.insert(name).inserted else { throw .duplicateEntry(path: path, entry: name) }

    let entry = archive_entry_new()
    defer { archive_entry_free(entry) }
    archive_entry_set_pathname(entry, name)
    archive_entry_set_size(entry, la_int64_t(size))
    archive_entry_set_filetype(entry, 0o100000)
    archive_entry_set_perm(entry, 0o644)
    archive_entry_set_mtime(entry, 0, 0)
    archive_entry_set_uid(entry, 0)
    archive_entry_set_gid(entry, 0)
    try check(archive_write_header(archive, entry))
  }

  func check(_ status: Int32) throws(ArchiveError) {
    guard status == ARCHIVE_OK else {
      throw sink.failure ?? .compression(path: path, detail: message())
    }
  }

  func message() -> String {
    archive_error_string(archive).map { String(cString: $0) } ?? "libarchive error"
  }
}

/// How an entry's data went into a gzip archive.
public enum EntryEncoding: Sendable, Hashable {
  /// In the serial members (or not gzip at all).
  case serial
  /// Already compressed: one gzip member of stored blocks (`StoredMember`).
  case stored
  /// As gzip members of its own, one per chunk (`ChunkedDeflater`).
  case chunked(ChunkedDeflateParameters)
}

/// A finished archive file: what `ArchiveWriter.finish()` wrote under its final name.
public struct WrittenArchive: Sendable, Hashable {
  /// The final path (no `.partial`).
  public var path: String
  /// Bytes in the file.
  public var size: Int64
  /// sha256 of the whole file, hashed while it was written.
  public var sha256: Digest
}
