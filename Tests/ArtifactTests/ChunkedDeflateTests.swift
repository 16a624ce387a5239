import Foundation
import OCI
import TestSupport
import Testing

@testable import Artifact

/// Large raw entries deflated in chunks on several threads: one valid gzip stream, the same
/// bytes whatever the thread count, one member per chunk at fixed offsets.
@Suite struct ChunkedDeflateTests {
  static let mib = 1 << 20

  /// Compressible, binary-looking bytes (no compressed-format magic), different per `seed`.
  static func binaryBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    let words = [
      "\u{7f}ELF", "kubelet", "\0\0\0\0", "runtime.", "sync.Mutex", "GLIBC_2.17", "\u{1}\u{2}",
    ]
    .map { Array($0.utf8) }
    var state = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    var out: [UInt8] = []
    out.reserveCapacity(count + 16)
    while out.count < count {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      let r = Int(state >> 33)
      out += words[r % words.count]
      out.append(UInt8(truncatingIfNeeded: r >> 8))
    }
    if !out.isEmpty { out[0] = 0x42 }  // never a gzip/zstd/xz magic
    return Array(out.prefix(count))
  }

  /// Writes `files` (name, bytes) as blobs of a .tar.gz with `workers` threads; returns the
  /// archive's bytes and the chunks deflated.
  static func write(
    _ files: [(String, [UInt8])], workers: Int, in dir: ScratchDir, as name: String,
    chunking: ChunkedDeflateParameters? = .binaries
  ) throws -> (bytes: [UInt8], chunks: Int) {
    let counter = Counter()
    let writer = try ArchiveWriter(
      path: dir.path + "/" + name, workers: workers, chunking: chunking,
      onChunkDeflated: { counter.value += 1 })
    try writer.add(name: "oci-layout", bytes: Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))
    for (file, bytes) in files {
      let path = try dir.file("src/\(file)", bytes)
      try writer.addFile(name: "blobs/sha256/\(file)", path: path)
    }
    try writer.finish()
    return (try dir.read(name), counter.value)
  }

  /// Gzip members in `path` and whether the whole stream inflates, per Python's zlib.
  static func members(_ path: String) async throws -> Int {
    let script = """
      import sys, zlib
      data = open(sys.argv[1], 'rb').read(); n = 0
      while data:
          d = zlib.decompressobj(31); d.decompress(data); assert d.eof, 'truncated member'
          data = d.unused_data; n += 1
      print(n)
      """
    let out = try await ProcessRunner.run("python3", ["-c", script, path])
    #expect(out.succeeded, "\(out)")
    return Int(out.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
  }

  final class Counter: @unchecked Sendable { var value = 0 }

  @Test func sameBytesWithOneTwoOrFourWorkers() throws {
    let dir = try ScratchDir()
    let files = [
      ("a", Self.binaryBytes(3 * Self.mib + 12_345, seed: 1)),
      ("b", Self.binaryBytes(2 * Self.mib, seed: 2)),
    ]
    let one = try Self.write(files, workers: 1, in: dir, as: "w1.tar.gz")
    let two = try Self.write(files, workers: 2, in: dir, as: "w2.tar.gz")
    let four = try Self.write(files, workers: 4, in: dir, as: "w4.tar.gz")
    #expect(one.bytes == two.bytes)
    #expect(one.bytes == four.bytes)
    #expect(one.chunks == 4 + 2)
    #expect(two.chunks == 6 && four.chunks == 6)
    // Deflated (the data is ~2-4x compressible), not stored.
    #expect(one.bytes.count < (5 * Self.mib) / 2)
  }

  /// Empty, just under the binary threshold (serial), exactly one chunk, one byte over.
  @Test(arguments: [
    (0, 0), (Self.mib - 1, 0), (Self.mib, 1), (Self.mib + 1, 2), (3 * Self.mib, 3),
  ])
  func chunkBoundaries(size: Int, chunks: Int) async throws {
    let dir = try ScratchDir()
    let data = Self.binaryBytes(size, seed: UInt64(size))
    let written = try Self.write([("x", data)], workers: 2, in: dir, as: "a.tar.gz")
    #expect(written.chunks == chunks)
    let path = dir.path + "/a.tar.gz"
    // Serial member before (layout, header), one per chunk, one after (padding, trailer).
    #expect(try await Self.members(path) == (chunks == 0 ? 1 : chunks + 2))
    let test = try await ProcessRunner.run("gzip", ["-t", path])
    #expect(test.succeeded, "\(test)")
    let list = try await ProcessRunner.run("tar", ["tzf", path])
    #expect(list.stdout == "oci-layout\nblobs/sha256/x\n", "\(list)")
    let entries = try ArchiveReaderTests.readAll(path)
    #expect(entries.map(\.0) == ["oci-layout", "blobs/sha256/x"])
    #expect(entries.last?.1 == data)
  }

  /// The chunked entry's members are exactly gzip of its chunks: `capture` sees them, and
  /// `addGzipMembers` of those bytes gives the identical archive without deflating.
  @Test func capturedMembersCopyBackToIdenticalArchive() throws {
    let dir = try ScratchDir()
    let data = Self.binaryBytes(8 * Self.mib + 7, seed: 9)
    let source = try dir.file("src/bin", data)
    var captured: [UInt8] = []
    let cold = try ArchiveWriter(path: dir.path + "/cold.tar.gz", workers: 2)
    try cold.add(name: "index.json", bytes: Array("{}".utf8))
    let encoding = try cold.addFile(
      name: "blobs/sha256/bin", path: source, capture: { captured += $0 })
    // A stored entry after: zlib's stored blocks follow the output space it is given, so this
    // catches any difference in how the file's buffer is filled after the members.
    let layer = [0x1f, 0x8b] + Self.binaryBytes(3 * Self.mib, seed: 10)
    try cold.add(name: "blobs/sha256/layer", bytes: layer, hint: .compressed)
    try cold.add(name: "blobs/sha256/tail", bytes: Array("tail".utf8))
    try cold.finish()
    #expect(encoding == .chunked(.binaries))
    let membersPath = try dir.file("members.gz", captured)
    // Eight members of 1 MiB chunks and one of 7 bytes: much less than the data.
    #expect(captured.count < data.count / 2)

    let counter = Counter()
    let warm = try ArchiveWriter(
      path: dir.path + "/warm.tar.gz", workers: 1, onChunkDeflated: { counter.value += 1 })
    try warm.add(name: "index.json", bytes: Array("{}".utf8))
    var observed = 0
    try warm.addGzipMembers(
      name: "blobs/sha256/bin", size: Int64(data.count), members: membersPath,
      observe: { observed += $0.count })
    try warm.add(name: "blobs/sha256/layer", bytes: layer, hint: .compressed)
    try warm.add(name: "blobs/sha256/tail", bytes: Array("tail".utf8))
    try warm.finish()
    #expect(counter.value == 0)
    #expect(observed == captured.count)
    #expect(try dir.read("cold.tar.gz") == (try dir.read("warm.tar.gz")))
    let entries = try ArchiveReaderTests.readAll(dir.path + "/warm.tar.gz")
    #expect(entries[1].1 == data)
  }

  @Test func zstdAndPlainTarAreNotChunked() throws {
    let dir = try ScratchDir()
    let data = Self.binaryBytes(2 * Self.mib, seed: 3)
    for name in ["a.tar.zst", "a.tar"] {
      let written = try Self.write([("x", data)], workers: 2, in: dir, as: name)
      #expect(written.chunks == 0)
      #expect(try ArchiveReaderTests.readAll(dir.path + "/" + name).last?.1 == data)
    }
  }
}
