import CArchive
import OCI

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// An output file that only appears under its final name once it is complete.
///
/// Bytes go to `NAME.partial`; `commit()` flushes, fsyncs and renames it to `NAME`, and
/// `discard()` (or dropping an uncommitted file) deletes it. An interrupted export therefore
/// never leaves something that looks like a finished artifact. Writes are buffered in 1 MiB
/// so that many small tar headers cost one syscall.
///
/// Every byte that reaches the file also goes through a SHA-256 hasher (on its own thread,
/// see `HashLane`), so the digest of the finished file is known without reading it back (a
/// re-read of a 20 GB bundle is minutes).
/// On Linux each completed `writebackWindow` is handed to the kernel for writeback with
/// `sync_file_range`, and the window two back is waited on: the disk writes while we compress,
/// dirty pages stay bounded, and the final `fsync` only has the last windows left to flush.
final class PartialFile {
  /// Bytes per writeback window: large enough for sequential I/O, small enough that the
  /// final fsync has little left.
  static let defaultWritebackWindow: Int64 = 64 << 20

  let finalPath: String
  let partialPath: String
  private var fd: Int32
  private var buffer: UnsafeMutableRawBufferPointer
  private var used = 0
  private(set) var bytesWritten: Int64 = 0
  private var committed = false
  private let hasher = HashLane()
  private let writebackWindow: Int64
  /// End of the last window handed to the kernel for writeback.
  private var writebackStarted: Int64 = 0

  init(
    finalPath: String, bufferSize: Int = 1 << 20,
    writebackWindow: Int64 = PartialFile.defaultWritebackWindow
  ) throws(ArchiveError) {
    self.finalPath = finalPath
    self.partialPath = finalPath + ".partial"
    self.writebackWindow = max(writebackWindow, 1 << 20)
    let fd = open(partialPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw .io(path: partialPath, operation: "create", errno: errno) }
    self.fd = fd
    buffer = .allocate(byteCount: bufferSize, alignment: 4096)
  }

  deinit {
    if !committed { discard() }
    buffer.deallocate()
  }

