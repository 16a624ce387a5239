import Blobstore
import Foundation
import OCI

/// Where one archive entry goes during an import: small layout files into memory, blobs into
/// a verifying `BlobWriter` of the staging store.
///
/// One type for both so that `ArchiveScanner` (generic over its sink) can hash every entry on
/// its worker lanes in a single pass. The scanner only passes on a failure's text, so the sink
/// keeps the typed error: a full disk must not be reported as a corrupt blob (QA F1).
final class ImportSink: ByteSink, @unchecked Sendable {
  // @unchecked: `memory` and `recorded` are guarded by `lock`; the writer guards itself.
  enum Kind {
    case memory(limit: Int)
    case blob(Digest, BlobWriter)
    /// An entry refused before its first byte (it cannot fit): the first write fails with
    /// this error, which stops the pass.
    case refuse(ImportError)
  }

  /// The archive entry this sink receives.
  let entry: String
  /// The import's target directory, for messages.
  let directory: String
  let kind: Kind
  private let lock = NSLock()
  private var memory: [UInt8] = []
  private var recorded: ImportError?

  init(entry: String, directory: String, _ kind: Kind) {
    self.entry = entry
    self.directory = directory
    self.kind = kind
  }

  var bytes: [UInt8] { lock.withLock { memory } }

  /// The first write failure, already classified; nil while all is well.
  var failure: ImportError? { lock.withLock { recorded } }

  func write(_ bytes: UnsafeRawBufferPointer) throws {
    switch kind {
    case .memory(let limit):
      try lock.withLock {
        guard memory.count + bytes.count <= limit else {
          let error = ImportError.malformed(what: entry, reason: "it is over \(limit) bytes")
          recorded = recorded ?? error
          throw error
        }
        memory.append(contentsOf: bytes)
      }
    case .refuse(let error):
      lock.withLock { recorded = recorded ?? error }
      throw error
    case .blob(_, let writer):
      do {
        try writer.write(bytes)
      } catch {
        let classified =
          (error as? BlobstoreError).map {
            ImportError.staging(entry: entry, directory: directory, $0)
          } ?? .corruptBlob(entry: entry, detail: "\(error)")
        lock.withLock { recorded = recorded ?? classified }
        throw error
      }
    }
  }
}

extension ImportError {
  /// What a staging-store failure on `entry` means to the user: bytes that do not match the
  /// blob's name are a corrupt artifact; a failed write (no space, quota, file-size limit)
  /// is the target directory's problem and must never send the user for another copy.
  static func staging(entry: String, directory: String, _ error: BlobstoreError) -> ImportError {
    switch error {
    case .digestMismatch(_, let actual, let expectedSize, let actualSize):
      let size =
        actualSize == expectedSize
        ? "its \(actualSize) bytes" : "its \(actualSize) bytes (\(expectedSize) expected)"
      return .corruptBlob(
        entry: entry, detail: "\(size) hash to \(actual), not to the digest in its name")
    case .sizeExceeded(_, let expectedSize):
      return .corruptBlob(entry: entry, detail: "it has more than its \(expectedSize) bytes")
    case .io(_, _, let code):
      return .writeFailed(directory: directory, entry: entry, errno: code)
    default:
      return .store(error)
    }
  }
}
