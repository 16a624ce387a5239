import Foundation
import OCI
import Testing

@testable import Artifact

/// The digest `finish()` reports is hashed from the bytes as they are written; these tests
/// check it against an independent hash of the file on disk, so a skipped or doubled chunk
/// (partial writes, the zlib spare-buffer path, writeback windows) cannot go unnoticed.
@Suite("ArchiveWriter digest")
struct ArchiveDigestTests {
  @Test(arguments: ["a.tar.gz", "a.tar.zst", "a.tar"])
  func finishReportsTheSha256AndSizeOfTheFileOnDisk(name: String) throws {
    let dir = try ScratchDir()
    let path = dir.path + "/" + name
    let layer = try dir.file("layer.bin", [0x1f, 0x8b] + pseudoRandomBytes(3_000_000, seed: 11))
    let writer = try ArchiveWriter(path: path)
    try writer.add(name: "oci-layout", bytes: Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))
    try writer.addFile(name: "blobs/sha256/layer", path: layer)
    let text = Array(String(repeating: "kubelet text ", count: 100_000).utf8)
    try writer.add(name: "blobs/sha256/text", bytes: text)
    let written = try writer.finish()

    let bytes = try dir.read(name)
    #expect(written.path == path)
    #expect(written.size == Int64(bytes.count))
    #expect(written.sha256 == SHA256Hasher.digest(bytes))
    #expect(!FileManager.default.fileExists(atPath: path + ".partial"))
  }

  /// Through the page cache with several writeback windows (1 MiB, the minimum) so the
  /// start-and-wait path runs, and with O_DIRECT (whole blocks, then the unaligned tail
  /// buffered), in the scratch directory and on tmpfs (which may refuse O_DIRECT: the writer
  /// falls back): the bytes and digest must be exactly what was written, in order.
  @Test(arguments: [(false, false), (true, false), (true, true)])
  func partialFileHashesAcrossWritebackWindows(bypassCache: Bool, onTmpfs: Bool) throws {
    let dir = try ScratchDir()
    let shm = "/dev/shm/kk-partial-\(UUID().uuidString)"
    if onTmpfs {
      try FileManager.default.createDirectory(atPath: shm, withIntermediateDirectories: true)
    }
    defer { try? FileManager.default.removeItem(atPath: shm) }
    let path = (onTmpfs ? shm : dir.path) + "/big.tar"
    let file = try PartialFile(
      finalPath: path, bufferSize: 64 * 1024, writebackWindow: 1 << 20, bypassCache: bypassCache)
    let payload = pseudoRandomBytes(5_500_000, seed: 3)
    let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: payload.count, alignment: 16)
    defer { storage.deallocate() }
    storage.copyBytes(from: payload)
    var offset = 0
    var step = 1
    while offset < payload.count {
      // Mixed write sizes: smaller than, equal to and larger than the buffer.
      let count = min(payload.count - offset, [17, 65_536, 300_001, 4096][step % 4])
      try file.write(UnsafeRawBufferPointer(rebasing: storage[offset..<offset + count]))
      offset += count
      step += 1
    }
    let (digest, size) = try file.commit()
    #expect(size == Int64(payload.count))
    #expect(digest == SHA256Hasher.digest(payload))
    #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) == payload)
    #expect(!FileManager.default.fileExists(atPath: path + ".partial"))
  }
}
