import Blobstore
import Foundation
import OCI
import Testing

@testable import Artifact

#if canImport(Glibc)
  import Glibc
#endif

/// What an import finds already in the work dir (SPEC 5.4): `DIR/images` ends up holding
/// exactly the artifact's layout, a `DIR/images` that is no real directory is refused before
/// anything is written, and a file path blocked in DIR is refused before anything is placed.
@Suite("ArtifactImporter: work dir")
struct ImportWorkDirTests {
  /// Link or file type of `path`, without following a link.
  func type(_ path: String) -> mode_t? {
    var info = stat()
    return lstat(path, &info) == 0 ? info.st_mode & S_IFMT : nil
  }

  func names(_ path: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: path).sorted()
  }

  @Test func foreignEntriesInImagesAreRemovedWithoutFollowingLinks() async throws {
    let fixture = try await ImportFixture()
    let archive = try fixture.pack("a.tar")
    let dir = fixture.scratch.path + "/kubekey"
    let images = dir + "/images"
    let outside = fixture.scratch.path + "/outside"
    let fm = FileManager.default
    try fm.createDirectory(atPath: outside + "/kept", withIntermediateDirectories: true)
    try Data("keep me".utf8).write(to: URL(fileURLWithPath: outside + "/kept/file"))
    try fm.createDirectory(atPath: images + "/blobs/sha256/sub", withIntermediateDirectories: true)
    try fm.createDirectory(atPath: images + "/.ingest", withIntermediateDirectories: true)
    try Data("x".utf8).write(to: URL(fileURLWithPath: images + "/foo.txt"))
    try Data("x".utf8).write(to: URL(fileURLWithPath: images + "/blobs/sha256/deadbeef"))
    try Data("x".utf8).write(to: URL(fileURLWithPath: images + "/blobs/sha256/sub/x"))
    try Data("x".utf8).write(to: URL(fileURLWithPath: images + "/blobs/other"))
    try Data("x".utf8).write(to: URL(fileURLWithPath: images + "/.ingest/a.partial"))
    try fm.createSymbolicLink(atPath: images + "/junk", withDestinationPath: outside + "/kept")
    try fm.createSymbolicLink(
      atPath: images + "/blobs/sha256/linked", withDestinationPath: outside + "/kept")
    // A link named like a blob of the artifact: replaced by the blob, its target untouched.
    let blob = try #require(fixture.images.images.first?.manifests.first?.layers.first)
    try fm.createSymbolicLink(
      atPath: images + "/blobs/sha256/\(blob.encoded)", withDestinationPath: outside + "/kept/file")

    let report = try ArtifactImporter.importArtifact(archive: archive, into: dir)
    #expect(!report.alreadyImported)

    #expect(try names(images) == ["blobs", "index.json", "oci-layout"])
    #expect(try names(images + "/blobs") == ["sha256"])
    let store = try BlobStore.open(at: images)
    let reachable = Set(try store.walk().nodes.compactMap { $0.descriptor.digest?.encoded })
    #expect(Set(try names(images + "/blobs/sha256")) == reachable)
    #expect(type(images + "/blobs/sha256/\(blob.encoded)") == S_IFREG)
    let verify = try await store.verify()
    #expect(verify.isValid, "\(verify)")
    // Nothing outside DIR/images was removed or written through the links.
    #expect(try names(outside) == ["kept"])
    #expect(try String(contentsOfFile: outside + "/kept/file", encoding: .utf8) == "keep me")
  }

  @Test(arguments: ["symlink", "file", "dangling"])
  func imagesThatIsNoDirectoryIsRefusedBeforeAnythingIsWritten(_ kind: String) async throws {
    let fixture = try await ImportFixture()
    let archive = try fixture.pack("a.tar")
    let dir = fixture.scratch.path + "/kubekey"
    let elsewhere = fixture.scratch.path + "/elsewhere/images"
    let fm = FileManager.default
    try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
    switch kind {
    case "symlink":
      try fm.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
      try fm.createSymbolicLink(atPath: dir + "/images", withDestinationPath: elsewhere)
    case "dangling":
      try fm.createSymbolicLink(atPath: dir + "/images", withDestinationPath: elsewhere)
    default:
      try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/images"))
    }
    let error = try #require(
      throws: ImportError.self,
      performing: { try ArtifactImporter.importArtifact(archive: archive, into: dir) })
    let text = "\(error)"
    #expect(text.hasPrefix("\(dir)/images is "), "\(text)")
    if kind == "file" {
      #expect(text.contains("a regular file, not a directory"), "\(text)")
      #expect(text.hasSuffix("move it away and import again"), "\(text)")
      #expect(type(dir + "/images") == S_IFREG)
    } else {
      #expect(text.contains("a symlink to \(elsewhere); kk writes only inside \(dir)"), "\(text)")
      #expect(text.hasSuffix("or import with --dir \(fixture.scratch.path)/elsewhere"), "\(text)")
      #expect(type(dir + "/images") == S_IFLNK)
    }
    #expect(try names(dir) == ["images"], "nothing else was written into DIR")
    #expect(!fm.fileExists(atPath: elsewhere + "/index.json"))
    #expect(!fm.fileExists(atPath: elsewhere + "/blobs"))
  }

  /// `DIR/manifest.yaml` is a symlink: the file is refused before `images/` is placed, so no
  /// complete-looking layout without a stamp is left behind.
  @Test func blockedFileTargetIsRefusedBeforeImagesArePlaced() async throws {
    let fixture = try await ImportFixture(filePaths: [
      "kube/v1.22.12/amd64/kubeadm", "manifest.yaml",
    ])
    let archive = try fixture.pack("a.tar")
    let dir = fixture.scratch.path + "/kubekey"
    let outside = fixture.scratch.path + "/outside.yaml"
    try Data("mine".utf8).write(to: URL(fileURLWithPath: outside))
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(
      atPath: dir + "/manifest.yaml", withDestinationPath: outside)
    let error = try #require(
      throws: ImportError.self,
      performing: { try ArtifactImporter.importArtifact(archive: archive, into: dir) })
    let text = "\(error)"
    #expect(text.contains("\(dir)/manifest.yaml is a symlink to \(outside)"), "\(text)")
    #expect(text.hasSuffix("remove \(dir)/manifest.yaml and import again"), "\(text)")
    #expect(try names(dir) == ["manifest.yaml"], "no images/, kube/, stamp or staging")
    #expect(try String(contentsOfFile: outside, encoding: .utf8) == "mine")
  }

  /// A regular file where a directory of a file path must go, and two files of the artifact
  /// where one's path is the other's directory: both refused before anything is placed.
  @Test func blockedParentsAreRefusedBeforeImagesArePlaced() async throws {
    let fixture = try await ImportFixture()
    let archive = try fixture.pack("a.tar")
    let dir = fixture.scratch.path + "/kubekey"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/kube"))
    let error = try #require(
      throws: ImportError.self,
      performing: { try ArtifactImporter.importArtifact(archive: archive, into: dir) })
    #expect("\(error)".contains("\(dir)/kube is a regular file, not a directory"), "\(error)")
    #expect("\(error)".hasSuffix("remove \(dir)/kube and import again"), "\(error)")
    #expect(try names(dir) == ["kube"])

    let nested = try await ImportFixture(filePaths: ["cni/plugins", "cni/plugins/bridge"])
    let other = fixture.scratch.path + "/other"
    #expect {
      try ArtifactImporter.importArtifact(archive: try nested.pack("n.tar"), into: other)
    } throws: { error in
      guard case .unsafeFilePath(let path, _) = error as? ImportError else { return false }
      return path == "cni/plugins/bridge" && "\(error)".contains("'cni/plugins' is a file")
    }
    #expect(!FileManager.default.fileExists(atPath: other))
  }
}

