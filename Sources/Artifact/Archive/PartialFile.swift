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
final class PartialFile {
  let finalPath: String
  let partialPath: String
  private var fd: Int32
  private var buffer: UnsafeMutableRawBufferPointer
  private var used = 0
  private(set) var bytesWritten: Int64 = 0
  private var committed = false

  init(finalPath: String, bufferSize: Int = 1 << 20) throws(ArchiveError) {
    self.finalPath = finalPath
    self.partialPath = finalPath + ".partial"
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

  /// Makes the file durable under its final name.
  func commit() throws(ArchiveError) {
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
      offset += n
    }
    bytesWritten += Int64(count)
  }
}
