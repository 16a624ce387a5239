import CArchive
import Dispatch
import Foundation
import OCI

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// An output file that only appears under its final name once it is complete.
///
/// Bytes go to `NAME.partial`; `commit()` writes the rest, fsyncs and renames it to `NAME`,
/// and `discard()` (or dropping an uncommitted file) deletes it. An interrupted export
/// therefore never leaves something that looks like a finished artifact.
///
/// Bytes are gathered in a ring of aligned buffers; each full buffer is hashed (SHA-256, so
/// the digest of the finished file is known without reading a 20 GB bundle back) on one
/// thread and written on another, while the next one fills. On Linux the file is opened with
/// `O_DIRECT`: an artifact is written once and not read back by this process, so the page
/// cache only costs here: a kernel copy of every byte, fresh page-cache pages (measured on
/// this VM: 760 MiB through the page cache took 0.4-2.4 s and up to 1.9 s of system time,
/// with `O_DIRECT` 0.40-0.45 s and 0.05 s), then writeback. Where `O_DIRECT` is refused
/// (tmpfs, some network file systems) the buffered path starts writeback of every completed
/// `writebackWindow` with `sync_file_range`, so the final fsync has little left.
final class PartialFile {
  /// Bytes per writeback window of the buffered path.
  static let defaultWritebackWindow: Int64 = 64 << 20
  static let defaultBufferSize = 2 << 20
  /// Buffers in the ring: one filling, the others queued for or being written.
  static let bufferCount = 4
  /// `O_DIRECT` wants buffer addresses, lengths and offsets aligned to the device's logical
  /// block; 4096 covers every device in use.
  static let alignment = 4096

  let finalPath: String
  let partialPath: String
  private let ring: [UnsafeMutableRawBufferPointer]
  /// One permit per buffer free to fill; the writer gives it back when the buffer is on disk.
  /// The queue is FIFO, so the first permit back is always the oldest buffer's: the next one.
  private let permits = DispatchSemaphore(value: PartialFile.bufferCount)
  /// Each buffer is hashed on one queue and written on the other, at the same time: with
  /// `O_DIRECT` a write waits for the device, and one thread doing both made the artifact's
  /// sha256 and its disk writes add up instead of overlap.
  private let hashQueue = DispatchQueue(label: "kk.archive.sha256")
  private let writeQueue = DispatchQueue(label: "kk.archive.write")
  private let state: WriterState
  private var current = 0
  private var used = 0
  /// Whether the buffer being filled holds a permit.
  private var holding = false
  /// Bytes handed to the file so far, including the buffer being filled.
  var bytesWritten: Int64 { handedOver + Int64(used) }
  private var handedOver: Int64 = 0
  private var committed = false
  private var closed = false

  /// - Parameter bypassCache: try `O_DIRECT` first (false: the buffered path; tests run both).
  init(
    finalPath: String, bufferSize: Int = PartialFile.defaultBufferSize,
    writebackWindow: Int64 = PartialFile.defaultWritebackWindow, bypassCache: Bool = true
  ) throws(ArchiveError) {
    self.finalPath = finalPath
    self.partialPath = finalPath + ".partial"
    let flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC
    var fd: Int32 = -1
    var direct = false
    #if os(Linux)
      if bypassCache {
        fd = open(partialPath, flags | kk_o_direct(), 0o644)
        direct = fd >= 0
      }
    #endif
    if fd < 0 { fd = open(partialPath, flags, 0o644) }
    guard fd >= 0 else { throw .io(path: partialPath, operation: "create", errno: errno) }
    let size = max(Self.alignment, bufferSize / Self.alignment * Self.alignment)
    ring = (0..<Self.bufferCount).map { _ in
      .allocate(byteCount: size, alignment: Self.alignment)
    }
    state = WriterState(
      fd: fd, direct: direct, path: partialPath, writebackWindow: max(writebackWindow, 1 << 20))
  }

  deinit {
    if !committed { discard() }
    drain()
    // A partly filled buffer still holds its permit; libdispatch traps when a semaphore is
    // freed below its initial value.
    if holding { permits.signal() }
    for buffer in ring { buffer.deallocate() }
  }

