import Blobstore
import Foundation
import OCI
import Testing

@testable import Artifact

/// Per-arch `<ref>-<arch>` names of images that were pinned by digest: the suffix used to be
/// appended to the digest (`repo@sha256:<hex>-amd64`), which is no valid reference.
@Suite struct QAImportNameTests {
  static let hex = String(repeating: "ab", count: 32)

  @Test func suffixLandsOnATag() throws {
    #expect(
      ImportPlacer.archReference("docker.io/calico/cni:v3.23.2", arch: "amd64")
        == "docker.io/calico/cni:v3.23.2-amd64")
    #expect(
      ImportPlacer.archReference("127.0.0.1:5000/a/b:v1@sha256:\(Self.hex)", arch: "arm64")
        == "127.0.0.1:5000/a/b:v1-arm64")
    #expect(
      ImportPlacer.archReference("127.0.0.1:5000/a/b@sha256:\(Self.hex)", arch: "arm-v7")
        == "127.0.0.1:5000/a/b:sha256-\(Self.hex)-arm-v7")
    for name in [
      "127.0.0.1:5000/a/b:v1@sha256:\(Self.hex)", "127.0.0.1:5000/a/b@sha256:\(Self.hex)",
      "docker.io/library/busybox@sha256:\(Self.hex)",
    ] {
      let perArch = ImportPlacer.archReference(name, arch: "amd64")
      let parsed = try Reference(parsing: perArch)
      #expect(parsed.digest == nil, "\(perArch)")
      #expect(parsed.tag?.hasSuffix("-amd64") == true, "\(perArch)")
    }
  }

  /// Through a real import: a digest-pinned image's per-arch entries parse as references.
  @Test func importedDigestPinnedImageHasParseablePerArchEntries() async throws {
    let fixture = try await ImportFixture(filePaths: [])
    let image = try #require(fixture.images.images.first)
    let index = try fixture.store.readIndex()
    let entry = try #require(
      index.manifests.first { $0.annotation(AnnotationKey.refName) == image.ref })
    let pinned = "127.0.0.1:5000/\(image.repository)@\(image.digest)"
    try fixture.store.putImage(entry, reference: pinned)
    let archive = try fixture.pack("a.tar")
    let dir = fixture.scratch.path + "/kubekey"
    _ = try ArtifactImporter.importArtifact(archive: archive, into: dir)
    let imported = try BlobStore.open(at: dir + "/images").readIndex()
    let names = imported.manifests.compactMap { $0.annotation(AnnotationKey.refName) }
    let hex = image.digest.description.replacingOccurrences(of: "sha256:", with: "")
    #expect(names.contains("127.0.0.1:5000/\(image.repository):sha256-\(hex)-amd64"), "\(names)")
    for name in names where name.hasSuffix("-amd64") || name.hasSuffix("-arm64") {
      #expect((try? Reference(parsing: name)) != nil, "\(name)")
    }
  }
}

/// `--dir` naming a regular file: the error said "Permission denied" (EACCES hard-coded).
@Suite struct QAImportDirectoryErrorTests {
  @Test func dirThatIsAFileIsReportedAsNotADirectory() throws {
    let scratch = try ScratchDir()
    let file = scratch.path + "/file"
    try "x".write(toFile: file, atomically: true, encoding: .utf8)
    do {
      try ArtifactImporter.makeDirectories(file + "/kubekey")
      Issue.record("a directory under a regular file was created")
    } catch {
      let text = "\(error)"
      #expect(text.contains(file), "\(text)")
      #expect(text.contains("Not a directory"), "\(text)")
      #expect(!text.contains("Permission denied"), "\(text)")
    }
  }
}
