import Foundation
import OCI
import Testing

@testable import Blobstore

@Suite("Blobstore verify")
struct VerifyTests {
  @Test func cleanLayoutVerifiesWithSummary() throws {
    let fixture = try LayoutFixture()
    defer { fixture.dir.remove() }
    let report = try fixture.store.verify()
    #expect(report.problems.isEmpty, "\(report.problems)")
    #expect(report.isValid)
    #expect(report.summary.blobCount == fixture.allBlobs.count)
    #expect(report.summary.totalBytes == Int64(fixture.allBlobs.reduce(0) { $0 + $1.size }))
    #expect(report.summary.images == [LayoutFixture.multiRef, LayoutFixture.singleRef])
    #expect(report.summary.platforms == ["linux/amd64", "linux/arm/v7", "linux/arm64"])
    let index = try Data(contentsOf: URL(fileURLWithPath: fixture.store.root + "/index.json"))
    #expect(report.summary.topDigest == SHA256Hasher.digest([UInt8](index)))
  }

  @Test func walkIsParentsFirstEachBlobOnce() throws {
    let fixture = try LayoutFixture()
    defer { fixture.dir.remove() }
    let walk = try fixture.store.walk()
    #expect(walk.issues.isEmpty)
    let order = walk.uniqueDescriptors.compactMap(\.digest)
    #expect(order.count == fixture.allBlobs.count)
    #expect(Set(order).count == order.count)
    #expect(order.first == fixture.multiArchIndex.digest)
    for node in walk.nodes where node.firstVisit {
      for parent in node.parents {
        let parentPosition = order.firstIndex(of: parent.digest!)!
        #expect(parentPosition < order.firstIndex(of: node.descriptor.digest!)!)
      }
    }
    // The shared layer is referenced twice (once per platform) but listed once.
    let shared = walk.nodes.filter { $0.descriptor.digest == fixture.layers[0].digest }
    #expect(shared.count == 2)
    #expect(shared.filter(\.firstVisit).count == 1)
    let arm = walk.nodes.first { $0.descriptor.digest == fixture.layers[2].digest }
    #expect(arm?.context == "layer 2 of \(LayoutFixture.multiRef) (linux/arm64)")
    #expect(
      arm?.parents.map(\.digest) == [fixture.multiArchIndex.digest, fixture.manifests[1].digest])
  }

  @Test func archiveOrderPutsMetadataFirstThenBlobsByDigest() throws {
    let fixture = try LayoutFixture()
    defer { fixture.dir.remove() }
    let order = try fixture.store.walk().archiveOrder.compactMap(\.digest)
    let metadata =
      [fixture.multiArchIndex, fixture.manifests[0], fixture.configs[0]]
      + [fixture.manifests[1], fixture.configs[1], fixture.singleManifest, fixture.singleConfig]
    #expect(Array(order.prefix(metadata.count)) == metadata.map(\.digest))
    #expect(Array(order.dropFirst(metadata.count)) == fixture.layers.map(\.digest).sorted())
  }

  @Test func missingBlobIsReportedWithItsImage() throws {
    let fixture = try LayoutFixture()
    defer { fixture.dir.remove() }
    try FileManager.default.removeItem(atPath: fixture.blobPath(fixture.layers[3]))
    let report = try fixture.store.verify()
    #expect(!report.isValid)
    #expect(report.errors.count == 1)
    let problem = try #require(report.errors.first)
    #expect(problem.kind == .missing)
    #expect(problem.digest == fixture.layers[3].digest)
    #expect(problem.image == LayoutFixture.singleRef)
    #expect(problem.description.contains("layer 1 of \(LayoutFixture.singleRef) (linux/arm/v7)"))
  }

  @Test func flippedByteIsCorrupt() throws {
    let fixture = try LayoutFixture()
    defer { fixture.dir.remove() }
    try fixture.damage(fixture.layers[1]) { $0[1234] ^= 0x40 }
    let report = try fixture.store.verify()
    #expect(report.errors.count == 1)
    let problem = try #require(report.errors.first)
    guard case .corrupt(let actual) = problem.kind else {
      Issue.record("expected corrupt, got \(problem)")
      return
    }
    #expect(actual != fixture.layers[1].digest)
    #expect(problem.file == "blobs/sha256/\(fixture.layers[1].digest.encoded)")
    #expect(problem.context == "layer 2 of \(LayoutFixture.multiRef) (linux/amd64)")
  }

  @Test func truncatedBlobIsReportedAsTruncated() throws {
    let fixture = try LayoutFixture()
    defer { fixture.dir.remove() }
    let layer = fixture.layers[0]
    try fixture.damage(layer) { $0.removeLast(1000) }
    let report = try fixture.store.verify()
    #expect(report.errors.count == 1, "\(report.problems)")
    #expect(
      report.errors.first?.kind
        == .truncated(declared: Int64(layer.size), actual: Int64(layer.size - 1000)))
    #expect(report.errors.first?.image == LayoutFixture.multiRef)
  }

  @Test func descriptorWhoseSizeLiesIsASizeMismatch() throws {
    let fixture = try LayoutFixture()
    defer { fixture.dir.remove() }
    let single = fixture.singleManifest
    try fixture.writeIndex { text in
      text.replacingOccurrences(
        of: #""size":\#(single.size),"#, with: #""size":\#(single.size + 5),"#)
    }
    let report = try fixture.store.verify()
    #expect(report.errors.count == 1, "\(report.problems)")
    #expect(
      report.errors.first?.kind
        == .sizeMismatch(declared: Int64(single.size + 5), actual: Int64(single.size)))
    #expect(report.errors.first?.digest == single.digest)
  }

  @Test func nonJSONIndexIsMalformed() throws {
    let fixture = try LayoutFixture()
    defer { fixture.dir.remove() }
    try Data("<html>not json</html>".utf8).write(
      to: URL(fileURLWithPath: fixture.store.root + "/index.json"))
    let report = try fixture.store.verify()
    #expect(report.errors.count == 1, "\(report.problems)")
    guard case .malformedIndex = report.errors.first?.kind else {
      Issue.record("expected malformedIndex, got \(report.problems)")
      return
    }
    #expect(report.errors.first?.file == "index.json")
  }

  @Test func unknownDigestAlgorithmIsAnInvalidDescriptor() throws {
    let fixture = try LayoutFixture()
    defer { fixture.dir.remove() }
    let bogus = "md5:0123456789abcdef0123456789abcdef"
    try fixture.writeIndex { text in
      text.replacingOccurrences(of: fixture.singleManifest.digest.description, with: bogus)
    }
    let report = try fixture.store.verify()
    let invalid = report.errors.filter {
      if case .invalidDescriptor = $0.kind { return true } else { return false }
    }
    #expect(invalid.count == 1, "\(report.problems)")
    #expect(invalid.first?.file == bogus)
    #expect(invalid.first?.image == LayoutFixture.singleRef)
    #expect(invalid.first?.description.contains("md5") == true)
    // The image it hid is now unreferenced, which is a warning, not an error.
    #expect(report.errors.count == 1)
    #expect(report.warnings.contains { $0.digest == fixture.singleManifest.digest })
  }

  @Test func manifestPointingAtMissingConfig() throws {
    let fixture = try LayoutFixture()
    defer { fixture.dir.remove() }
    try FileManager.default.removeItem(atPath: fixture.blobPath(fixture.singleConfig))
    let report = try fixture.store.verify()
    #expect(report.errors.count == 1, "\(report.problems)")
    #expect(report.errors.first?.kind == .missing)
    #expect(report.errors.first?.digest == fixture.singleConfig.digest)
    // The config is gone, so the platform cannot be known.
    #expect(report.errors.first?.context == "config of \(LayoutFixture.singleRef)")
  }

  @Test func manifestThatDoesNotParseIsReported() throws {
    let fixture = try LayoutFixture()
    defer { fixture.dir.remove() }
    let broken = try LayoutFixture.put(fixture.store, Array(#"{"schemaVersion":2,"config":"#.utf8))
    try fixture.writeIndex { text in
      text.replacingOccurrences(
        of: fixture.singleManifest.digest.description, with: broken.digest.description
      )
      .replacingOccurrences(
        of: #""size":\#(fixture.singleManifest.size)"#, with: #""size":\#(broken.size)"#)
    }
    let report = try fixture.store.verify()
    let malformed = report.errors.filter {
      if case .malformedManifest = $0.kind { return true } else { return false }
    }
    #expect(malformed.count == 1, "\(report.problems)")
    #expect(malformed.first?.digest == broken.digest)
    #expect(malformed.first?.image == LayoutFixture.singleRef)
  }

  @Test func unreferencedBlobIsAWarning() throws {
    let fixture = try LayoutFixture()
    defer { fixture.dir.remove() }
    let orphan = try LayoutFixture.put(fixture.store, pseudoRandomBytes(777, seed: 42))
    let report = try fixture.store.verify()
    #expect(report.isValid)
    #expect(report.warnings.map(\.kind) == [.unreferenced(size: 777)])
    #expect(report.warnings.first?.digest == orphan.digest)
  }

  @Test func corruptManifestIsNotTrustedForItsChildren() throws {
    let fixture = try LayoutFixture()
    defer { fixture.dir.remove() }
    try fixture.damage(fixture.singleManifest) { $0.append(0x20) }
    let report = try fixture.store.verify()
    #expect(report.errors.count == 1, "\(report.problems)")
    guard case .corrupt = report.errors.first?.kind else {
      Issue.record("expected corrupt, got \(report.problems)")
      return
    }
    #expect(report.errors.first?.digest == fixture.singleManifest.digest)
  }

  /// The archive reader's path: facts recorded entry by entry, in any order.
  @Test func snapshotBuiltFromStreamedEntriesVerifiesTheSame() throws {
    let fixture = try LayoutFixture()
    defer { fixture.dir.remove() }
    var snapshot = LayoutSnapshot(source: "bundle.tar")
    var entries = ["./index.json", "oci-layout"]
    entries += fixture.allBlobs.map { "blobs/sha256/\($0.digest.encoded)" }
    for entry in entries.reversed() {
      let path = fixture.store.root + "/" + entry
      let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
      let kind = LayoutSnapshot.classify(path: entry)
      let inspector = BlobInspector(keepAnything: kind == .index || kind == .ociLayout)
      // Stream in small chunks like an archive reader would.
      var offset = 0
      while offset < bytes.count {
        let end = min(offset + 10_000, bytes.count)
        bytes[offset..<end].withUnsafeBytes { inspector.write($0) }
        offset = end
      }
      snapshot.record(path: entry, facts: inspector.finish())
    }
    #expect(
      snapshot.blobs[fixture.layers[0].digest]?.content == nil, "layers are not kept in memory")
    let fromStream = LayoutVerifier.verify(snapshot)
    let fromDisk = try fixture.store.verify()
    #expect(fromStream.problems.isEmpty, "\(fromStream.problems)")
    #expect(fromStream.summary == fromDisk.summary)
  }

  @Test func classifyRecognisesLayoutPaths() {
    let hex = String(repeating: "a", count: 64)
    #expect(LayoutSnapshot.classify(path: "oci-layout") == .ociLayout)
    #expect(LayoutSnapshot.classify(path: "./index.json") == .index)
    #expect(
      LayoutSnapshot.classify(path: "blobs/sha256/\(hex)")
        == .blob(try! Digest(parsing: "sha256:\(hex)")))
    #expect(LayoutSnapshot.classify(path: "blobs/md5/abc") == .strayBlob)
    #expect(LayoutSnapshot.classify(path: "blobs/sha256/\(hex)/x") == .strayBlob)
    #expect(LayoutSnapshot.classify(path: "README") == .other)
  }
}

