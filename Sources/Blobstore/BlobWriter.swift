import Foundation
import OCI

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// One ingest in progress: bytes EXPECTED to hash to `expected` and to be `expectedSize` long.
///
/// Modelled on containerd's content writer. Bytes go to a private temp file under
/// `<root>/.ingest/` while they are hashed; nothing becomes visible under `blobs/` until
/// `commit()` has checked size and digest, fdatasynced the file and renamed it into place.
/// While the bytes arrive, each full MiB is handed to the kernel for writeback (see
/// `Writeback`), so the commit's fdatasync has little left to wait for; the store's
/// `pageCache` policy says whether written pages stay cached.
/// Two writers for the same digest (two tasks or two processes) each have their own temp file,
/// and the rename is atomic, so the last commit simply replaces identical content.
///
/// Restarting: a registry download resumed with `Range` just keeps writing (`written` is the
/// offset to ask for). When a server ignores `Range` and sends the whole body again, call
/// `reset()`: it truncates the temp file and restarts hashing from zero. There is no
/// `truncate(to:)`: SHA-256 state cannot be rewound, so restarting mid-way would mean
/// re-reading the kept prefix; starting over is simpler and what the client needs.
///
/// A writer is used by one transfer at a time but may be called from a transfer thread;
/// its state is guarded by a lock.
public final class BlobWriter: ByteSink, @unchecked Sendable {
  /// The digest the bytes must hash to.
  public let expected: Digest
  /// The number of bytes that must arrive.
  public let expectedSize: Int64
  /// Where the blob will live once committed.
  public let destination: String

  private let tempPath: String
  private let blobDirectory: String
  private let lock = NSLock()
  private var fd: Int32
  private var hasher = SHA256Hasher()
  private var buffer: UnsafeMutableRawBufferPointer
  private var buffered = 0
  private var total: Int64 = 0
  /// Bytes in the temp file (`total` minus what is still buffered).
  private var fileEnd: Int64 = 0
  private var writeback: Writeback
  private let durability: BlobDurability
  private var closed = false
  /// A resumable ingest keeps its temp file when suspended or dropped, for the next run.
  private let keepsPartial: Bool
  /// Bytes found in the temp file when the writer was opened (0 for a fresh ingest).
  public let resumedFrom: Int64

  init(
    expected: Digest, size: Int64, destination: String, tempPath: String,
    pageCache: PageCachePolicy = .keep, durability: BlobDurability = .synced
  ) throws(BlobstoreError) {
    self.durability = durability
    self.expected = expected
    self.expectedSize = size
    self.destination = destination
    self.tempPath = tempPath
    self.blobDirectory = (destination as NSString).deletingLastPathComponent
    self.fd = try FileIO.createExclusive(tempPath)
    self.buffer = .allocate(byteCount: ioBufferSize, alignment: 16)
    self.keepsPartial = false
    self.resumedFrom = 0
    self.writeback = Writeback(policy: pageCache)
  }

