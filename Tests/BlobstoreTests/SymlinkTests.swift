import Foundation
import OCI
import Testing

@testable import Blobstore

/// A symbolic link inside a layout could point anywhere: kk neither reads nor writes through
/// one, and says which link it refused instead of reporting the file as missing (or, as
/// before, verifying bytes from outside the layout as if they were the blob).
@Suite("Blobstore: links inside a layout")
struct SymlinkTests {
  /// Moves `name` out of the layout and leaves a link to it in its place.
  func replaceWithLink(_ fixture: LayoutFixture, _ name: String, outside: String) throws {
    let path = fixture.store.root + "/" + name
    try FileManager.default.moveItem(atPath: path, toPath: outside)
    try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: outside)
  }

  @Test func aLinkedBlobIsRefusedByReadsAndVerify() throws {
    let fixture = try LayoutFixture()
    defer { fixture.dir.remove() }
    let outside = try TempDir()
    defer { outside.remove() }
    let blob = try #require(fixture.allBlobs.first)
    let path = fixture.store.path(for: blob.digest)
    try replaceWithLink(
      fixture, "blobs/sha256/\(blob.digest.encoded)", outside: outside.path + "/blob")
    #expect(!fixture.store.contains(blob.digest))
    #expect(throws: BlobstoreError.self) { _ = try fixture.store.open(blob.digest) }
    do {
      _ = try fixture.store.readJSON(blob.digest)
      Issue.record("a linked blob was read")
    } catch {
      #expect(error.description.hasPrefix("\(path) is a symbolic link"), "\(error)")
    }
    let error = #expect(throws: BlobstoreError.self) { _ = try fixture.store.verify() }
    #expect(error?.description.hasPrefix("\(path) is a symbolic link") == true)
  }

  @Test(arguments: ["index.json", "oci-layout"])
  func aLinkedTopFileIsRefusedByVerify(_ name: String) throws {
    let fixture = try LayoutFixture()
    defer { fixture.dir.remove() }
    let outside = try TempDir()
    defer { outside.remove() }
    try replaceWithLink(fixture, name, outside: outside.path + "/" + name)
    let error = #expect(throws: BlobstoreError.self) { _ = try fixture.store.verify() }
    #expect(
      error?.description.hasPrefix("\(fixture.store.root)/\(name) is a symbolic link") == true,
      "\(String(describing: error))")
  }

  /// `blobs` or `blobs/sha256` as a link: opening the layout (to read or to write into it)
  /// is refused, and nothing is written where the link points.
  @Test(arguments: ["blobs", "blobs/sha256"])
  func aLinkedBlobDirectoryIsRefusedForReadingAndWriting(_ name: String) throws {
    let fixture = try LayoutFixture()
    defer { fixture.dir.remove() }
    let outside = try TempDir()
    defer { outside.remove() }
    let target = outside.path + "/moved"
    try replaceWithLink(fixture, name, outside: target)
    let before = try FileManager.default.subpathsOfDirectory(atPath: target)
    let opened = #expect(throws: BlobstoreError.self) {
      _ = try BlobStore.open(at: fixture.store.root)
    }
    let created = #expect(throws: BlobstoreError.self) {
      _ = try BlobStore.create(at: fixture.store.root)
    }
    for error in [opened, created] {
      #expect(
        error?.description.contains("\(name) is a symbolic link; kk reads and writes only inside")
          == true, "\(String(describing: error))")
    }
    #expect(try FileManager.default.subpathsOfDirectory(atPath: target) == before)
  }
}