@Suite("Blobstore graph edge cases")
struct GraphEdgeCaseTests {
  @Test func referrersUnknownTypesAndForeignLayers() throws {
    let fixture = try LayoutFixture()
    defer { fixture.dir.remove() }
    let store = fixture.store
    let empty = try LayoutFixture.put(store, Array("{}".utf8))
    let sbom = try LayoutFixture.put(store, Array(#"{"spdxVersion":"SPDX-2.3"}"#.utf8))
    let single = fixture.singleManifest
    // An OCI 1.1 referrer: artifactType, empty config, subject = the busybox manifest.
    let referrer = try LayoutFixture.put(
      store,
      Array(
        #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/spdx+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"\#(empty.digest)","size":2},"layers":[{"mediaType":"application/spdx+json","digest":"\#(sbom.digest)","size":\#(sbom.size)}],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"\#(single.digest)","size":\#(single.size)}}"#
          .utf8))
    // A Windows-style foreign layer that is (legitimately) not in the layout.
    let foreignDigest = SHA256Hasher.digest(Array("foreign".utf8))
    let windows = try LayoutFixture.put(
      store,
      Array(
        #"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"\#(fixture.configs[0].digest)","size":\#(fixture.configs[0].size)},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"\#(foreignDigest)","size":7,"urls":["https://example.invalid/layer"]}]}"#
          .utf8))
    try fixture.writeIndex { text in
      text.replacingOccurrences(
        of: "]}",
        with:
          #",{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"\#(referrer.digest)","size":\#(referrer.size)},"#
          + #"{"mediaType":"application/vnd.example.unknown+json","digest":"\#(sbom.digest)","size":\#(sbom.size)},"#
          + #"{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"\#(windows.digest)","size":\#(windows.size),"annotations":{"org.opencontainers.image.ref.name":"example.com/win:1"}}]}"#
      )
    }
    let report = try store.verify()
    #expect(report.errors.isEmpty, "\(report.errors)")
    #expect(report.warnings.count == 1, "\(report.warnings)")
    #expect(report.warnings.first?.kind == .missing)
    #expect(report.warnings.first?.digest == foreignDigest)
    #expect(report.warnings.first?.context == "layer 1 of example.com/win:1 (linux/amd64)")

    let walk = try store.walk()
    let subject = walk.nodes.first { $0.role == .subject }
    #expect(subject?.descriptor.digest == single.digest)
    #expect(subject?.firstVisit == false, "busybox was already walked from its own entry")
    #expect(walk.nodes.contains { $0.role == .other && $0.descriptor.digest == sbom.digest })
    #expect(
      walk.nodes.first { $0.descriptor.digest == referrer.digest }?.descriptor.descriptor?.size
        == Int64(referrer.size))
  }

  @Test func sha512BlobIsReportedUnverifiedNotCorrupt() throws {
    let fixture = try LayoutFixture()
    defer { fixture.dir.remove() }
    let hex = String(repeating: "ab", count: 64)
    let directory = fixture.store.root + "/blobs/sha512"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try Data("x".utf8).write(to: URL(fileURLWithPath: directory + "/" + hex))
    try Data("y".utf8).write(to: URL(fileURLWithPath: directory + "/not-a-digest"))
    let report = try fixture.store.verify()
    #expect(report.isValid)
    #expect(report.warnings.map(\.kind) == [.unreferenced(size: 1), .strayFile])
    #expect(report.warnings.last?.file == "blobs/sha512/not-a-digest")
  }
}
