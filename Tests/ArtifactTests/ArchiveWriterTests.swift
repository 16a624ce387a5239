import Foundation
import OCI
import Testing

@testable import Artifact

@Suite("ArchiveWriter")
struct ArchiveWriterTests {
  /// A mixed set of entries: JSON, a compressible "binary", an already-gzip layer.
  static func writeSample(to path: String, scratch: ScratchDir) throws {
    let layer = try scratch.file("layer.bin", [0x1f, 0x8b] + pseudoRandomBytes(200_000, seed: 7))
    let writer = try ArchiveWriter(path: path)
    try writer.add(name: "oci-layout", bytes: Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))
    try writer.add(
      name: "index.json", bytes: Array(String(repeating: #"{"a":1},"#, count: 500).utf8))
    try writer.addFile(name: "blobs/sha256/layer", path: layer)
    let text = Array(String(repeating: "kubeadm binary text ", count: 20_000).utf8)
    try writer.add(name: "blobs/sha256/text", size: Int64(text.count), from: BytesSource(text))
    try writer.finish()
  }

  @Test(arguments: ["a.tar.gz", "a.tgz", "a.tar.zst", "a.tar"])
  func sameInputsGiveIdenticalBytes(name: String) throws {
    let dir = try ScratchDir()
    try FileManager.default.createDirectory(
      atPath: dir.path + "/one", withIntermediateDirectories: false)
    try FileManager.default.createDirectory(
      atPath: dir.path + "/two", withIntermediateDirectories: false)
    try Self.writeSample(to: dir.path + "/one/" + name, scratch: dir)
    Thread.sleep(forTimeInterval: 1.1)  // a leaked timestamp would now differ
    try Self.writeSample(to: dir.path + "/two/" + name, scratch: dir)
    let one = try dir.read("one/" + name)
    #expect(one.count > 1000)
    #expect(one == (try dir.read("two/" + name)))
  }

  @Test func roundTripThroughReader() throws {
    let dir = try ScratchDir()
    for name in ["a.tar.gz", "a.tar.zst", "a.tar"] {
      try Self.writeSample(to: dir.path + "/" + name, scratch: dir)
      let entries = try ArchiveReaderTests.readAll(dir.path + "/" + name)
      #expect(
        entries.map(\.0) == ["oci-layout", "index.json", "blobs/sha256/layer", "blobs/sha256/text"])
      #expect(entries[2].1 == (try dir.read("layer.bin")))
      #expect(entries[3].1 == Array(String(repeating: "kubeadm binary text ", count: 20_000).utf8))
    }
  }

  @Test func tarHeadersAreDeterministicMetadata() throws {
    let dir = try ScratchDir()
    let writer = try ArchiveWriter(path: dir.path + "/a.tar")
    try writer.add(name: "blobs/sha256/x", bytes: [1, 2, 3])
    try writer.finish()
    let tar = try dir.read("a.tar")
    func field(_ offset: Int, _ width: Int) -> String {
      String(decoding: tar[offset..<offset + width].prefix { $0 != 0 }, as: UTF8.self)
    }
    #expect(field(0, 100) == "blobs/sha256/x")
    #expect(Int(field(100, 8).trimmingCharacters(in: .whitespaces), radix: 8) == 0o644)
    #expect(Int(field(108, 8).trimmingCharacters(in: .whitespaces), radix: 8) == 0)  // uid
    #expect(Int(field(116, 8).trimmingCharacters(in: .whitespaces), radix: 8) == 0)  // gid
    #expect(Int(field(136, 12).trimmingCharacters(in: .whitespaces), radix: 8) == 0)  // mtime
    #expect(field(265, 32) == "" && field(297, 32) == "")  // uname, gname
    // One header, one data block, the end-of-archive marker, and no block padding.
    #expect(tar.count == 512 + 512 + 1024)
  }

  @Test func gzipHeaderHasNoNameNoTimeAndStoresCompressedLayers() throws {
    let dir = try ScratchDir()
    let random = pseudoRandomBytes(4 << 20, seed: 3)
    let writer = try ArchiveWriter(path: dir.path + "/a.tar.gz")
    try writer.add(name: "layer", bytes: random, hint: .compressed)
    try writer.finish()
    let gz = try dir.read("a.tar.gz")
    #expect(Array(gz.prefix(4)) == [0x1f, 0x8b, 0x08, 0x00])  // no FNAME flag
    #expect(Array(gz[4..<8]) == [0, 0, 0, 0])  // mtime 0
    // Stored blocks: 5 bytes per 64 KiB block of overhead, nothing like deflate's failed attempt.
    #expect(gz.count < random.count + 2048 + 512 + 1024 + 5 * (random.count / 16000))
    let text = Array(String(repeating: "abcdefgh", count: 500_000).utf8)
    let compressible = try ArchiveWriter(path: dir.path + "/b.tar.gz")
    try compressible.add(name: "text", bytes: text, hint: .compressible)
    try compressible.finish()
    #expect(try dir.read("b.tar.gz").count < text.count / 50)
  }

  @Test func partialFileUntilFinishAndNothingOnFailure() throws {
    let dir = try ScratchDir()
    let writer = try ArchiveWriter(path: dir.path + "/out.tar.gz")
    try writer.add(name: "a", bytes: [1])
    #expect(dir.exists("out.tar.gz.partial") && !dir.exists("out.tar.gz"))
    // A source that lies about its size fails the entry and removes the partial file.
    #expect(
      throws: ArchiveError.sizeMismatch(
        path: dir.path + "/out.tar.gz", entry: "b", declared: 10, actual: 3)
    ) {
      try writer.add(name: "b", size: 10, from: BytesSource([1, 2, 3]))
    }
    #expect(try dir.listing() == [])
    #expect(throws: ArchiveError.self) { try writer.finish() }
    #expect(try dir.listing() == [])

    do {
      let dropped = try ArchiveWriter(path: dir.path + "/dropped.tar")
      try dropped.add(name: "a", bytes: [1])
    }
    #expect(try dir.listing() == [], "a writer dropped without finish() leaves nothing")

    let good = try ArchiveWriter(path: dir.path + "/good.tar.zst")
    try good.add(name: "a", bytes: [1])
    try good.finish()
    #expect(try dir.listing() == ["good.tar.zst"])
  }

