import Blobstore
import Foundation
import OCI
import TestSupport
import Testing

@testable import Artifact

@Suite("ArtifactImporter")
struct ImportTests {
  /// Checks a finished import: images layout verifies clean and holds no file blobs, per-arch
  /// entries point at the platform manifests, files carry the right bytes at their paths.
  func checkImported(_ fixture: ImportFixture, into dir: String, report: ImportReport) throws {
    #expect(!report.alreadyImported)
    #expect(Set(report.images) == Set(fixture.images.refs))
    #expect(Set(report.files) == Set(fixture.files.keys))
    let store = try BlobStore.open(at: dir + "/images")
    let verify = try store.verify()
    #expect(verify.isValid, "\(verify)")
    for layer in fixture.fileLayers { #expect(!store.contains(layer)) }
    let index = try store.readIndex()
    for image in fixture.images.images {
      let top = index.manifests.first { $0.annotation(AnnotationKey.refName) == image.ref }
      #expect(top?.digest == image.digest)
      for manifest in image.manifests {
        let label = manifest.platform.architecture  // amd64, arm64 (v8 folded)
        let entry = index.manifests.first {
          $0.annotation(AnnotationKey.refName) == "\(image.ref)-\(label)"
        }
        #expect(entry?.digest == manifest.digest, "\(image.ref)-\(label)")
        // Marked as a view of the image, so that kk's push does not push it on its own.
        #expect(entry?.annotation(AnnotationKey.platformOf) == image.ref)
      }
    }
    #expect(report.archEntries.count == fixture.images.images.count * 2)
    for (path, bytes) in fixture.files {
      let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + path))
      #expect([UInt8](data) == bytes, "\(path)")
      let mode = try FileManager.default.attributesOfItem(atPath: dir + "/" + path)[
        .posixPermissions]
      #expect((mode as? Int) == 0o755)
    }
    // Only the OCI layout under images/: no empty .ingest/ left behind (QA F4).
    let imagesDir = try FileManager.default.contentsOfDirectory(atPath: dir + "/images")
    #expect(imagesDir.sorted() == ["blobs", "index.json", "oci-layout"], "\(imagesDir)")
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir)
    #expect(!leftovers.contains(ArtifactImporter.stagingName))
  }

  @Test func specOrderArchiveImportsImagesAndFilesThenReimportIsANoOp() async throws {
    let fixture = try await ImportFixture()
    let archive = try fixture.pack("a.tar.gz")
    let dir = fixture.scratch.path + "/kubekey"
    let report = try ArtifactImporter.importArtifact(archive: archive, into: dir)
    try checkImported(fixture, into: dir, report: report)

    let started = Date()
    let again = try ArtifactImporter.importArtifact(archive: archive, into: dir)
    let seconds = Date().timeIntervalSince(started)
    #expect(again.alreadyImported)
    #expect(again.indexDigest == report.indexDigest)
    #expect(seconds < 0.5, "re-import took \(seconds) s")
  }

  /// An artifact that names a per-arch tag itself (`<ref>-amd64`, as calico's are listed):
  /// import keeps that image's entry and adds no view of the same name beside it.
  @Test func aPerArchImageOfTheArtifactIsNotShadowedByAView() async throws {
    let fixture = try await ImportFixture(filePaths: [])
    let image = try #require(fixture.images.images.first)
    let amd64 = try #require(image.manifests.first { $0.platform.architecture == "amd64" })
    let name = "\(image.ref)-amd64"
    var entry = Descriptor(
      mediaType: MediaType.ociManifest, digest: amd64.digest,
      size: try #require(fixture.store.size(of: amd64.digest)))
    entry.annotations = [AnnotationKey.refName: name]
    try fixture.store.putEntry(entry)
    let archive = try fixture.pack("a.tar")
    let dir = fixture.scratch.path + "/kubekey"
    _ = try ArtifactImporter.importArtifact(archive: archive, into: dir)
    let index = try BlobStore.open(at: dir + "/images").readIndex()
    let named = index.manifests.filter { $0.annotation(AnnotationKey.refName) == name }
    #expect(named.count == 1)
    #expect(named.first?.annotation(AnnotationKey.platformOf) == nil)
    #expect(named.first?.digest == amd64.digest)
  }

  /// A Docker-typed image (most of docker.io): its view is the same manifest in OCI's media
  /// types, which skopeo (and Go KubeKey, through containers/image) can find in an `oci:`
  /// layout; a view naming the Docker manifest was invisible to them. The image entry keeps
  /// the Docker manifest, byte for byte.
  @Test func aDockerTypedImageGetsAnOCIViewSkopeoReads() async throws {
    let fixture = try await ImportFixture(filePaths: [])
    let image = try #require(fixture.images.images.first)
    let amd64 = try #require(image.manifests.first { $0.platform.architecture == "amd64" })
    let oci = try JSONDecoder().decode(
      ImageManifest.self, from: Data(try fixture.store.readJSON(amd64.digest)))
    var config = oci.config
    config.mediaType = MediaType.dockerConfig
    let layers = oci.layers.map { layer -> Descriptor in
      var docker = layer
      docker.mediaType = MediaType.dockerLayerGzip
      return docker
    }
    let docker = try ManifestBytes(
      encoding: ImageManifest(mediaType: MediaType.dockerManifest, config: config, layers: layers))
    try fixture.store.ingest(bytes: docker.bytes)
    var entry = docker.descriptor
    let name = "docker.io/kk-test/docker-typed:v1"
    entry.annotations = [AnnotationKey.refName: name]
    try fixture.store.putEntry(entry)

    let archive = try fixture.pack("a.tar")
    let dir = fixture.scratch.path + "/kubekey"
    _ = try ArtifactImporter.importArtifact(archive: archive, into: dir)
    let index = try BlobStore.open(at: dir + "/images").readIndex()
    let imageEntry = try #require(
      index.manifests.first { $0.annotation(AnnotationKey.refName) == name })
    #expect(imageEntry.digest == docker.digest)
    let view = try #require(
      index.manifests.first { $0.annotation(AnnotationKey.refName) == name + "-amd64" })
    #expect(view.mediaType == MediaType.ociManifest)
    #expect(view.digest != docker.digest)
    let raw = try await ProcessRunner.checked(
      "skopeo", ["inspect", "--raw", "oci:\(dir)/images:\(name)-amd64"])
    #expect(SHA256Hasher.digest(Array(raw.stdoutData)) == view.digest)
    let viewed = try JSONDecoder().decode(ImageManifest.self, from: raw.stdoutData)
    #expect(viewed.config.digest == config.digest && viewed.config.mediaType == MediaType.ociConfig)
    #expect(viewed.layers.map(\.digest) == layers.map(\.digest))
    #expect(viewed.layers.allSatisfy { $0.mediaType == MediaType.ociLayerGzip })
    let report = try await BlobStore.open(at: dir + "/images").verify()
    #expect(report.isValid, "\(report.problems)")
  }

  @Test func systemTarOfLayoutInTarOrderImportsTheSame() async throws {
    let fixture = try await ImportFixture()
    let archive = try fixture.systemTar("layout.tgz")
    let dir = fixture.scratch.path + "/kubekey"
    let report = try ArtifactImporter.importArtifact(archive: archive, into: dir)
    try checkImported(fixture, into: dir, report: report)
  }

  @Test func skopeoReadsThePerArchEntries() async throws {
    let fixture = try await ImportFixture(filePaths: [])
    let archive = try fixture.pack("a.tar")
    let dir = fixture.scratch.path + "/kubekey"
    _ = try ArtifactImporter.importArtifact(archive: archive, into: dir)
    let image = try #require(fixture.images.images.first)
    let amd64 = try #require(image.manifests.first { $0.platform.architecture == "amd64" })
    let process = Process()
    let pipe = Pipe()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["skopeo", "inspect", "--raw", "oci:\(dir)/images:\(image.ref)-amd64"]
    process.standardOutput = pipe
    try process.run()
    let raw = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    #expect(SHA256Hasher.digest([UInt8](raw)) == amd64.digest)
  }

  @Test func corruptBlobIsNamedAndNothingIsPlaced() async throws {
    let fixture = try await ImportFixture()
    let bad = try #require(fixture.images.images.first?.manifests.first?.layers.first)
    let archive = try fixture.pack("bad.tar.gz", damaging: bad)
    let dir = fixture.scratch.path + "/kubekey"
    #expect {
      try ArtifactImporter.importArtifact(archive: archive, into: dir)
    } throws: { error in
      guard case .corruptBlob(let entry, _) = error as? ImportError else { return false }
      return entry == "blobs/sha256/\(bad.encoded)"
    }
    // The import created `dir`, so its failure removes it; an existing one is kept, empty.
    #expect(!FileManager.default.fileExists(atPath: dir))
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    #expect(throws: ImportError.self) {
      try ArtifactImporter.importArtifact(archive: archive, into: dir)
    }
    let left = try FileManager.default.contentsOfDirectory(atPath: dir)
    #expect(left.isEmpty, "\(left)")
  }

  @Test func corruptFileLayerIsNamedAndNoFileIsWritten() async throws {
    let fixture = try await ImportFixture()
    let bad = fixture.fileLayers[0]
    let archive = try fixture.pack("bad.tar.zst", damaging: bad)
    let dir = fixture.scratch.path + "/kubekey"
    #expect(throws: ImportError.self) {
      try ArtifactImporter.importArtifact(archive: archive, into: dir)
    }
    #expect(!FileManager.default.fileExists(atPath: dir + "/kube"))
    #expect(!FileManager.default.fileExists(atPath: dir + "/" + ArtifactImporter.stampName))
  }

  @Test(arguments: ["../escape", "/etc/kk-escape", "kube/../../escape", "images/blobs/x"])
  func unsafeFilePathAnnotationIsRefused(_ path: String) async throws {
    let fixture = try await ImportFixture(filePaths: [path])
    let archive = try fixture.pack("a.tar")
    let dir = fixture.scratch.path + "/sub/kubekey"
    #expect {
      try ArtifactImporter.importArtifact(archive: archive, into: dir)
    } throws: { error in
      guard case .unsafeFilePath = error as? ImportError else { return false }
      return true
    }
    #expect(!FileManager.default.fileExists(atPath: fixture.scratch.path + "/sub/escape"))
    #expect(!FileManager.default.fileExists(atPath: fixture.scratch.path + "/escape"))
    #expect(!FileManager.default.fileExists(atPath: "/etc/kk-escape"))
  }

  @Test func symlinkInTheWorkDirIsNotFollowed() async throws {
    let fixture = try await ImportFixture()
    let archive = try fixture.pack("a.tar")
    let dir = fixture.scratch.path + "/kubekey"
    let outside = fixture.scratch.path + "/outside"
    try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: dir + "/kube", withDestinationPath: outside)
    #expect(throws: ImportError.self) {
      try ArtifactImporter.importArtifact(archive: archive, into: dir)
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)
  }

  @Test(arguments: [
    ("../evil", TarFixture.Kind.file), ("/abs/evil", .file), ("blobs/link", .symlink),
    ("blobs/hard", .hardlink), ("dev", .charDevice),
  ])
  func maliciousTarballIsRefusedAndWritesNothing(_ name: String, _ kind: TarFixture.Kind) throws {
    let scratch = try ScratchDir()
    let payload = Array("evil".utf8)
    let bytes = TarFixture.archive([
      TarFixture.entry("oci-layout", Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8)),
      TarFixture.entry(name, kind == .file ? payload : [], kind: kind, link: "/etc/passwd"),
    ])
    let archive = try scratch.file("evil.tar", bytes)
    let dir = scratch.path + "/in/kubekey"
    #expect {
      try ArtifactImporter.importArtifact(archive: archive, into: dir)
    } throws: { error in
      guard case .archive = error as? ImportError else { return false }
      return true
    }
    #expect(!scratch.exists("evil"))
    #expect(!scratch.exists("in/evil"))
    #expect(!FileManager.default.fileExists(atPath: "/abs/evil"))
  }

  @Test func duplicateEntryIsRefused() throws {
    let scratch = try ScratchDir()
    let layout = TarFixture.entry("oci-layout", Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))
    let archive = try scratch.file("dup.tar", TarFixture.archive([layout, layout]))
    #expect(throws: ImportError.self) {
      try ArtifactImporter.importArtifact(archive: archive, into: scratch.path + "/kubekey")
    }
  }
}

