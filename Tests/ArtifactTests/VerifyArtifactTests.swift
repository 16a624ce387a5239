import Blobstore
import Foundation
import OCI
import Testing

@testable import Artifact

@Suite("ArtifactVerifier")
struct VerifyArtifactTests {
  @Test func directoryAndEveryArchiveFormGiveTheSameCleanReport() async throws {
    let layout = try VerifyLayoutFixture()
    let direct = try await ArtifactVerifier.verify(path: layout.root)
    #expect(direct.problems.isEmpty, "\(direct.problems)")
    #expect(direct.summary.images == [VerifyLayoutFixture.ref])
    for name in ["a.tar", "a.tar.gz", "a.tar.zst"] {
      let archive = try layout.pack(to: name)
      let report = try await ArtifactVerifier.verify(path: archive)
      #expect(report.problems.isEmpty, "\(name): \(report.problems)")
      #expect(report.isValid)
      #expect(report.summary == direct.summary, "\(name)")
      #expect(report.summary.blobCount == 4)
    }
  }

  @Test func systemTarOfLayoutInAnyOrderVerifies() async throws {
    let layout = try VerifyLayoutFixture()
    // `tar czf x.tar -C layout .`: ./ prefixes, directory entries, tar's own order, and a
    // gzip stream under a .tar name.
    let out = layout.scratch.path + "/skopeo-style.tar"
    let tar = Process()
    tar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    tar.arguments = ["tar", "czf", out, "-C", layout.root, "."]
    try tar.run()
    tar.waitUntilExit()
    try #require(tar.terminationStatus == 0)
    let report = try await ArtifactVerifier.verify(path: out)
    #expect(report.problems.isEmpty, "\(report.problems)")
    #expect(report.summary.images == [VerifyLayoutFixture.ref])
  }

  @Test func flippedByteInBlobInsideTarGzIsCorruptNamingTheBlob() async throws {
    let layout = try VerifyLayoutFixture()
    try layout.damage(layout.layers[0]) { $0[($0.count / 2)] ^= 0x01 }
    let archive = try layout.pack(to: "a.tar.gz")
    let report = try await ArtifactVerifier.verify(path: archive)
    #expect(!report.isValid)
    let problem = try #require(report.errors.first)
    #expect(problem.file == layout.blobName(layout.layers[0]))
    guard case .corrupt = problem.kind else {
      Issue.record("expected corrupt, got \(problem)")
      return
    }
    #expect(problem.description.contains(layout.layers[0].digest.encoded))
  }

  @Test func flippedByteInCompressedStreamFailsVerification() async throws {
    let layout = try VerifyLayoutFixture()
    let archive = try layout.pack(to: "a.tar.gz")
    var bytes = try layout.scratch.read("a.tar.gz")
    bytes[bytes.count / 2] ^= 0x01  // inside the big stored layer
    let damaged = try layout.scratch.file("damaged.tar.gz", bytes)
    #expect(archive != damaged)
    do {
      let report = try await ArtifactVerifier.verify(path: damaged)
      #expect(
        report.errors.contains { $0.file == layout.blobName(layout.layers[0]) },
        "\(report.problems)")
    } catch let error as ArchiveError {
      guard case .corrupt = error else {
        Issue.record("unexpected \(error)")
        return
      }
    }
  }

  @Test func missingBlobIsReported() async throws {
    let layout = try VerifyLayoutFixture()
    let archive = try layout.pack(to: "a.tar.zst", omit: [layout.blobName(layout.layers[1])])
    let report = try await ArtifactVerifier.verify(path: archive)
    let problem = try #require(report.errors.first)
    #expect(problem.kind == .missing)
    #expect(problem.digest == layout.layers[1].digest)
    #expect(problem.image == VerifyLayoutFixture.ref)
  }

  @Test func nonJSONIndexAndUnreferencedBlob() async throws {
    let layout = try VerifyLayoutFixture()
    let extra = try layout.store.ingest(bytes: pseudoRandomBytes(5000, seed: 5))
    let withExtra = try layout.pack(to: "extra.tar")
    let report = try await ArtifactVerifier.verify(path: withExtra)
    // `pack` lists only the image's blobs, so the extra one is left out here; add it by hand.
    #expect(report.isValid)
    let writer = try ArchiveWriter(path: layout.scratch.path + "/with-unreferenced.tar")
    for entry in try ArchiveReaderTests.readAll(withExtra) {
      try writer.add(name: entry.0, bytes: entry.1)
    }
    try writer.addFile(name: layout.blobName(extra), path: layout.store.path(for: extra.digest))
    try writer.finish()
    let unreferenced = try await ArtifactVerifier.verify(
      path: layout.scratch.path + "/with-unreferenced.tar")
    #expect(unreferenced.isValid)
    #expect(unreferenced.warnings.map(\.kind) == [.unreferenced(size: 5000)])

    try layout.writeIndex("this is not json")
    let broken = try await ArtifactVerifier.verify(path: try layout.pack(to: "broken.tar.gz"))
    #expect(!broken.isValid)
    guard case .malformedIndex = try #require(broken.errors.first).kind else {
      Issue.record("expected malformedIndex, got \(broken.problems)")
      return
    }
  }

  @Test func truncatedArchiveThrowsNamingTheEntry() async throws {
    let layout = try VerifyLayoutFixture()
    _ = try layout.pack(to: "a.tar.gz")
    let bytes = try layout.scratch.read("a.tar.gz")
    let cut = try layout.scratch.file("cut.tar.gz", Array(bytes.prefix(bytes.count - 100_000)))
    await #expect(
      throws: ArchiveError.truncated(path: cut, entry: layout.blobName(layout.layers[0]))
    ) {
      try await ArtifactVerifier.verify(path: cut)
    }
  }

  @Test func unsafeArchiveThrowsAndWritesNothing() async throws {
    let scratch = try ScratchDir()
    let path = try scratch.file(
      "evil.tar",
      TarFixture.archive([
        TarFixture.entry("oci-layout", Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8)),
        TarFixture.entry("../../tmp/kk-escape", [1, 2, 3]),
      ]))
    await #expect(throws: ArchiveError.self) { try await ArtifactVerifier.verify(path: path) }
    #expect(try scratch.listing() == ["evil.tar"])
    #expect(!FileManager.default.fileExists(atPath: "/tmp/kk-escape"))
  }
}