  func write(_ bytes: UnsafeRawBufferPointer) throws(ArchiveError) {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return }
    var offset = 0
    while offset < bytes.count {
      let space = try spare()
      let count = min(space.count, bytes.count - offset)
      space.baseAddress!.copyMemory(from: base + offset, byteCount: count)
      didFill(count)
      offset += count
    }
  }

  /// Space the caller may fill directly (zlib writes into it), then `didFill(_:)`: the rest
  /// of the buffer being filled, never empty. Only full buffers are handed to the writer, so
  /// the space may be small; zlib takes any.
  func spare() throws(ArchiveError) -> UnsafeMutableRawBufferPointer {
    guard !closed else { throw .misuse("\(finalPath) written after it was finished or discarded") }
    if !holding {
      permits.wait()
      holding = true
      if let failure = state.failure { throw failure }
    }
    return UnsafeMutableRawBufferPointer(rebasing: ring[current][used...])
  }

  func didFill(_ count: Int) {
    precondition(holding && used + count <= ring[current].count)
    used += count
    if used == ring[current].count { try? handOver() }
  }

  /// Hands the buffer being filled to the writer (all of it: only the last write of the file
  /// may have an unaligned length).
  private func handOver() throws(ArchiveError) {
    guard used > 0 else { return }
    let bytes = UnsafeRawBufferPointer(rebasing: ring[current][..<used])
    let state = state
    let job = WriteJob(bytes: bytes, pending: BufferCompletion(permits: permits))
    hashQueue.async {
      state.sha256.update(job.bytes)
      job.pending.done()
    }
    writeQueue.async {
      state.write(job.bytes)
      job.pending.done()
    }
    handedOver += Int64(used)
    used = 0
    holding = false
    current = (current + 1) % ring.count
    if let failure = state.failure { throw failure }
  }

  /// Makes the file durable under its final name: write the rest, fsync the file, rename it,
  /// fsync the directory (without that a power loss can forget the rename). Returns the
  /// sha256 and size of exactly the bytes written.
  func commit() throws(ArchiveError) -> (sha256: Digest, size: Int64) {
    guard !committed, !closed else {
      throw .misuse("\(finalPath) was already finished or discarded")
    }
    try handOver()
    drain()
    closed = true
    let fd = state.fd
    if let failure = state.failure {
      discard()
      throw failure
    }
    guard fsync(fd) == 0 else {
      let error = errno
      discard()
      throw .io(path: partialPath, operation: "fsync", errno: error)
    }
    state.fd = -1
    guard close(fd) == 0 else {
      let error = errno
      unlink(partialPath)
      throw .io(path: partialPath, operation: "close", errno: error)
    }
    guard rename(partialPath, finalPath) == 0 else {
      let error = errno
      unlink(partialPath)
      throw .io(path: partialPath, operation: "rename it to \(finalPath)", errno: error)
    }
    committed = true
    try syncDirectory()
    return (state.sha256.finalize(), handedOver)
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

  /// Deletes the partial file; safe to call more than once.
  func discard() {
    closed = true
    drain()
    if state.fd >= 0 {
      close(state.fd)
      state.fd = -1
    }
    if !committed { unlink(partialPath) }
  }

  /// Waits for every buffer handed over to be hashed and written.
  private func drain() {
    hashQueue.sync {}
    writeQueue.sync {}
  }

  /// A buffer's bytes, handed to the two queues; untouched by the filler until its permit
  /// comes back.
  private struct WriteJob: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer
    let pending: BufferCompletion
  }

  /// Gives a buffer's permit back once it is both hashed and written. Both queues take
  /// buffers in order, so buffers complete in order: the first permit back is the oldest's.
  private final class BufferCompletion: @unchecked Sendable {
    private let lock = NSLock()
    private var remaining = 2
    private let permits: DispatchSemaphore

    init(permits: DispatchSemaphore) {
      self.permits = permits
    }

    func done() {
      let last = lock.withLock {
        remaining -= 1
        return remaining == 0
      }
      if last { permits.signal() }
    }
  }

  /// The writing side: `sha256` is used on the hash queue only, the rest on the write queue.
  /// `failure` is read by the filler, hence the lock.
  private final class WriterState: @unchecked Sendable {
    var fd: Int32
    private var direct: Bool
    let path: String
    let sha256 = SHA256Hasher()
    private let writebackWindow: Int64
    private var written: Int64 = 0
    /// End of the last window handed to the kernel for writeback (buffered path).
    private var writebackStarted: Int64 = 0
    private let lock = NSLock()
    private var firstFailure: ArchiveError?

    init(fd: Int32, direct: Bool, path: String, writebackWindow: Int64) {
      self.fd = fd
      self.direct = direct
      self.path = path
      self.writebackWindow = writebackWindow
    }

    var failure: ArchiveError? { lock.withLock { firstFailure } }

    func write(_ bytes: UnsafeRawBufferPointer) {
      guard failure == nil, let base = bytes.baseAddress else { return }
      var offset = 0
      while offset < bytes.count {
        var count = bytes.count - offset
        if direct, count % PartialFile.alignment != 0 {
          // O_DIRECT takes whole blocks: the blocks first, then the file's unaligned tail
          // (only the last buffer has one) through the page cache.
          if count >= PartialFile.alignment {
            count -= count % PartialFile.alignment
          } else {
            useBufferedIO()
          }
        }
        let n = systemWrite(fd, base + offset, count)
        if n < 0 {
          if errno == EINTR { continue }
          if errno == EINVAL, direct {
            // The file system takes O_DIRECT at open but not these writes: go buffered.
            useBufferedIO()
            continue
          }
          fail(.io(path: path, operation: "write", errno: errno))
          return
        }
        guard n > 0 else {
          fail(.io(path: path, operation: "write", errno: ENOSPC))
          return
        }
        offset += n
      }
      written += Int64(bytes.count)
      if !direct { startWriteback() }
    }

    private func useBufferedIO() {
      #if os(Linux)
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~kk_o_direct()) }
      #endif
      direct = false
      writebackStarted = written / writebackWindow * writebackWindow
    }

    private func fail(_ error: ArchiveError) {
      lock.withLock { if firstFailure == nil { firstFailure = error } }
    }

    /// Starts writeback of each completed window and waits for the one two windows back, so
    /// writing to disk overlaps producing the bytes. Advisory: errors surface at `fsync`.
    private func startWriteback() {
      #if os(Linux)
        while written - writebackStarted >= writebackWindow {
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

    private func systemWrite(_ fd: Int32, _ base: UnsafeRawPointer, _ count: Int) -> Int {
      #if canImport(Glibc)
        Glibc.write(fd, base, count)
      #else
        Darwin.write(fd, base, count)
      #endif
    }
  }
}
