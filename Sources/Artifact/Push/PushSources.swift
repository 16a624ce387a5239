import Foundation
import OCI

/// Bytes already in memory (small blobs read while planning an archive).
final class MemorySource: ByteSource, @unchecked Sendable {
  // @unchecked: one transfer reads it at a time; `offset` is only touched by that reader.
  private let bytes: [UInt8]
  private var offset = 0

  init(_ bytes: [UInt8]) { self.bytes = bytes }

  func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    let count = min(buffer.count, bytes.count - offset)
    guard count > 0 else { return 0 }
    bytes.withUnsafeBytes { raw in
      buffer.baseAddress!.copyMemory(from: raw.baseAddress! + offset, byteCount: count)
    }
    offset += count
    return count
  }
}

/// Hashes a blob while it is uploaded and fails the read that delivers its last bytes when
/// they do not hash to the expected digest: the request body is then incomplete, curl aborts
/// it, and the registry never gets to commit the blob (no PUT `?digest=` completes).
final class HashingSource: ByteSource, @unchecked Sendable {
  // @unchecked: used by one transfer at a time.
  private let base: any ByteSource
  private let expected: Descriptor
  private let hasher = SHA256Hasher()
  private var count: Int64 = 0
  private let onMismatch: @Sendable (Digest) -> Void

  init(
    _ base: any ByteSource, expected: Descriptor, onMismatch: @escaping @Sendable (Digest) -> Void
  ) {
    self.base = base
    self.expected = expected
    self.onMismatch = onMismatch
  }

  func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    let n = try base.read(into: buffer)
    guard n > 0 else { return 0 }
    hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
    count += Int64(n)
    if count >= expected.size {
      let actual = hasher.finalize()
      if actual != expected.digest || count != expected.size {
        onMismatch(actual)
        throw PushError.blobCorrupt(expected.digest, actual: actual, size: count)
      }
    }
    return n
  }
}

/// Hands `RegistryClient.pushBlob` a fresh verified source per attempt, and remembers why a
/// blob cannot be sent: corrupt (never retried), or gone by in the archive stream (retried in
/// a second pass).
final class BlobSourceFactory: @unchecked Sendable {
  // @unchecked: mutable state guarded by `lock`.
  enum Failure: Sendable {
    case corrupt(Digest)
    case needsSecondPass
  }

  let descriptor: Descriptor
  private let make: @Sendable () throws -> any ByteSource
  let rereadable: Bool
  private let lock = NSLock()
  private var opened = 0
  private var _failure: Failure?

  init(
    _ descriptor: Descriptor, rereadable: Bool,
    make: @escaping @Sendable () throws -> any ByteSource
  ) {
    self.descriptor = descriptor
    self.rereadable = rereadable
    self.make = make
  }

  var failure: Failure? { lock.withLock { _failure } }

  func open() throws -> any ByteSource {
    try lock.withLock {
      if case .corrupt(let actual) = _failure {
        throw PushError.blobCorrupt(descriptor.digest, actual: actual, size: descriptor.size)
      }
      if !rereadable && opened > 0 {
        _failure = .needsSecondPass
        throw PushError.needsSecondPass(descriptor.digest)
      }
      opened += 1
    }
    return HashingSource(try make(), expected: descriptor) { [self] actual in
      lock.withLock { _failure = .corrupt(actual) }
    }
  }
}

/// Reads a file from its start (a spooled archive entry).
final class SpoolFileSource: ByteSource, @unchecked Sendable {
  // @unchecked: one transfer reads it at a time.
  private let fd: Int32
  private let path: String

  init(path: String) throws {
    fd = open(path, O_RDONLY | O_CLOEXEC)
    self.path = path
    guard fd >= 0 else { throw PushError.source("cannot open \(path): errno \(errno)") }
  }

  deinit { close(fd) }

  func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    while true {
      let n = Foundation.read(fd, buffer.baseAddress, buffer.count)
      if n >= 0 { return n }
      if errno != EINTR { throw PushError.source("cannot read \(path): errno \(errno)") }
    }
  }
}

/// A copy of an archive entry that can be read any number of times, for a blob whose
/// streamed upload already failed once: the client's retries (and a redirect or a resumed
/// chunk) then have a source to reopen instead of another whole pass over the archive.
/// Up to 4 MiB it is held in memory, larger ones go to a temporary file that is removed
/// once the blob is done.
struct SpooledEntry: Sendable {
  let make: @Sendable () throws -> any ByteSource
  let path: String?

  init(_ entry: ArchiveEntry, digest: Digest, memoryLimit: Int) throws {
    if entry.size <= Int64(memoryLimit) {
      let bytes = try entry.readAll(limit: memoryLimit)
      make = { MemorySource(bytes) }
      path = nil
      return
    }
    let file = FileManager.default.temporaryDirectory.path + "/kk-push-\(digest.encoded).spool"
    let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw PushError.source("cannot create \(file): errno \(errno)") }
    defer { close(fd) }
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    defer { buffer.deallocate() }
    do {
      while true {
        let n = try entry.read(into: buffer)
        if n == 0 { break }
        var done = 0
        while done < n {
          let w = write(fd, buffer.baseAddress! + done, n - done)
          guard w > 0 else {
            throw PushError.source("cannot write \(file): errno \(errno) (is the disk full?)")
          }
          done += w
        }
      }
    } catch {
      unlink(file)
      throw error
    }
    make = { try SpoolFileSource(path: file) }
    path = file
  }

  func remove() { if let path { unlink(path) } }
}