  @Test func refusesUnknownExtensionUnsafeAndDuplicateNames() throws {
    let dir = try ScratchDir()
    #expect(throws: ArchiveError.unsupportedExtension(path: dir.path + "/a.zip")) {
      try ArchiveWriter(path: dir.path + "/a.zip")
    }
    for bad in ["../x", "/abs", "./a", "a//b", ""] {
      let writer = try ArchiveWriter(path: dir.path + "/a.tar")
      #expect(throws: ArchiveError.self, "\(bad)") { try writer.add(name: bad, bytes: [1]) }
    }
    let writer = try ArchiveWriter(path: dir.path + "/d.tar")
    try writer.add(name: "a", bytes: [1])
    #expect(throws: ArchiveError.duplicateEntry(path: dir.path + "/d.tar", entry: "a")) {
      try writer.add(name: "a", bytes: [2])
    }
    #expect(try dir.listing() == [])
  }

  @Test func mediaTypeHints() {
    #expect(
      EntryCompressibility(mediaType: "application/vnd.oci.image.layer.v1.tar+gzip") == .compressed)
    #expect(
      EntryCompressibility(mediaType: "application/vnd.oci.image.layer.v1.tar+zstd") == .compressed)
    #expect(
      EntryCompressibility(mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip")
        == .compressed)
    #expect(
      EntryCompressibility(mediaType: "application/vnd.oci.image.manifest.v1+json") == .compressible
    )
    #expect(EntryCompressibility(mediaType: "application/gzip") == .compressed)
    #expect(EntryCompressibility(mediaType: "application/yaml") == .compressible)
    #expect(
      EntryCompressibility(mediaType: "application/vnd.oci.image.layer.v1.tar") == .compressible)
    #expect(EntryCompressibility(mediaType: "application/octet-stream") == .auto)
    #expect(EntryCompressibility(mediaType: nil) == .auto)
  }
}

/// An in-memory `ByteSource`.
final class BytesSource: ByteSource, @unchecked Sendable {
  private let bytes: [UInt8]
  private var offset = 0
  init(_ bytes: [UInt8]) { self.bytes = bytes }
  func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    let count = min(buffer.count, bytes.count - offset)
    bytes.withUnsafeBytes {
      buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + count]))
    }
    offset += count
    return count
  }
}
