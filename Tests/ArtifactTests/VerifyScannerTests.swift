import Foundation
import OCI
import Testing

@testable import Artifact

/// A sink that hashes what it is given, like the verifier's blob inspector.
final class HashingSink: ByteSink, @unchecked Sendable {
  let hasher = SHA256Hasher()
  let failAfter: Int64?
  init(failAfter: Int64? = nil) { self.failAfter = failAfter }
  func write(_ bytes: UnsafeRawBufferPointer) throws {
    hasher.update(bytes)
    if let failAfter, hasher.count > failAfter { throw CocoaError(.fileWriteOutOfSpace) }
  }
}

@Suite("ArchiveScanner")
struct VerifyScannerTests {
  static let contents: [(String, [UInt8])] = [
    ("oci-layout", Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8)),
    ("blobs/sha256/big", pseudoRandomBytes(5 << 20, seed: 11)),
    ("blobs/sha256/empty", []),
    ("blobs/sha256/odd", pseudoRandomBytes((1 << 20) + 1, seed: 12)),
    ("blobs/sha256/small", pseudoRandomBytes(1000, seed: 13)),
    ("README", Array("not part of the layout".utf8)),
  ]

  @Test(arguments: ["a.tar", "a.tar.gz", "a.tar.zst"])
  func hashesEveryEntryInOrderAcrossWorkers(name: String) throws {
    let dir = try ScratchDir()
    let writer = try ArchiveWriter(path: dir.path + "/" + name)
    for (entry, bytes) in Self.contents { try writer.add(name: entry, bytes: bytes, hint: .auto) }
    try writer.finish()

    for workers in [1, 2, 3] {
      let result = try ArchiveScanner.scan(
        path: dir.path + "/" + name, workers: workers, buffersPerWorker: 2
      ) {
        name, _ in name == "README" ? nil : HashingSink()
      }
      let expected = Self.contents.filter { $0.0 != "README" }
      #expect(result.entries.map(\.name) == expected.map(\.0))
      for (scanned, (_, bytes)) in zip(result.entries, expected) {
        #expect(scanned.size == Int64(bytes.count))
        #expect(scanned.sink.hasher.count == Int64(bytes.count))
        #expect(scanned.sink.hasher.finalize() == SHA256Hasher.digest(bytes), "\(scanned.name)")
      }
    }
  }

  @Test func truncatedArchiveStopsWorkersAndNamesEntry() throws {
    let dir = try ScratchDir()
    let writer = try ArchiveWriter(path: dir.path + "/a.tar.gz")
    for (entry, bytes) in Self.contents { try writer.add(name: entry, bytes: bytes, hint: .auto) }
    try writer.finish()
    let bytes = try dir.read("a.tar.gz")
    let cut = try dir.file("cut.tar.gz", Array(bytes.prefix(3 << 20)))
    #expect(throws: ArchiveError.truncated(path: cut, entry: "blobs/sha256/big")) {
      try ArchiveScanner.scan(path: cut) { _, _ in HashingSink() }
    }
  }

  @Test func failingSinkIsConsumerFailureNamingEntry() throws {
    let dir = try ScratchDir()
    let writer = try ArchiveWriter(path: dir.path + "/a.tar")
    for (entry, bytes) in Self.contents { try writer.add(name: entry, bytes: bytes, hint: .auto) }
    try writer.finish()
    #expect {
      try ArchiveScanner.scan(path: dir.path + "/a.tar") { name, _ in
        HashingSink(failAfter: name == "blobs/sha256/big" ? 1 << 20 : nil)
      }
    } throws: { error in
      guard case .consumerFailed(_, let entry, _) = error as? ArchiveError else { return false }
      return entry == "blobs/sha256/big"
    }
  }
}
