import Blobstore
import Foundation
import OCI
import Testing

@testable import Artifact

/// Warm exports copy the gzip members of binaries from the cache instead of deflating them
/// again, and the artifact is the same bytes either way.
@Suite struct PackCompressedFormTests {
  static let mib = 1 << 20

  /// Two raw binaries (3 and 2 chunks) as file artifacts in a store.
  struct Fixture {
    let scratch: ScratchDir
    let store: BlobStore
    let entries: [Descriptor]
    let binaries: [StoredBlob]

    init() throws {
      scratch = try ScratchDir()
      store = try BlobStore.create(at: scratch.path + "/cache")
      var entries: [Descriptor] = []
      var binaries: [StoredBlob] = []
      for (name, size) in [("kubeadm", 5 * mib / 2), ("kubectl", 3 * mib / 2)] {
        let bytes = ChunkedDeflateTests.binaryBytes(size, seed: UInt64(size))
        binaries.append(try store.ingest(bytes: bytes))
        entries.append(
          try FileArtifact(kind: .file, path: "kube/v1.22.12/amd64/\(name)").store(
            bytes: bytes, in: store))
      }
      self.entries = entries
      self.binaries = binaries
    }

    var forms: CompressedForms { CompressedForms(store: store) }

    /// Packs to `name` and returns the artifact's bytes and the chunks deflated.
    func pack(_ name: String, reuse: Bool = true, verify: Bool = true) throws -> (
      bytes: [UInt8], chunks: Int
    ) {
      let plan = try PackPlan(store: store, entries: entries)
      let counter = ChunkedDeflateTests.Counter()
      let result = try ArtifactPacker.pack(
        plan: plan, from: store, to: scratch.path + "/" + name, verify: verify,
        reuseCompressed: reuse, onChunkDeflated: { counter.value += 1 })
      #expect(result.verified == verify)
      return (try scratch.read(name), counter.value)
    }

    func records() -> [String] {
      ((try? FileManager.default.contentsOfDirectory(atPath: forms.directory)) ?? []).sorted()
    }

    /// The compressed blob the record of `raw` names.
    func compressedPath(_ raw: StoredBlob) throws -> String {
      let data = try #require(FileManager.default.contents(atPath: forms.recordPath(raw.digest)))
      let record = try JSONDecoder().decode(CompressedForms.Record.self, from: data)
      return store.path(for: try Digest(parsing: record.compressed))
    }
  }

  @Test func warmPackCopiesTheCachedMembersAndGivesTheSameBytes() throws {
    let fixture = try Fixture()
    let cold = try fixture.pack("cold.tar.gz")
    #expect(cold.chunks == 3 + 2)
    #expect(fixture.records().count == 2)
    let warm = try fixture.pack("warm.tar.gz")
    #expect(warm.chunks == 0)
    #expect(warm.bytes == cold.bytes)
    // Without the cache: deflated again, still the same bytes.
    let fresh = try fixture.pack("fresh.tar.gz", reuse: false)
    #expect(fresh.chunks == 5)
    #expect(fresh.bytes == cold.bytes)
    let entries = try ArchiveReaderTests.readAll(fixture.scratch.path + "/warm.tar.gz")
    let kubeadm = try #require(
      entries.first { $0.0 == "blobs/sha256/\(fixture.binaries[0].digest.encoded)" })
    let path = fixture.store.path(for: fixture.binaries[0].digest)
    #expect(kubeadm.1 == [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
  }

  @Test func corruptOrMissingCachedFormFallsBackToDeflating() throws {
    let fixture = try Fixture()
    let cold = try fixture.pack("cold.tar.gz")
    // kubeadm's members: one byte flipped in the middle (same size, wrong sha256).
    let members = try fixture.compressedPath(fixture.binaries[0])
    var bytes = try #require(FileManager.default.contents(atPath: members))
    bytes[bytes.count / 2] ^= 0xff
    try bytes.write(to: URL(fileURLWithPath: members))
    let first = try fixture.pack("first.tar.gz")
    #expect(first.chunks == 3)
    #expect(first.bytes == cold.bytes)
    // The corrupt blob was replaced: the next pack copies both again.
    let second = try fixture.pack("second.tar.gz")
    #expect(second.chunks == 0)
    #expect(second.bytes == cold.bytes)
    // kubectl's blob gone, kubeadm's record garbage.
    unlink(try fixture.compressedPath(fixture.binaries[1]))
    try Array("not json".utf8).withUnsafeBytes {
      try Data($0).write(
        to: URL(fileURLWithPath: fixture.forms.recordPath(fixture.binaries[0].digest)))
    }
    let third = try fixture.pack("third.tar.gz")
    #expect(third.chunks == 5)
    #expect(third.bytes == cold.bytes)
    #expect(fixture.records().count == 2)
  }

  @Test func withoutVerifyNothingIsRecorded() throws {
    let fixture = try Fixture()
    let unverified = try fixture.pack("a.tar.gz", verify: false)
    #expect(unverified.chunks == 5)
    #expect(fixture.records().isEmpty)
  }

  @Test func pruneLeavesNoDanglingRecord() throws {
    let fixture = try Fixture()
    _ = try fixture.pack("cold.tar.gz")
    #expect(fixture.records().count == 2)
    let cache = ExportCache(store: fixture.store)
    // One compressed blob gone: its record goes at the next prune, the other stays.
    unlink(try fixture.compressedPath(fixture.binaries[1]))
    let aged = try cache.prune(olderThanDays: 30)
    #expect(aged.removedCompressedRecords == 1)
    #expect(fixture.records().count == 1)
    let all = try cache.prune(olderThanDays: nil)
    #expect(all.removedCompressedRecords == 1)
    #expect(fixture.records().isEmpty)
  }
}
