import Foundation
import OCI
import TestSupport
import Testing

@testable import Artifact

/// Already-compressed entries go out as gzip members of stored blocks written by kk itself
/// (`StoredMember`), not by zlib: the members must be valid for every reader, split at the
/// same offsets however the source hands its bytes over, and end exactly at the entry's end.
@Suite struct ArchiveStoredMemberTests {
  /// A source that gives its bytes in small, uneven reads (a slow pipe, a short read).
  final class DribblingSource: ByteSource, @unchecked Sendable {
    private let bytes: [UInt8]
    private var offset = 0
    private var turn = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
      turn += 1
      let count = min(buffer.count, bytes.count - offset, [1, 4093, 65_535, 70_001][turn % 4])
      bytes.withUnsafeBytes {
        buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + count]))
      }
      offset += count
      return count
    }
  }

  /// Incompressible bytes with a gzip magic, as a layer starts.
  static func layer(_ size: Int, seed: UInt64) -> [UInt8] {
    var out = pseudoRandomBytes(size, seed: seed &* 0x9E37_79B9_7F4A_7C15)
    if size >= 2 {
      out[0] = 0x1f
      out[1] = 0x8b
    }
    return out
  }

  /// One byte, short of a block, a block, a block and a byte, whole blocks, past 1 MiB reads.
  @Test(arguments: [1, 511, 65_535, 65_536, 3 * 65_535, (1 << 20) + 7])
  func storedMembersAreValidAndIndependentOfReadSizes(size: Int) async throws {
    let dir = try ScratchDir()
    let data = Self.layer(size, seed: UInt64(size))
    let whole = try ArchiveWriter(path: dir.path + "/whole.tar.gz")
    try whole.add(name: "index.json", bytes: Array(#"{"a":1}"#.utf8))
    try whole.add(name: "blobs/sha256/layer", bytes: data, hint: .compressed)
    try whole.add(name: "blobs/sha256/after", bytes: Array("tail".utf8))
    try whole.finish()
    let dribbled = try ArchiveWriter(path: dir.path + "/dribbled.tar.gz")
    try dribbled.add(name: "index.json", bytes: Array(#"{"a":1}"#.utf8))
    try dribbled.add(
      name: "blobs/sha256/layer", size: Int64(size), from: DribblingSource(data), hint: .compressed)
    try dribbled.add(name: "blobs/sha256/after", bytes: Array("tail".utf8))
    try dribbled.finish()
    #expect(try dir.read("whole.tar.gz") == dir.read("dribbled.tar.gz"))
    // From a file, read straight into the output buffers; with an .auto hint, by its magic.
    let source = try dir.file("src/layer", data)
    for (name, hint) in [
      ("direct.tar.gz", EntryCompressibility.compressed), ("sniffed.tar.gz", .auto),
    ]
    where size >= 2 {
      let direct = try ArchiveWriter(path: dir.path + "/" + name)
      try direct.add(name: "index.json", bytes: Array(#"{"a":1}"#.utf8))
      var seen: [UInt8] = []
      let encoding = try direct.addFile(
        name: "blobs/sha256/layer", path: source, hint: hint, observe: { seen += $0 })
      #expect(encoding == .stored)
      #expect(seen == data)
      try direct.add(name: "blobs/sha256/after", bytes: Array("tail".utf8))
      try direct.finish()
      #expect(try dir.read(name) == dir.read("whole.tar.gz"), "\(name)")
    }

    let path = dir.path + "/whole.tar.gz"
    // gzip checks every member's crc32 and length; Python's zlib counts the members.
    let test = try await ProcessRunner.run("gzip", ["-t", path])
    #expect(test.succeeded, "\(test)")
    #expect(try await ChunkedDeflateTests.members(path) == 3)
    let extract = try await ProcessRunner.run("tar", ["xzf", path, "-C", dir.path])
    #expect(extract.succeeded, "\(extract)")
    #expect(try dir.read("blobs/sha256/layer") == data)
    #expect(try dir.read("blobs/sha256/after") == Array("tail".utf8))
    // Stored: the layer costs its bytes, 5 per block, and a member's header and trailer.
    let blocks = (size + 65_534) / 65_535
    let gz = try dir.read("whole.tar.gz")
    #expect(gz.count >= size + 5 * blocks + 18)
    #expect(gz.count < size + 5 * blocks + 18 + 1024)
  }

  /// A file shorter than it was when the entry started (truncated while read) fails the
  /// entry; nothing is left.
  @Test func fileShrinkingUnderTheDirectPathLeavesNothing() throws {
    let dir = try ScratchDir()
    let writer = try ArchiveWriter(path: dir.path + "/a.tar.gz")
    let path = try dir.file("src/layer", Self.layer(300_000, seed: 8))
    var truncated = false
    #expect(throws: ArchiveError.self) {
      try writer.addFile(
        name: "layer", path: path, hint: .compressed,
        observe: { _ in
          if !truncated {
            truncated = true
            _ = truncate(path, 1000)
          }
        })
    }
    #expect(!FileManager.default.fileExists(atPath: dir.path + "/a.tar.gz"))
    #expect(!FileManager.default.fileExists(atPath: dir.path + "/a.tar.gz.partial"))
  }

  /// A source that ends early fails the entry; nothing is left under either name.
  @Test func shortSourceInsideAStoredMemberLeavesNothing() throws {
    let dir = try ScratchDir()
    let data = Self.layer(100_000, seed: 5)
    let writer = try ArchiveWriter(path: dir.path + "/a.tar.gz")
    #expect(
      throws: ArchiveError.sizeMismatch(
        path: dir.path + "/a.tar.gz", entry: "layer", declared: 200_000, actual: 100_000)
    ) {
      try writer.add(name: "layer", size: 200_000, from: BytesSource(data), hint: .compressed)
    }
    #expect(try dir.listing() == [])
  }
}
