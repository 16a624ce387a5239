import Foundation
import OCI
import Testing

@testable import Blobstore

/// Throughput of ingest and verify on a layout of `KK_BLOBSTORE_BENCH` MiB (off by default:
/// `KK_BLOBSTORE_BENCH=2048 swift test --filter BenchTests`). Prints MB/s and asserts the
/// layout verifies clean. Whether two threads help depends on the disk: on a disk slower
/// than one core's SHA-256 (~1.7 GB/s with SHA-NI) the read is the bottleneck.
@Suite("Blobstore bench")
struct BenchTests {
  static let megabytes = ProcessInfo.processInfo.environment["KK_BLOBSTORE_BENCH"].flatMap(Int.init)

  @Test(.enabled(if: megabytes != nil))
  func ingestAndVerifyThroughput() throws {
    let total = (Self.megabytes ?? 64) << 20
    let dir = try TempDir()
    defer { dir.remove() }
    let store = try BlobStore.create(at: dir.path)
    let blobSize = 64 << 20
    let chunk = pseudoRandomBytes(1 << 20, seed: 1)
    var entries: [String] = []
    let clock = ContinuousClock()
    var ingestTime = Duration.zero
    for n in 0..<max(1, total / blobSize) {
      // Each blob: 64 distinct 1 MiB chunks (the chunk with the blob and chunk number stamped in).
      let hasher = SHA256Hasher()
      var chunks: [[UInt8]] = []
      for c in 0..<(blobSize >> 20) {
        var bytes = chunk
        bytes[0] = UInt8(truncatingIfNeeded: n)
        bytes[1] = UInt8(truncatingIfNeeded: n >> 8)
        bytes[2] = UInt8(truncatingIfNeeded: c)
        hasher.update(bytes)
        chunks.append(bytes)
      }
      let digest = hasher.finalize()
      ingestTime += try clock.measure {
        let writer = try store.writer(expecting: digest, size: Int64(blobSize))
        for bytes in chunks { try bytes.withUnsafeBytes { try writer.write($0) } }
        try writer.commit()
      }
      entries.append(
        #"{"mediaType":"application/octet-stream","digest":"\#(digest)","size":\#(blobSize),"annotations":{"io.kubekey.path":"f\#(n)"}}"#
      )
    }
    try Data(#"{"schemaVersion":2,"manifests":[\#(entries.joined(separator: ","))]}"#.utf8)
      .write(to: URL(fileURLWithPath: store.root + "/index.json"))

    var one: VerifyReport?
    var two: VerifyReport?
    let oneThread = try clock.measure { one = try store.verify(threads: 1) }
    let twoThreads = try clock.measure { two = try store.verify(threads: 2) }
    let bytes = Double(entries.count * blobSize)
    func rate(_ d: Duration) -> String {
      let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
      return String(format: "%.0f MB/s", bytes / seconds / 1e6)
    }
    print(
      "bench: \(entries.count) blobs, \(Int(bytes) >> 20) MiB: ingest \(rate(ingestTime)), "
        + "verify 1 thread \(rate(oneThread)), 2 threads \(rate(twoThreads))")
    #expect(one?.problems.isEmpty == true)
    #expect(two?.problems.isEmpty == true)
    #expect(two?.summary.blobCount == entries.count)
  }
}