  func write(_ bytes: UnsafeRawBufferPointer) throws(ArchiveError) {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return }
    if bytes.count >= buffer.count {
      try flush()
      try writeAll(base, bytes.count)
      return
    }
    if used + bytes.count > buffer.count { try flush() }
    (buffer.baseAddress! + used).copyMemory(from: base, byteCount: bytes.count)
    used += bytes.count
  }

  /// Writes `pieces` in order with `writev`, without copying them into the buffer (the data of
  /// stored members: large pieces between 5-byte block headers).
  func write(gathering pieces: [UnsafeRawBufferPointer]) throws(ArchiveError) {
    try flush()
    guard fd >= 0 else { throw .misuse("\(finalPath) written after it was finished or discarded") }
    var vectors = pieces.filter { $0.count > 0 }.map {
      iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count)
    }
    var first = 0
    var total = 0
    while first < vectors.count {
      let batch = min(vectors.count - first, 1024)  // IOV_MAX
      let n = vectors[first...].withUnsafeBufferPointer { writev(fd, $0.baseAddress, Int32(batch)) }
      if n < 0 {
        if errno == EINTR { continue }
        throw .io(path: partialPath, operation: "write", errno: errno)
      }
      guard n > 0 else { throw .io(path: partialPath, operation: "write", errno: ENOSPC) }
      total += n
      // Hash what was written, in order; a short write resumes inside a piece.
      var left = n
      while left > 0, first < vectors.count {
        let vector = vectors[first]
        let count = min(left, vector.iov_len)
        if let start = vector.iov_base {
          hasher.update(UnsafeRawBufferPointer(start: start, count: count))
        }
        left -= count
        if count == vector.iov_len {
          first += 1
        } else {
          vectors[first] = iovec(
            iov_base: vector.iov_base.map { $0 + count }, iov_len: vector.iov_len - count)
        }
      }
    }
    bytesWritten += Int64(total)
    startWriteback()
  }

  /// Space the caller may fill directly (zlib writes into it), then `didFill(_:)`.
  func spare(minimum: Int) throws(ArchiveError) -> UnsafeMutableRawBufferPointer {
    if buffer.count - used < minimum { try flush() }
    return UnsafeMutableRawBufferPointer(rebasing: buffer[used...])
  }

  func didFill(_ count: Int) {
    precondition(used + count <= buffer.count)
    used += count
  }

  func flush() throws(ArchiveError) {
    guard used > 0, let base = buffer.baseAddress else { return }
    try writeAll(base, used)
    used = 0
  }

  /// Makes the file durable under its final name: fsync the file, rename it, fsync the
  /// directory (without that a power loss can forget the rename). Returns the sha256 and size
  /// of exactly the bytes written.
  func commit() throws(ArchiveError) -> (sha256: Digest, size: Int64) {
    guard !committed, fd >= 0 else {
      throw .misuse("\(finalPath) was already finished or discarded")
    }
    try flush()
    guard fsync(fd) == 0 else { throw .io(path: partialPath, operation: "fsync", errno: errno) }
    guard close(fd) == 0 else {
      fd = -1
      throw .io(path: partialPath, operation: "close", errno: errno)
    }
    fd = -1
    guard rename(partialPath, finalPath) == 0 else {
      throw .io(path: finalPath, operation: "rename \(partialPath) to", errno: errno)
    }
    committed = true
    try syncDirectory()
    return (hasher.finalize(), bytesWritten)
  }

  /// fsyncs the directory holding `finalPath` so the rename itself is durable.
  private func syncDirectory() throws(ArchiveError) {
    let slash = finalPath.lastIndex(of: "/")
    let directory = slash.map { $0 == finalPath.startIndex ? "/" : String(finalPath[..<$0]) } ?? "."
    let dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard dirfd >= 0 else {
      throw .io(path: directory, operation: "open directory to fsync the rename of", errno: errno)
    }
    defer { close(dirfd) }
    guard fsync(dirfd) == 0 else {
      throw .io(path: directory, operation: "fsync directory", errno: errno)
    }
  }

  /// Starts writeback of each completed window and waits for the one two windows back, so
  /// writing to disk overlaps producing the bytes. Advisory: errors surface at `fsync`.
  private func startWriteback() {
    #if os(Linux)
      while bytesWritten - writebackStarted >= writebackWindow {
        _ = kk_sync_file_range(fd, writebackStarted, writebackWindow, KK_SYNC_FILE_RANGE_WRITE)
        let older = writebackStarted - 2 * writebackWindow
        if older >= 0 {
          _ = kk_sync_file_range(
            fd, older, writebackWindow,
            KK_SYNC_FILE_RANGE_WAIT_BEFORE | KK_SYNC_FILE_RANGE_WRITE
              | KK_SYNC_FILE_RANGE_WAIT_AFTER)
        }
        writebackStarted += writebackWindow
      }
    #endif
  }

  /// Deletes the partial file; safe to call more than once.
  func discard() {
    if fd >= 0 {
      close(fd)
      fd = -1
    }
    if !committed { unlink(partialPath) }
  }

  private func writeAll(_ base: UnsafeRawPointer, _ count: Int) throws(ArchiveError) {
    guard fd >= 0 else { throw .misuse("\(finalPath) written after it was finished or discarded") }
    var offset = 0
    while offset < count {
      #if canImport(Glibc)
        let n = Glibc.write(fd, base + offset, count - offset)
      #else
        let n = Darwin.write(fd, base + offset, count - offset)
      #endif
      if n < 0 {
        if errno == EINTR { continue }
        throw .io(path: partialPath, operation: "write", errno: errno)
      }
      hasher.update(UnsafeRawBufferPointer(start: base + offset, count: n))
      offset += n
    }
    bytesWritten += Int64(count)
    startWriteback()
  }
}
