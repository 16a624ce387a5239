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
  private let rereadable: Bool
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
