import Blobstore
import Foundation
import OCI
import Testing

@testable import Artifact

/// Verification while packing: every blob is checked against its digest as it is copied into
/// the archive, and nothing appears under the output name when one does not match.
@Suite struct PackVerifyTests {
  /// Overwrites one byte of a stored blob in place (same size, so only the hash can tell).
  static func corrupt(_ store: BlobStore, _ digest: Digest, at offset: Int) throws {
    let path = store.path(for: digest)
    _ = chmod(path, 0o644)
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.seek(toOffset: UInt64(offset))
    let byte = try #require(handle.readData(ofLength: 1).first)
    try handle.seek(toOffset: UInt64(offset))
    handle.write(Data([byte ^ 0xff]))
  }

  @Test(arguments: ["tar.gz", "tar.zst", "tar"])
  func corruptedCacheBlobIsCaughtAndNothingIsWritten(_ ext: String) throws {
    let fixture = try ExportPackTests.Fixture()
    let plan = try PackPlan(store: fixture.store, entries: fixture.entries)
    let bad = fixture.layers[1].digest
    try Self.corrupt(fixture.store, bad, at: 150_000)
    let output = fixture.scratch.path + "/out.\(ext)"
    do {
      _ = try ArtifactPacker.pack(plan: plan, from: fixture.store, to: output)
      Issue.record("a corrupted cache blob was packed")
    } catch {
      #expect("\(error)".contains(bad.description), "\(error)")
      #expect("\(error)".contains("was not written"), "\(error)")
    }
    #expect(!FileManager.default.fileExists(atPath: output))
    #expect(!FileManager.default.fileExists(atPath: output + ".partial"))
    // Without the check the same store packs: the check is what caught it.
    let unchecked = try ArtifactPacker.pack(
      plan: plan, from: fixture.store, to: output, verify: false)
    #expect(!unchecked.verified)
    let report = try ArtifactVerifier.verifyBlocking(path: output)
    #expect(!report.isValid)
    #expect(report.errors.contains { "\($0)".contains(bad.encoded) })
  }

  /// Blobs larger than the lane's two 4 MiB buffers, and small blobs sharing a buffer's
  /// worth, hash like a one-shot sha256: a good store verifies, one flipped byte deep inside
  /// the big blob is found and only that blob is named.
  @Test func bigBlobsAcrossLaneBuffersAreCheckedExactly() throws {
    let scratch = try ScratchDir()
    let store = try BlobStore.create(at: scratch.path + "/cache")
    let big = try store.ingest(bytes: [0x1f, 0x8b] + pseudoRandomBytes(9 << 20 + 17, seed: 7))
    let small = try store.ingest(bytes: [0x1f, 0x8b] + pseudoRandomBytes(3000, seed: 8))
    let config = try store.ingest(bytes: Array(#"{"architecture":"amd64","os":"linux"}"#.utf8))
    let layers = [big, small].map {
      #"{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"\#($0.digest)","size":\#($0.size)}"#
    }
    let manifest = try store.ingest(
      bytes: Array(
        #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\#(config.digest)","size":\#(config.size)},"layers":[\#(layers.joined(separator: ","))]}"#
          .utf8))
    let entry = Descriptor(
      mediaType: MediaType.ociManifest, digest: manifest.digest, size: manifest.size,
      annotations: [AnnotationKey.refName: "docker.io/library/big:1"])
    let plan = try PackPlan(store: store, entries: [entry])
    let good = try ArtifactPacker.pack(plan: plan, from: store, to: scratch.path + "/good.tar")
    #expect(good.verified)
    #expect(try ArtifactVerifier.verifyBlocking(path: good.path).isValid)

    try Self.corrupt(store, big.digest, at: 8 << 20 + 5)
    do {
      _ = try ArtifactPacker.pack(plan: plan, from: store, to: scratch.path + "/bad.tar")
      Issue.record("a corrupted 9 MiB blob was packed")
    } catch {
      let errors = Self.verificationErrors(error)
      #expect(errors.count == 1, "\(error)")
      #expect(errors.first?.contains(big.digest.description) == true, "\(errors)")
    }
    #expect(!FileManager.default.fileExists(atPath: scratch.path + "/bad.tar"))
  }

  static func verificationErrors(_ error: any Error) -> [String] {
    guard let export = error as? ExportError, case .verification(_, let errors, _, _) = export
    else { return [] }
    return errors
  }
}