/// An import of another artifact that fails while placing must not leave the earlier
/// import's stamp (QA, HIGH): with it, importing the earlier artifact again said "already
/// imported" while `DIR/images` listed the other artifact's images, and a later
/// `push --images-dir` pushed the wrong bundle. A SIGINT or SIGTERM at that point leaves the
/// directory in the same state, since the signal handler only removes the staging store.
@Suite("ArtifactImporter: stamp")
struct ImportStampTests {
  /// The image names `DIR/images/index.json` lists.
  func placedImages(_ dir: String) throws -> Set<String> {
    let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/images/index.json"))
    let index = try JSONDecoder().decode(ImageIndex.self, from: data)
    return Set(index.manifests.compactMap { $0.annotation(AnnotationKey.refName) })
  }

  @Test func aPlacementThatFailsLeavesNoStampAndTheEarlierArtifactIsPlacedAgain() async throws {
    let fixture = try await ImportFixture(filePaths: ["manifest.yaml"])
    let archiveA = try fixture.pack("a.tar")
    let dir = fixture.scratch.path + "/kubekey"
    _ = try ArtifactImporter.importArtifact(archive: archiveA, into: dir)
    let imagesA = try placedImages(dir)
    let stampA = try #require(ArtifactImporter.readStamp(dir))

    // B: one image fewer, and a file whose name is longer than NAME_MAX. Nothing in DIR
    // blocks it, so planning passes; its rename fails (ENAMETOOLONG) after `images/` is B's.
    try ImportFixture.addFile(
      to: fixture.store, path: "kube/" + String(repeating: "x", count: 300), bytes: [1, 2, 3])
    var index = try JSONDecoder().decode(ImageIndex.self, from: Data(try fixture.indexJSON()))
    let dropped = try #require(
      index.manifests.firstIndex { $0.annotation(AnnotationKey.path) == nil })
    index.manifests.remove(at: dropped)
    let archiveB = try fixture.pack("b.tar", indexJSON: Array(try JSONEncoder().encode(index)))
    #expect(throws: ImportError.self) {
      try ArtifactImporter.importArtifact(archive: archiveB, into: dir)
    }
    let imagesB = try placedImages(dir)
    try #require(imagesB != imagesA, "B failed before placing; the test no longer covers placing")

    #expect(ArtifactImporter.readStamp(dir) == nil, "A's stamp is left beside B's images/")
    let again = try ArtifactImporter.importArtifact(archive: archiveA, into: dir)
    #expect(!again.alreadyImported)
    #expect(try placedImages(dir) == imagesA)
    #expect(ArtifactImporter.readStamp(dir) == stampA)
  }
}

/// Two imports into one directory: the second stops at once instead of sharing the staging
/// store with the first (both failed) or reading a stamp the first is about to replace.
@Suite struct ImportLockTests {
  @Test func aSecondImportIntoTheSameDirectoryIsRefusedAtOnce() async throws {
    let fixture = try await ImportFixture(filePaths: [])
    let archive = try fixture.pack("a.tar")
    let dir = fixture.scratch.path + "/kubekey"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    do {
      let held = try ImportLock(dir)
      let error = #expect(throws: ImportError.self) {
        _ = try ArtifactImporter.importArtifact(archive: archive, into: dir)
      }
      #expect(
        error?.description
          == "another kk artifact import is writing \(dir); wait for it to finish, or import "
          + "into another --dir")
      withExtendedLifetime(held) {}
    }
    // Nothing of the refused import: no staging store, no images; the directory stays.
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    // Once the lock is released (as when the holder exits, even killed), imports go on.
    let report = try ArtifactImporter.importArtifact(archive: archive, into: dir)
    #expect(report.images.count == fixture.images.images.count)
  }
}
