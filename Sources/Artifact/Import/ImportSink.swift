import Blobstore
import Foundation
import OCI

/// Where one archive entry goes during an import: small layout files into memory, blobs into
/// a verifying `BlobWriter` of the staging store.
///
/// One type for both so that `ArchiveScanner` (generic over its sink) can hash every entry on
/// its worker lanes in a single pass.
final class ImportSink: ByteSink, @unchecked Sendable {
  // @unchecked: `memory` is guarded by `lock`; the writer guards itself.
  enum Kind {
    case memory(limit: Int)
    case blob(Digest, BlobWriter)
  }

  let kind: Kind
  private let lock = NSLock()
  private var memory: [UInt8] = []

  init(_ kind: Kind) { self.kind = kind }

  var bytes: [UInt8] { lock.withLock { memory } }

  func write(_ bytes: UnsafeRawBufferPointer) throws {
    switch kind {
    case .memory(let limit):
      try lock.withLock {
        guard memory.count + bytes.count <= limit else {
          throw ImportError.malformed(what: "layout file", reason: "over \(limit) bytes")
        }
        memory.append(contentsOf: bytes)
      }
    case .blob(_, let writer):
      try writer.write(bytes)
    }
  }
}
