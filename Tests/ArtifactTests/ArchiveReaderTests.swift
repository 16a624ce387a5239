import Foundation
import Testing

@testable import Artifact

@Suite("ArchiveReader")
struct ArchiveReaderTests {
  /// Reads every entry fully, returning (name, bytes).
  static func readAll(_ path: String) throws -> [(String, [UInt8])] {
    let reader = try ArchiveReader(path: path)
    var out: [(String, [UInt8])] = []
    while let entry = try reader.next() {
      out.append((entry.name, try entry.readAll(limit: 1 << 26)))
    }
    return out
  }

  @Test func readsPlainTarSkippingDirectoriesAndDotSlash() throws {
    let dir = try ScratchDir()
    let tar = TarFixture.archive([
      TarFixture.entry("./", [], kind: .directory),
      TarFixture.entry("./oci-layout", Array("{}".utf8)),
      TarFixture.entry("./blobs/", [], kind: .directory),
      TarFixture.entry("blobs/sha256/abc", [1, 2, 3]),
    ])
    let entries = try Self.readAll(try dir.file("a.tar", tar))
    #expect(entries.map(\.0) == ["oci-layout", "blobs/sha256/abc"])
    #expect(entries[1].1 == [1, 2, 3])
  }

  @Test func refusesDotDot() throws {
    let dir = try ScratchDir()
    let path = try dir.file("a.tar", TarFixture.archive([TarFixture.entry("../x", [1])]))
    #expect(
      throws: ArchiveError.unsafePath(
        path: path, entry: "../x", reason: "'..' components are not allowed")
    ) {
      try Self.readAll(path)
    }
    let nested = try dir.file("b.tar", TarFixture.archive([TarFixture.entry("blobs/../../x", [1])]))
    #expect(throws: ArchiveError.self) { try Self.readAll(nested) }
    #expect(try dir.listing() == ["a.tar", "b.tar"], "the reader writes nothing")
  }

  @Test func refusesAbsolutePath() throws {
    let dir = try ScratchDir()
    let path = try dir.file("a.tar", TarFixture.archive([TarFixture.entry("/etc/passwd", [1])]))
    #expect(
      throws: ArchiveError.unsafePath(
        path: path, entry: "/etc/passwd", reason: "absolute paths are not allowed")
    ) { try Self.readAll(path) }
  }

  @Test func refusesSymlinkPointingOutside() throws {
    let dir = try ScratchDir()
    let path = try dir.file(
      "a.tar",
      TarFixture.archive([
        TarFixture.entry("oci-layout", [1]),
        TarFixture.entry("blobs/sha256/evil", [], kind: .symlink, link: "/etc/shadow"),
      ]))
    #expect(
      throws: ArchiveError.forbiddenEntryType(
        path: path, entry: "blobs/sha256/evil", type: "symlink")
    ) {
      try Self.readAll(path)
    }
  }

  @Test func refusesHardlink() throws {
    let dir = try ScratchDir()
    let path = try dir.file(
      "a.tar",
      TarFixture.archive([
        TarFixture.entry("oci-layout", [1]),
        TarFixture.entry("index.json", [], kind: .hardlink, link: "oci-layout"),
      ]))
    #expect(
      throws: ArchiveError.forbiddenEntryType(path: path, entry: "index.json", type: "hardlink")
    ) {
      try Self.readAll(path)
    }
  }

  @Test func refusesDevicesAndFifos() throws {
    let dir = try ScratchDir()
    let fifo = try dir.file(
      "f.tar", TarFixture.archive([TarFixture.entry("pipe", [], kind: .fifo)]))
    #expect(throws: ArchiveError.forbiddenEntryType(path: fifo, entry: "pipe", type: "fifo")) {
      try Self.readAll(fifo)
    }
    let device = try dir.file(
      "d.tar", TarFixture.archive([TarFixture.entry("null", [], kind: .charDevice)]))
    #expect(
      throws: ArchiveError.forbiddenEntryType(path: device, entry: "null", type: "character device")
    ) {
      try Self.readAll(device)
    }
  }

  @Test func refusesDuplicateNamesEvenWhenSpelledDifferently() throws {
    let dir = try ScratchDir()
    let path = try dir.file(
      "a.tar",
      TarFixture.archive([
        TarFixture.entry("index.json", [1]), TarFixture.entry("./index.json", [2]),
      ]))
    #expect(throws: ArchiveError.duplicateEntry(path: path, entry: "index.json")) {
      try Self.readAll(path)
    }
  }

  @Test func truncatedMidEntryNamesTheEntry() throws {
    let dir = try ScratchDir()
    let full = TarFixture.archive([
      TarFixture.entry("oci-layout", [1]),
      TarFixture.entry("blobs/sha256/big", pseudoRandomBytes(100_000)),
    ])
    let path = try dir.file("a.tar", Array(full.prefix(512 * 2 + 512 + 50_000)))
    #expect(throws: ArchiveError.truncated(path: path, entry: "blobs/sha256/big")) {
      try Self.readAll(path)
    }
  }

  @Test func truncatedGzipMidEntryNamesTheEntry() throws {
    let dir = try ScratchDir()
    let writer = try ArchiveWriter(path: dir.path + "/a.tar.gz")
    try writer.add(name: "oci-layout", bytes: [1])
    try writer.add(name: "blobs/sha256/big", bytes: pseudoRandomBytes(300_000), hint: .compressed)
    try writer.finish()
    let bytes = try dir.read("a.tar.gz")
    let path = try dir.file("cut.tar.gz", Array(bytes.prefix(bytes.count / 2)))
    #expect(throws: ArchiveError.truncated(path: path, entry: "blobs/sha256/big")) {
      try Self.readAll(path)
    }
  }

  @Test func emptyFileIsTypedError() throws {
    let dir = try ScratchDir()
    let path = try dir.file("empty.tar.gz", [])
    #expect(throws: ArchiveError.empty(path: path)) { try ArchiveReader(path: path) }
  }

  @Test func randomGarbageIsNotAnArchive() throws {
    let dir = try ScratchDir()
    let path = try dir.file("junk.tar", pseudoRandomBytes(70_000))
    #expect {
      try Self.readAll(path)
    } throws: { error in
      guard case .notAnArchive(let at, _) = error as? ArchiveError else { return false }
      return at == path
    }
  }

  @Test func missingFileIsIOError() throws {
    let dir = try ScratchDir()
    #expect {
      try ArchiveReader(path: dir.path + "/nope.tar")
    } throws: { error in
      guard case .io(_, _, let code) = error as? ArchiveError else { return false }
      return code == ENOENT
    }
  }

  @Test(arguments: [
    ("a.tar.gz", "renamed.tar", ArchiveCompression.gzip),
    ("a.tar.zst", "renamed.tar.gz", ArchiveCompression.zstd),
    ("a.tar", "renamed.tar.zst", ArchiveCompression.none),
  ])
  func detectsCompressionByMagicNotName(
    written: String, renamed: String, expected: ArchiveCompression
  ) throws {
    let dir = try ScratchDir()
    let writer = try ArchiveWriter(path: dir.path + "/" + written)
    try writer.add(name: "oci-layout", bytes: Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))
    try writer.finish()
    try FileManager.default.moveItem(
      atPath: dir.path + "/" + written, toPath: dir.path + "/" + renamed)
    let reader = try ArchiveReader(path: dir.path + "/" + renamed)
    let entry = try #require(try reader.next())
    #expect(reader.compression == expected)
    #expect(entry.name == "oci-layout")
    #expect(try entry.readAll(limit: 100) == Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))
    #expect(try reader.next() == nil)
  }

  @Test func entryCannotBeReadAfterReaderMovesOn() throws {
    let dir = try ScratchDir()
    let path = try dir.file(
      "a.tar", TarFixture.archive([TarFixture.entry("a", [1, 2]), TarFixture.entry("b", [3])]))
    let reader = try ArchiveReader(path: path)
    let first = try #require(try reader.next())
    let second = try #require(try reader.next())
    var buffer = [UInt8](repeating: 0, count: 8)
    #expect(throws: ArchiveError.self) {
      try buffer.withUnsafeMutableBytes { try first.read(into: $0) }
    }
    #expect(try second.readAll(limit: 8) == [3])
  }
}
