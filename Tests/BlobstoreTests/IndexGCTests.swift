import Foundation
import OCI
import Testing

@testable import Blobstore

@Suite("Blobstore index.json and GC")
struct IndexGCTests {
  @Test func putImageReplacesByReferenceAndKeepsOrder() throws {
    let fixture = try LayoutFixture()
    defer { fixture.dir.remove() }
    let store = fixture.store
    try store.writeIndex(ImageIndex(manifests: []))
    let multi = Descriptor(
      mediaType: MediaType.ociIndex, digest: fixture.multiArchIndex.digest,
      size: Int64(fixture.multiArchIndex.size))
    let single = Descriptor(
      mediaType: MediaType.ociManifest, digest: fixture.singleManifest.digest,
      size: Int64(fixture.singleManifest.size),
      annotations: [AnnotationKey.upstreamDigest: fixture.multiArchIndex.digest.description])
    try store.putImage(multi, reference: "docker.io/library/a:1")
    try store.putImage(multi, reference: "docker.io/library/b:1")
    // Re-pointing "a" replaces its entry in place.
    try store.putImage(single, reference: "docker.io/library/a:1")
    let images = try store.images()
    #expect(images.map(\.reference) == ["docker.io/library/a:1", "docker.io/library/b:1"])
    #expect(images[0].descriptor.digest == fixture.singleManifest.digest)
    #expect(
      images[0].descriptor.annotation(AnnotationKey.containerdImageName) == "docker.io/library/a:1")
    #expect(
      images[0].descriptor.annotation(AnnotationKey.upstreamDigest)
        == fixture.multiArchIndex.digest.description)
    #expect(try store.removeImage(reference: "docker.io/library/b:1"))
    #expect(try !store.removeImage(reference: "docker.io/library/b:1"))
    #expect(try store.images().map(\.reference) == ["docker.io/library/a:1"])
    // What we write is read back by the lenient walk and verifies.
    let report = try store.verify()
    #expect(report.summary.images == ["docker.io/library/a:1"])
    #expect(report.errors.isEmpty)
  }

  /// Many images in one write: the same result as one `putImage` each, in order.
  @Test func putImagesRecordsManyInOneWrite() throws {
    let fixture = try LayoutFixture()
    defer { fixture.dir.remove() }
    let store = fixture.store
    let multi = Descriptor(
      mediaType: MediaType.ociIndex, digest: fixture.multiArchIndex.digest,
      size: Int64(fixture.multiArchIndex.size))
    let single = Descriptor(
      mediaType: MediaType.ociManifest, digest: fixture.singleManifest.digest,
      size: Int64(fixture.singleManifest.size))
    try store.writeIndex(ImageIndex(manifests: []))
    try store.putImage(multi, reference: "docker.io/library/a:1")
    try store.putImages([
      (single, "docker.io/library/b:1"), (single, "docker.io/library/a:1"),
      (multi, "docker.io/library/c:1"),
    ])
    let images = try store.images()
    #expect(
      images.map(\.reference) == [
        "docker.io/library/a:1", "docker.io/library/b:1", "docker.io/library/c:1",
      ])
    #expect(images.map(\.descriptor.digest) == [single.digest, single.digest, multi.digest])
    #expect(
      images[2].descriptor.annotation(AnnotationKey.containerdImageName) == "docker.io/library/c:1")
  }

  @Test func fileEntriesAreReplacedByPath() throws {
    let dir = try TempDir()
    defer { dir.remove() }
    let store = try BlobStore.create(at: dir.path)
    let one = try store.ingest(bytes: Array("one".utf8))
    let two = try store.ingest(bytes: Array("two".utf8))
    let path = [
      AnnotationKey.path: "kube/v1.22.12/amd64/kubeadm", AnnotationKey.artifactKind: "file",
    ]
    try store.putEntry(
      Descriptor(
        mediaType: MediaType.ociManifest, digest: one.digest, size: one.size, annotations: path))
    try store.putEntry(
      Descriptor(
        mediaType: MediaType.ociManifest, digest: two.digest, size: two.size, annotations: path))
    let index = try store.readIndex()
    #expect(index.manifests.map(\.digest) == [two.digest])
  }

  @Test func concurrentPutsLoseNoEntry() async throws {
    let dir = try TempDir()
    defer { dir.remove() }
    let store = try BlobStore.create(at: dir.path)
    let blob = try store.ingest(bytes: Array("{}".utf8))
    try await withThrowingTaskGroup(of: Void.self) { group in
      for n in 0..<16 {
        group.addTask {
          try store.putImage(
            Descriptor(mediaType: MediaType.ociManifest, digest: blob.digest, size: blob.size),
            reference: "docker.io/library/img:\(n)")
        }
      }
      try await group.waitForAll()
    }
    #expect(try store.images().count == 16)
  }

  @Test func gcRemovesUnreachableBlobsAndOldTempFiles() throws {
    let fixture = try LayoutFixture()
    defer { fixture.dir.remove() }
    let store = fixture.store
    let orphan = try LayoutFixture.put(store, pseudoRandomBytes(5000, seed: 77))
    // An abandoned download, and one still in progress.
    let stale = store.ingestDirectory + "/deadbeef.1.1.partial"
    let fresh = store.ingestDirectory + "/deadbeef.1.2.partial"
    try Data(count: 100).write(to: URL(fileURLWithPath: stale))
    try Data(count: 50).write(to: URL(fileURLWithPath: fresh))
    try FileManager.default.setAttributes(
      [.modificationDate: Date(timeIntervalSinceNow: -7200)], ofItemAtPath: stale)

    let dry = try store.collectGarbage(tempFileAge: 3600, dryRun: true)
    #expect(dry.removedBlobs == [StoredBlob(digest: orphan.digest, size: 5000)])
    #expect(store.contains(orphan.digest))

    let report = try store.collectGarbage(tempFileAge: 3600)
    #expect(report.removedBlobs == [StoredBlob(digest: orphan.digest, size: 5000)])
    #expect(report.removedTempFiles == [stale])
    #expect(report.freedBytes == 5100)
    #expect(!store.contains(orphan.digest))
    #expect(FileManager.default.fileExists(atPath: fresh))
    #expect(try store.verify().problems.isEmpty)

    // Dropping an image frees exactly what only it used.
    try store.removeImage(reference: LayoutFixture.singleRef)
    let second = try store.collectGarbage()
    #expect(
      Set(second.removedBlobs.map(\.digest))
        == [fixture.singleManifest.digest, fixture.singleConfig.digest, fixture.layers[3].digest])
    #expect(try store.verify().problems.isEmpty)
  }

  @Test func gcRefusesWhenAManifestDoesNotParse() throws {
    let fixture = try LayoutFixture()
    defer { fixture.dir.remove() }
    try fixture.damage(fixture.manifests[0]) { $0 = Array("garbage".utf8) }
    #expect(throws: BlobstoreError.self) { try fixture.store.collectGarbage() }
    // Nothing was deleted.
    #expect(fixture.allBlobs.allSatisfy { fixture.store.contains($0.digest) })
  }

  /// A layout written by another tool verifies clean: skopeo copies our multi-arch image.
  @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/skopeo")))
  func layoutWrittenBySkopeoVerifiesClean() throws {
    let fixture = try LayoutFixture(mixDocker: false)
    defer { fixture.dir.remove() }
    try fixture.writeIndex { $0.replacingOccurrences(of: LayoutFixture.multiRef, with: "cni") }
    let destination = fixture.dir.path + "/copied"
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/skopeo")
    process.arguments = [
      "--insecure-policy", "copy", "--all", "--preserve-digests", "--quiet",
      "oci:\(fixture.store.root):cni", "oci:\(destination):copied",
    ]
    let errors = Pipe()
    process.standardError = errors
    try process.run()
    process.waitUntilExit()
    let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    try #require(process.terminationStatus == 0, "skopeo failed: \(message)")

    let copied = try BlobStore.open(at: destination)
    let report = try copied.verify()
    #expect(report.problems.isEmpty, "\(report.problems)")
    #expect(report.summary.images == ["copied"])
    #expect(report.summary.platforms == ["linux/amd64", "linux/arm64"])
    // index + 2 manifests + 2 configs + shared layer + 2 own layers, each once.
    #expect(report.summary.blobCount == 8)
    // With --preserve-digests (else skopeo recompresses our non-gzip test layers) every blob
    // is copied byte-exact, and index.json points at our index.
    #expect(try copied.images().first?.descriptor.digest == fixture.multiArchIndex.digest)
    for blob in [fixture.multiArchIndex] + fixture.manifests + fixture.configs
      + fixture.layers.prefix(3)
    {
      #expect(copied.contains(blob.digest))
    }
  }
}