@Suite("ArtifactImporter: re-import")
struct ImportReplaceTests {
  /// A second, different artifact into the same work dir replaces `images/` exactly: blobs
  /// only the first one reached are removed, so verify sees no orphans (QA F15).
  @Test func importingAnotherArtifactLeavesNoOrphanBlobs() async throws {
    let fixture = try await ImportFixture()
    let dir = fixture.scratch.path + "/kubekey"
    _ = try ArtifactImporter.importArtifact(archive: try fixture.pack("all.tar.gz"), into: dir)

    var index = try JSONDecoder().decode(ImageIndex.self, from: Data(try fixture.indexJSON()))
    let kept = try #require(
      index.manifests.first { $0.annotation(AnnotationKey.path) == nil })
    index.manifests = index.manifests.filter {
      $0.digest == kept.digest || $0.annotation(AnnotationKey.path) != nil
    }
    let smaller = try fixture.pack("one.tar.gz", indexJSON: try CanonicalJSON.encode(index))
    let report = try ArtifactImporter.importArtifact(archive: smaller, into: dir)
    #expect(report.images.count == 1)

    let store = try BlobStore.open(at: dir + "/images")
    let reachable = Set(try store.walk().nodes.compactMap(\.descriptor.digest))
    let stored = Set(
      try FileManager.default.contentsOfDirectory(atPath: dir + "/images/blobs/sha256").map {
        try Digest(parsing: "sha256:" + $0)
      })
    #expect(!stored.isEmpty)
    #expect(stored == reachable, "orphans: \(stored.subtracting(reachable))")
    let imagesDir = try FileManager.default.contentsOfDirectory(atPath: dir + "/images")
    #expect(imagesDir.sorted() == ["blobs", "index.json", "oci-layout"], "\(imagesDir)")
  }
}
