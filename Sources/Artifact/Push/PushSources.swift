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

/// Hands `RegistryClient.pushBlob` a fresh source per attempt, and remembers a blob that
/// cannot be sent from this pass over the archive (retried in a further pass).
///
/// Sources are not hashed on the way: the registry hashes what it receives and refuses a
/// final `PUT ?digest=` that does not match (`DIGEST_INVALID`, required by the OCI
/// distribution spec, done by docker-registry and Harbor), so a corrupt blob is never
/// committed either way, and the registry's hash is the one that counts. Hashing here as
/// well cost a push a sixth of its CPU on a machine the registry shares. When the registry
/// refuses, ``localDigest()`` tells a corrupt source from bytes changed on the way.
final class BlobSourceFactory: @unchecked Sendable {
  // @unchecked: mutable state guarded by `lock`.
  let descriptor: Descriptor
  private let make: @Sendable () throws -> any ByteSource
  let rereadable: Bool
  private let lock = NSLock()
  private var opened = 0
  private var _needsSecondPass = false

  init(
    _ descriptor: Descriptor, rereadable: Bool,
    make: @escaping @Sendable () throws -> any ByteSource
  ) {
    self.descriptor = descriptor
    self.rereadable = rereadable
    self.make = make
  }

  /// The source was wanted again after its one read (a stream): send it in a further pass.
  var needsSecondPass: Bool { lock.withLock { _needsSecondPass } }

  func open() throws -> any ByteSource {
    try lock.withLock {
      if !rereadable && opened > 0 {
        _needsSecondPass = true
        throw PushError.needsSecondPass(descriptor.digest)
      }
      opened += 1
    }
    return try make()
  }

  /// What the source's bytes hash to (nil when it cannot be read again): asked only after
  /// the registry refused them, to name a corrupt blob as such.
  func localDigest() -> (Digest, Int64)? {
    guard rereadable, let source = try? make() else { return nil }
    let hasher = SHA256Hasher()
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    defer { buffer.deallocate() }
    var count: Int64 = 0
    while count < descriptor.size {
      let window = UnsafeMutableRawBufferPointer(
        rebasing: buffer[0..<Int(min(Int64(buffer.count), descriptor.size - count))])
      guard let n = try? source.read(into: window), n > 0 else { break }
      hasher.update(UnsafeRawBufferPointer(rebasing: window[0..<n]))
      count += Int64(n)
    }
    return (hasher.finalize(), count)
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
