import Blobstore
import Foundation
import OCI
import Testing

@testable import Artifact

/// The pack step on its own: SPEC §1.1 order, determinism, --force, free-space numbers,
/// files as OCI artifacts, and cache pruning.
@Suite struct ExportPackTests {
  /// A two-platform image (index → 2 manifests → config + layers, one layer shared) plus the
  /// manifest YAML as a file artifact.
  struct Fixture {
    let scratch: ScratchDir
    let store: BlobStore
    let entries: [Descriptor]
    let index: StoredBlob
    let layers: [StoredBlob]

    init() throws {
      scratch = try ScratchDir()
      store = try BlobStore.create(at: scratch.path + "/cache")
      let shared = try store.ingest(bytes: [0x1f, 0x8b] + pseudoRandomBytes(300_000, seed: 1))
      let own = [
        try store.ingest(bytes: [0x1f, 0x8b] + pseudoRandomBytes(200_000, seed: 2)),
        try store.ingest(bytes: [0x1f, 0x8b] + pseudoRandomBytes(100_000, seed: 3)),
      ]
      layers = [shared] + own
      var children: [String] = []
      for (arch, layer) in zip(["amd64", "arm64"], own) {
        let config = try store.ingest(
          bytes: Array(#"{"architecture":"\#(arch)","os":"linux"}"#.utf8))
        let layerJSON = [shared, layer].map {
          #"{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"\#($0.digest)","size":\#($0.size)}"#
        }
        let manifest = try store.ingest(
          bytes: Array(
            #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\#(config.digest)","size":\#(config.size)},"layers":[\#(layerJSON.joined(separator: ","))]}"#
              .utf8))
        children.append(
          #"{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"\#(manifest.digest)","size":\#(manifest.size),"platform":{"architecture":"\#(arch)","os":"linux"}}"#
        )
      }
      index = try store.ingest(
        bytes: Array(
          #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[\#(children.joined(separator: ","))]}"#
            .utf8))
      let image = Descriptor(
        mediaType: MediaType.ociIndex, digest: index.digest, size: index.size,
        annotations: [
          AnnotationKey.refName: "docker.io/library/app:1",
          AnnotationKey.containerdImageName: "docker.io/library/app:1",
        ])
      let yaml = try FileArtifact(kind: .manifest, path: ArtifactExporter.manifestPath).store(
        bytes: Array("apiVersion: kubekey.kubesphere.io/v1alpha2\nkind: Manifest\n".utf8), in: store
      )
      entries = [image, yaml]
    }
  }

  static func tarNames(_ path: String) throws -> [String] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["tar", "-tf", path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
  }

  @Test func specOrderMetadataFirstThenDataSortedByDigest() throws {
    let fixture = try Fixture()
    let plan = try PackPlan(store: fixture.store, entries: fixture.entries)
    // index, manifest amd64, its config, manifest arm64, its config, yaml manifest, {} config.
    #expect(plan.metadata.count == 7)
    #expect(plan.metadata.first?.digest == fixture.index.digest)
    #expect(plan.metadata.allSatisfy { $0.mediaType.hasSuffix("json") })
    #expect(plan.data.map(\.digest) == plan.data.map(\.digest).sorted())
    // 3 layers + the YAML: each shared layer once.
    #expect(plan.data.count == 4)
    let output = fixture.scratch.path + "/a.tar.gz"
    let result = try ArtifactPacker.pack(plan: plan, from: fixture.store, to: output)
    let names = try Self.tarNames(output)
    let expected =
      ["oci-layout", "index.json"] + plan.blobs.map { "blobs/sha256/\($0.digest.encoded)" }
    #expect(names == expected)
    #expect(result.blobCount == 11)
    let report = try ArtifactVerifier.verifyBlocking(path: output)
    #expect(report.isValid, "\(report.problems)")
    #expect(report.summary.images == ["docker.io/library/app:1"])
  }

  @Test(arguments: ["tar.gz", "tar.zst", "tar"])
  func sameInputsGiveByteIdenticalArtifacts(_ ext: String) throws {
    let fixture = try Fixture()
    let plan = try PackPlan(store: fixture.store, entries: fixture.entries)
    let first = try ArtifactPacker.pack(
      plan: plan, from: fixture.store, to: fixture.scratch.path + "/one.\(ext)")
    let second = try ArtifactPacker.pack(
      plan: try PackPlan(store: fixture.store, entries: fixture.entries), from: fixture.store,
      to: fixture.scratch.path + "/two.\(ext)")
    #expect(first.sha256 == second.sha256)
    #expect(first.size == second.size)
    let bytes = try Data(contentsOf: URL(fileURLWithPath: first.path))
    #expect(SHA256Hasher.digest(bytes) == first.sha256)
    // Layers are stored, not deflated: blob bytes plus tar framing (header + padding).
    #expect(first.size <= plan.blobBytes + Int64(1024 * (plan.blobs.count + 3)) + 4096)
  }

  @Test func existingOutputNeedsForceAndBadExtensionIsRefused() throws {
    let fixture = try Fixture()
    let plan = try PackPlan(store: fixture.store, entries: fixture.entries)
    let output = fixture.scratch.path + "/out.tar.gz"
    try Data("keep me".utf8).write(to: URL(fileURLWithPath: output))
    #expect(throws: ExportError.self) {
      try ArtifactPacker.pack(plan: plan, from: fixture.store, to: output)
    }
    #expect(try String(contentsOfFile: output, encoding: .utf8) == "keep me")
    _ = try ArtifactPacker.pack(plan: plan, from: fixture.store, to: output, force: true)
    #expect(try ArtifactVerifier.verifyBlocking(path: output).isValid)
    #expect(throws: ExportError.self) {
      try ArtifactPacker.checkOutput(fixture.scratch.path + "/out.zip", force: false)
    }
  }

