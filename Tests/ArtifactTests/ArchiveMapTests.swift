import Foundation
import OCI
import TestSupport
import Testing

@testable import Artifact

/// `ArchiveMap` finds every entry of an archive kk wrote without reading the large ones, and
/// `ArchiveEntrySource` reads any entry by offset with exactly the bytes a stream reader
/// gets; archives it cannot map (zstd, a big foreign gzip) are left to the stream reader.
@Suite struct ArchiveMapTests {
  /// Incompressible data with a gzip magic (a layer): a stored member.
  static func layer(_ size: Int, seed: UInt64) -> [UInt8] {
    ArchiveStoredMemberTests.layer(size, seed: seed)
  }

  /// Compressible, binary-like data: deflated chunks when large.
  static func binary(_ size: Int) -> [UInt8] {
    (0..<size).map { UInt8(truncatingIfNeeded: ($0 / 7) &* 31 ^ ($0 >> 11)) }
  }

  /// Every kind of entry the writer makes, with sizes around the block and chunk edges.
  static let contents: [(String, [UInt8], EntryCompressibility)] = [
    ("oci-layout", Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8), .compressible),
    ("index.json", Array(#"{"schemaVersion":2,"manifests":[]}"#.utf8), .compressible),
    ("blobs/sha256/empty", [], .auto),
    ("blobs/sha256/one", layer(1, seed: 1), .compressed),
    ("blobs/sha256/block", layer(65_535, seed: 2), .compressed),
    ("blobs/sha256/blockplus", layer(65_536, seed: 3), .compressed),
    ("blobs/sha256/layer", layer(3 * 65_535 + 100, seed: 4), .compressed),
    ("blobs/sha256/binary", binary((5 << 20) / 2 + 3), .auto),
    ("blobs/sha256/random-binary", pseudoRandomBytes((3 << 20) / 2, seed: 9), .auto),
    ("blobs/sha256/small", binary(70_000), .auto),
    (
      "blobs/sha256/" + String(repeating: "n", count: 120),
      Array("a long name (ustar prefix)".utf8),
      .compressible
    ),
    // Over ustar's 255 bytes: the name goes in a pax `path` record.
    ("dir/" + String(repeating: "p", count: 300), layer(70_000, seed: 6), .compressed),
  ]

  static func write(_ path: String) throws {
    let writer = try ArchiveWriter(path: path)
    for (name, bytes, hint) in contents { try writer.add(name: name, bytes: bytes, hint: hint) }
    try writer.finish()
  }

  /// The entry's bytes through the map: inline, or read by offset in uneven pieces.
  static func read(_ map: ArchiveMap, _ name: String) throws -> [UInt8] {
    let entry = try #require(map.entries[name], "\(name)")
    if case .inline(let bytes) = entry.placement { return bytes }
    let source = try ArchiveEntrySource(entry, in: map)
    var out: [UInt8] = []
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 300_007, alignment: 16)
    defer { buffer.deallocate() }
    var turn = 0
    while true {
      turn += 1
      let window = [1, 4096, 300_007, 65_534][turn % 4]
      let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<window]))
      if n == 0 { break }
      out += UnsafeRawBufferPointer(rebasing: buffer[..<n])
    }
    return out
  }

  @Test("gzip and plain tar: every entry mapped, read by offset equals what was written")
  func everyEntryReadsBack() throws {
    let dir = try ScratchDir()
    for name in ["a.tar.gz", "a.tar"] {
      let path = dir.path + "/" + name
      try Self.write(path)
      let map = try #require(try ArchiveMap.map(path: path), "\(name)")
      #expect(map.names == Self.contents.map(\.0))
      for (entryName, bytes, _) in Self.contents {
        #expect(try Self.read(map, entryName) == bytes, "\(name) \(entryName)")
        #expect(map.entries[entryName]?.size == Int64(bytes.count))
      }
      guard name.hasSuffix(".gz") else { continue }
      // Large data is never inflated while mapping: layers are one stored member, binaries
      // deflated 1 MiB chunks, small JSON inline.
      func spans(_ entry: String) -> [ArchiveMap.MemberSpan] {
        if case .members(let spans) = map.entries[entry]?.placement { return spans }
        return []
      }
      #expect(spans("blobs/sha256/layer").count == 1)
      #expect(spans("blobs/sha256/binary").count == 3)
      #expect(spans("blobs/sha256/binary").map(\.data) == [1 << 20, 1 << 20, (1 << 19) + 3])
      if case .inline = map.entries["index.json"]?.placement {} else { Issue.record("index.json") }
    }
  }

  /// A copy cut short is named when the archive is mapped, before anything reads an entry:
  /// a push used to upload every blob before the cut and fail only at the cut entry.
  @Test("an archive cut inside an entry's data fails the map, naming the entry")
  func truncatedArchiveFailsTheMap() throws {
    let dir = try ScratchDir()
    for name in ["a.tar.gz", "a.tar"] {
      let path = dir.path + "/" + name
      try Self.write(path)
      let whole = try dir.read(name)
      let map = try #require(try ArchiveMap.map(path: path))
      guard case .members(let spans) = map.entries["blobs/sha256/layer"]?.placement ?? .inline([]),
        let span = spans.first
      else {
        // A plain tar keeps its data in place: cut in the middle of the layer's bytes.
        guard case .contiguous(let offset) = map.entries["blobs/sha256/layer"]?.placement else {
          Issue.record("\(name): layer not mapped")
          continue
        }
        let cut = dir.path + "/cut-" + name
        try Data(whole[..<Int(offset + 1000)]).write(to: URL(fileURLWithPath: cut))
        let error = #expect(throws: ArchiveError.self) { _ = try ArchiveMap.map(path: cut) }
        #expect("\(String(describing: error))".contains("blobs/sha256/layer"))
        continue
      }
      // Inside the layer's member, and right after it (at a member boundary).
      for end in [span.offset + 1000, span.offset + span.member] {
        let cut = dir.path + "/cut-\(end)-" + name
        try Data(whole[..<Int(end)]).write(to: URL(fileURLWithPath: cut))
        let error = #expect(throws: ArchiveError.self) { _ = try ArchiveMap.map(path: cut) }
        #expect(
          "\(String(describing: error))".contains("truncated"), "\(String(describing: error))")
      }
    }
  }

  @Test("a flipped byte inside a stored member fails its reader, naming the entry")
  func damagedStoredMemberIsCaught() throws {
    let dir = try ScratchDir()
    let path = dir.path + "/a.tar.gz"
    try Self.write(path)
    let map = try #require(try ArchiveMap.map(path: path))
    guard case .members(let spans) = map.entries["blobs/sha256/layer"]?.placement,
      let span = spans.first
    else {
      Issue.record("layer not in a member")
      return
    }
    var bytes = try dir.read("a.tar.gz")
    bytes[Int(span.offset) + 40_000] ^= 0x20
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    let damaged = try #require(try ArchiveMap.map(path: path))
    #expect(throws: ArchiveError.self) { try Self.read(damaged, "blobs/sha256/layer") }
    do {
      _ = try Self.read(damaged, "blobs/sha256/layer")
    } catch {
      #expect("\(error)".contains("blobs/sha256/layer") && "\(error)".contains("crc32"), "\(error)")
    }
    // The others still read.
    #expect(try Self.read(damaged, "blobs/sha256/binary") == Self.contents[7].1)
  }

  @Test("not mapped: zstd, and a foreign gzip that would have to be inflated past the budget")
  func unmappableArchivesAreLeftToTheStream() async throws {
    let dir = try ScratchDir()
    try Self.write(dir.path + "/a.tar.zst")
    #expect(try ArchiveMap.map(path: dir.path + "/a.tar.zst") == nil)
    // `tar czf`: one gzip member, no lengths. Small enough, it maps (all inline); over the
    // budget, it does not.
    _ = try dir.file("src/blob", Self.binary(3 << 20))
    let tar = try await ProcessRunner.run(
      "tar", ["czf", dir.path + "/f.tgz", "-C", dir.path + "/src", "blob"])
    #expect(tar.succeeded, "\(tar)")
    let small = try #require(try ArchiveMap.map(path: dir.path + "/f.tgz"))
    #expect(try Self.read(small, "blob") == Self.binary(3 << 20))
    #expect(try ArchiveMap.map(path: dir.path + "/f.tgz", inlineLimit: 1 << 20) == nil)
    // Not an archive at all.
    _ = try dir.file("junk", Array(repeating: 7, count: 4096))
    #expect(try ArchiveMap.map(path: dir.path + "/junk") == nil)
  }
}