  /// Opens (or creates) the deterministic temp file of a resumable ingest, locked with
  /// `flock` so two processes never append to one file. Returns nil when another process
  /// holds it. The bytes already there are re-hashed (SHA-256 state cannot be stored), so the
  /// final check still covers every byte; a file longer than the blob starts over.
  init?(
    resuming tempPath: String, expected: Digest, size: Int64, destination: String,
    pageCache: PageCachePolicy = .keep, durability: BlobDurability = .synced
  ) throws(BlobstoreError) {
    self.durability = durability
    self.expected = expected
    self.expectedSize = size
    self.destination = destination
    self.tempPath = tempPath
    self.blobDirectory = (destination as NSString).deletingLastPathComponent
    self.keepsPartial = true
    self.writeback = Writeback(policy: pageCache)
    let fd = open(tempPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw .io(path: tempPath, operation: "open", errno: errno) }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      close(fd)
      return nil
    }
    // The lock must be on the file that still has the temp name: a process that opened the
    // name just before another one committed (renamed it into blobs/) gets the lock once that
    // one closes, on an inode now named blobs/<hex>. Resuming it would append to a committed
    // blob and fail the rename; a private writer is the safe way on.
    var opened = stat()
    var named = stat()
    guard fstat(fd, &opened) == 0, stat(tempPath, &named) == 0, opened.st_ino == named.st_ino,
      opened.st_dev == named.st_dev
    else {
      close(fd)
      return nil
    }
    self.fd = fd
    self.buffer = .allocate(byteCount: ioBufferSize, alignment: 16)
    var info = stat()
    var kept: Int64 = 0
    if fstat(fd, &info) == 0 { kept = Int64(info.st_size) }
    if kept > size {
      try FileIO.truncate(fd, path: tempPath)
      kept = 0
    }
    var offset: Int64 = 0
    while offset < kept {
      let n = pread(fd, buffer.baseAddress, min(ioBufferSize, Int(kept - offset)), off_t(offset))
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else { break }
      hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
      offset += Int64(n)
    }
    if offset != kept || lseek(fd, off_t(offset), SEEK_SET) < 0 {
      try FileIO.truncate(fd, path: tempPath)
      hasher = SHA256Hasher()
      offset = 0
    }
    total = offset
    fileEnd = offset
    resumedFrom = offset
    writeback.restart(from: offset)
  }

  deinit {
    if !closed {
      if keepsPartial {
        try? flushLocked()
        close(fd)
      } else {
        close(fd)
        FileIO.unlinkIfPresent(tempPath)
      }
    }
    buffer.deallocate()
  }

  /// Stops without committing. A resumable ingest keeps its bytes for the next run (the
  /// download failed, the bytes so far are good); a plain one is cancelled.
  public func suspend() {
    lock.lock()
    defer { lock.unlock() }
    guard !closed else { return }
    guard keepsPartial else {
      abandonLocked()
      return
    }
    if (try? flushLocked()) == nil {
      abandonLocked()
      return
    }
    close(fd)
    closed = true
  }

  /// Bytes accepted so far: the offset a resumed download should continue from.
  public var written: Int64 {
    lock.lock()
    defer { lock.unlock() }
    return total
  }

  /// Hashes and stores the next bytes of the blob. Throws as soon as the stream exceeds
  /// the expected size, so a lying server cannot fill the disk. Any error ends the ingest
  /// (the temp file is removed); start a new writer to try again.
  public func write(_ bytes: UnsafeRawBufferPointer) throws {
    try locked { () throws(BlobstoreError) in
      guard !closed else { throw .writerClosed(expected) }
      guard total + Int64(bytes.count) <= expectedSize else {
        abandonLocked()
        throw .sizeExceeded(expected: expected, expectedSize: expectedSize)
      }
      hasher.update(bytes)
      total += Int64(bytes.count)
      if buffered == 0, bytes.count >= ioBufferSize / 4 {
        // A large piece (curl hands over up to 512 KiB) goes to the file as it is: copying it
        // into the buffer first would only add a pass over every downloaded byte.
        do throws(BlobstoreError) {
          try FileIO.writeAll(fd, bytes, path: tempPath)
        } catch {
          abandonLocked()
          throw error
        }
        fileEnd += Int64(bytes.count)
        if durability == .synced { writeback.advance(fd, writtenTo: fileEnd) }
        return
      }
      var offset = 0
      while offset < bytes.count {
        let take = min(bytes.count - offset, ioBufferSize - buffered)
        (buffer.baseAddress! + buffered).copyMemory(
          from: bytes.baseAddress! + offset, byteCount: take)
        buffered += take
        offset += take
        if buffered == ioBufferSize {
          do throws(BlobstoreError) {
            try flushLocked()
          } catch {
            // The hash already covers bytes the file lacks: this writer can never commit.
            abandonLocked()
            throw error
          }
        }
      }
    }
  }

  /// Discards everything written so far and starts again from byte 0 (for a server that
  /// ignored `Range` and restarted the body).
  public func reset() throws(BlobstoreError) {
    try locked { () throws(BlobstoreError) in
      guard !closed else { throw .writerClosed(expected) }
      buffered = 0
      total = 0
      fileEnd = 0
      writeback.restart()
      hasher = SHA256Hasher()
      do throws(BlobstoreError) {
        try FileIO.truncate(fd, path: tempPath)
      } catch {
        abandonLocked()
        throw error
      }
    }
  }

  /// Checks size and digest, makes the bytes durable (fdatasync; `.synced` stores only, see
  /// ``BlobDurability``) and renames them into
  /// `blobs/`. On a mismatch the temp file is removed and the error names expected and
  /// actual digests and sizes. Committing content that is already present is harmless.
  ///
  /// Without `batch` the blob directory is fsynced too, so the blob is durably present when
  /// this returns. With a batch that directory fsync is left to `batch.syncDirectories()`,
  /// shared by every commit of the batch (see ``BlobBatch`` for why that is safe); the
  /// bytes under the new name are durable either way.
  public func commit(batch: BlobBatch? = nil) throws(BlobstoreError) {
    try locked { () throws(BlobstoreError) in
      guard !closed else { throw .writerClosed(expected) }
      do throws(BlobstoreError) {
        try flushLocked()
        let actual = hasher.finalize()
        guard actual == expected, total == expectedSize else {
          throw BlobstoreError.digestMismatch(
            expected: expected, actual: actual, expectedSize: expectedSize, actualSize: total)
        }
        if durability == .synced {
          try FileIO.fdatasync(fd, path: tempPath)
          writeback.finished(fd)
        }
      } catch {
        abandonLocked()
        throw error
      }
      // Renamed while still open: a resumable ingest's flock is held until the bytes are in
      // place, so no other process can pick the temp file up half-way through the commit.
      closed = true
      do throws(BlobstoreError) {
        try FileIO.rename(tempPath, to: destination)
      } catch {
        close(fd)
        FileIO.unlinkIfPresent(tempPath)
        throw error
      }
      close(fd)
      if let batch {
        batch.noteRename(in: blobDirectory)
      } else {
        try FileIO.fsyncDirectory(blobDirectory)
      }
    }
  }

  /// Abandons the ingest and removes the temp file. Safe to call more than once.
  public func cancel() {
    lock.lock()
    defer { lock.unlock() }
    if !closed { abandonLocked() }
  }

  private func locked<R>(_ body: () throws(BlobstoreError) -> R) throws(BlobstoreError) -> R {
    lock.lock()
    defer { lock.unlock() }
    return try body()
  }

  private func flushLocked() throws(BlobstoreError) {
    guard buffered > 0 else { return }
    try FileIO.writeAll(fd, UnsafeRawBufferPointer(rebasing: buffer[0..<buffered]), path: tempPath)
    fileEnd += Int64(buffered)
    buffered = 0
    if durability == .synced { writeback.advance(fd, writtenTo: fileEnd) }
  }

  private func abandonLocked() {
    close(fd)
    FileIO.unlinkIfPresent(tempPath)
    closed = true
  }
}