  @Test func missingBlobFailsWithoutLeavingTheOutput() throws {
    let fixture = try Fixture()
    let plan = try PackPlan(store: fixture.store, entries: fixture.entries)
    try FileManager.default.removeItem(atPath: fixture.store.path(for: fixture.layers[0].digest))
    let output = fixture.scratch.path + "/out.tar.gz"
    do {
      _ = try ArtifactPacker.pack(plan: plan, from: fixture.store, to: output)
      Issue.record("packing with a missing blob succeeded")
    } catch {
      #expect("\(error)".contains(fixture.layers[0].digest.description))
    }
    #expect(!FileManager.default.fileExists(atPath: output))
    #expect(!FileManager.default.fileExists(atPath: output + ".partial"))
  }

  @Test func diskSpaceCheckNamesTheNumbers() throws {
    #expect(DiskSpace.available(at: "/tmp/does/not/exist/yet") != nil)
    do {
      try DiskSpace.require(Int64.max / 2, at: "/tmp", what: "the artifact")
      Issue.record("an impossible size passed the free-space check")
    } catch {
      #expect("\(error)".contains("need"))
      #expect("\(error)".contains("available"))
    }
  }

  @Test func fileArtifactFollowsSpecSection13() throws {
    let fixture = try Fixture()
    let entry = fixture.entries[1]
    #expect(entry.artifactType == MediaType.kubekeyManifest)
    #expect(entry.annotation(AnnotationKey.artifactKind) == "manifest")
    #expect(entry.annotation(AnnotationKey.path) == "manifest.yaml")
    #expect(entry.annotation(AnnotationKey.refName) == nil)
    let manifest = try JSONDecoder().decode(
      ImageManifest.self, from: Data(try fixture.store.readJSON(entry.digest)))
    #expect(manifest.config.digest == Descriptor.emptyJSON.digest)
    #expect(manifest.layers.count == 1)
    #expect(manifest.layers[0].mediaType == MediaType.yaml)
    #expect(manifest.layers[0].annotation(AnnotationKey.title) == "manifest.yaml")
    #expect(entry.annotation(AnnotationKey.upstreamDigest) == manifest.layers[0].digest.description)
  }

  @Test func pruneAllOrByAge() throws {
    let fixture = try Fixture()
    let cache = ExportCache(store: fixture.store)
    let old = fixture.layers[1].digest
    var times = [timeval(tv_sec: 1_000_000, tv_usec: 0), timeval(tv_sec: 1_000_000, tv_usec: 0)]
    #expect(utimes(fixture.store.path(for: old), &times) == 0)
    let aged = try cache.prune(olderThanDays: 30)
    #expect(aged.removedBlobs == 1)
    #expect(!fixture.store.contains(old))
    #expect(fixture.store.contains(fixture.layers[0].digest))
    let all = try cache.prune(olderThanDays: nil)
    #expect(all.removedBlobs > 5)
    #expect(try fixture.store.readIndex().manifests.isEmpty)
  }
}
