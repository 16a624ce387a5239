import Blobstore
import Foundation
import OCI

/// Where a downloaded raw file (a binary, an ISO) goes when the export writes a `.tar.gz` into
/// a lasting cache: its bytes are hashed and deflated into their gzip members as they arrive,
/// and only the members are kept (`CompressedForms`), never the raw file.
///
/// Why: the members are all a `.tar.gz` export ever reads of a raw file (a warm export copies
/// them, SPEC 3.4), so keeping the raw bytes as well cost a cold export a write of every byte
/// into the page cache and a read back (660 MB of binaries on the bench, on a machine where
/// fresh page-cache pages are dear). The members are the ones the artifact writer would make
/// (same `ChunkedDeflateParameters`, boundaries counted from the first byte), so the artifact
/// is byte-identical either way. They are recorded only once the raw bytes hashed to the
/// expected digest; on a mismatch nothing is kept and `commit` throws the store's
/// `digestMismatch`, which the downloader retries like any other.
///
/// A file whose first bytes carry a compressed-format magic is stored in the artifact, not
/// deflated: it goes into the store as a raw blob, exactly as without this sink.
final class FormDeflatingSink: ResumableSink, @unchecked Sendable {
  // @unchecked: the state is guarded by `lock` (one transfer writes at a time, but the
  // download's bookkeeping reads `written` from other threads meanwhile, as of BlobWriter).
  private enum Mode {
    /// Fewer than `sniffBytes` seen: not yet known whether the file is compressed.
    case undecided([UInt8])
    case deflating(ChunkedDeflater, CompressedForms.Capture, SHA256Hasher)
    case raw(BlobWriter)
  }

  /// Bytes the writer's `.auto` decision looks at (`ArchiveWriter.isCompressed`).
  static let sniffBytes = 64

  let expected: Descriptor
  private let forms: CompressedForms
  private let lock = NSLock()
  private var mode: Mode = .undecided([])
  private var count: Int64 = 0

  /// Bytes taken so far: where a resumed download continues.
  var written: Int64 { lock.withLock { count } }

  /// - Parameter expected: the raw file's digest and size (from `Content-Length`).
  init(expected: Descriptor, forms: CompressedForms) {
    self.expected = expected
    self.forms = forms
  }

  deinit { cancelLocked() }

  func write(_ bytes: UnsafeRawBufferPointer) throws {
    try lock.withLock { try writeLocked(bytes) }
  }

  private func writeLocked(_ bytes: UnsafeRawBufferPointer) throws {
    guard bytes.count > 0 else { return }
    guard count + Int64(bytes.count) <= expected.size else {
      throw BlobstoreError.sizeExceeded(expected: expected.digest, expectedSize: expected.size)
    }
    count += Int64(bytes.count)
    switch mode {
    case .undecided(var head):
      head.append(contentsOf: bytes)
      if head.count < Self.sniffBytes && count < expected.size {
        mode = .undecided(head)
        return
      }
      try decide(head)
    case .deflating(let deflater, let capture, let hasher):
      hasher.update(bytes)
      try deflater.write(bytes) { capture.write($0) }
      // The members are the only copy kept: a write that failed (a file-size limit, a full
      // disk) fails the download now, naming the file and the errno, not at the end.
      if let failure = capture.failure { throw failure }
    case .raw(let writer):
      try writer.write(bytes)
    }
  }

  /// Chooses the mode from the first bytes and hands them on.
  private func decide(_ head: [UInt8]) throws {
    let compressed = head.withUnsafeBytes { EntryCompressibility.looksCompressed($0) }
    if compressed {
      let writer = try forms.store.writer(expecting: expected.digest, size: expected.size)
      mode = .raw(writer)
      try head.withUnsafeBytes { try writer.write($0) }
      return
    }
    guard let capture = forms.capture(expected) else {
      throw BlobstoreError.io(
        path: forms.store.ingestDirectory, operation: "create a temporary file", errno: errno)
    }
    let deflater = ChunkedDeflater(
      parameters: forms.parameters, workers: 0, path: forms.store.root)
    let hasher = SHA256Hasher()
    mode = .deflating(deflater, capture, hasher)
    try head.withUnsafeBytes { bytes in
      hasher.update(bytes)
      try deflater.write(bytes) { capture.write($0) }
    }
  }

  /// The server started the body again: everything so far is dropped.
  func reset() throws {
    lock.withLock {
      cancelLocked()
      count = 0
    }
  }

  func cancel() { lock.withLock { cancelLocked() } }

  private func cancelLocked() {
    switch mode {
    case .undecided: break
    case .deflating(_, let capture, _): capture.discard()
    case .raw(let writer): writer.cancel()
    }
    mode = .undecided([])
  }

  /// Keeps what arrived: the members and their record, or the raw blob. Throws the store's
  /// `digestMismatch` when the bytes do not hash to the expected digest (nothing is kept).
  func commit(batch: BlobBatch?) throws {
    try lock.withLock { try commitLocked(batch: batch) }
  }

  private func commitLocked(batch: BlobBatch?) throws {
    switch mode {
    case .undecided(let head):
      // A body shorter than the sniff window but complete.
      try decide(head)
      try commitLocked(batch: batch)
    case .raw(let writer):
      try writer.commit(batch: batch)
    case .deflating(let deflater, let capture, let hasher):
      try deflater.finish { capture.write($0) }
      let actual = hasher.finalize()
      guard actual == expected.digest, count == expected.size else {
        cancelLocked()
        throw BlobstoreError.digestMismatch(
          expected: expected.digest, actual: actual, expectedSize: expected.size,
          actualSize: count)
      }
      mode = .undecided([])
      if let failure = forms.record(capture) { throw failure }
    }
  }
}
