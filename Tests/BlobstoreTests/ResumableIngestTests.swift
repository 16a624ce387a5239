import Foundation
import OCI
import Testing

@testable import Blobstore

/// `resumableWriter`: an interrupted download keeps its bytes under a fixed name and the
/// next writer continues from there; bad kept bytes never reach `blobs/`.
@Suite("Blobstore resumable ingest")
struct ResumableIngestTests {
  @Test func suspendedIngestResumesWhereItStopped() throws {
    let dir = try TempDir()
    defer { dir.remove() }
    let store = try BlobStore.create(at: dir.path)
    let bytes = pseudoRandomBytes(2_600_000, seed: 11)
    let digest = SHA256Hasher.digest(bytes)
    let size = Int64(bytes.count)
    let first = try store.resumableWriter(expecting: digest, size: size)
    #expect(first.resumedFrom == 0)
    try bytes[0..<1_500_000].withUnsafeBytes { try first.write($0) }
    first.suspend()
    #expect(!store.contains(digest))

    let second = try store.resumableWriter(expecting: digest, size: size)
    #expect(second.resumedFrom == 1_500_000)
    #expect(second.written == 1_500_000)
    try bytes[1_500_000...].withUnsafeBytes { try second.write($0) }
    try second.commit()
    #expect(store.size(of: digest) == size)
    #expect(
      SHA256Hasher.digest(try Data(contentsOf: URL(fileURLWithPath: store.path(for: digest))))
        == digest)
    #expect(leftoverIngestFiles(store).isEmpty)
  }

  @Test func droppedWriterKeepsItsBytesLikeAKilledProcess() throws {
    let dir = try TempDir()
    defer { dir.remove() }
    let store = try BlobStore.create(at: dir.path)
    let bytes = pseudoRandomBytes(300_000, seed: 12)
    let digest = SHA256Hasher.digest(bytes)
    do {
      let writer = try store.resumableWriter(expecting: digest, size: Int64(bytes.count))
      try bytes[0..<100_000].withUnsafeBytes { try writer.write($0) }
    }
    let again = try store.resumableWriter(expecting: digest, size: Int64(bytes.count))
    #expect(again.resumedFrom == 100_000)
    again.cancel()
    #expect(leftoverIngestFiles(store).isEmpty)
  }

  @Test func corruptKeptBytesFailTheCommitAndAreRemoved() throws {
    let dir = try TempDir()
    defer { dir.remove() }
    let store = try BlobStore.create(at: dir.path)
    let bytes = pseudoRandomBytes(400_000, seed: 13)
    let digest = SHA256Hasher.digest(bytes)
    var torn = Array(bytes[0..<200_000])
    torn[1234] ^= 0xFF
    try Data(torn).write(
      to: URL(fileURLWithPath: store.ingestDirectory + "/\(digest.encoded).resume"))
    let writer = try store.resumableWriter(expecting: digest, size: Int64(bytes.count))
    #expect(writer.resumedFrom == 200_000)
    try bytes[200_000...].withUnsafeBytes { try writer.write($0) }
    #expect(throws: BlobstoreError.self) { try writer.commit() }
    #expect(!store.contains(digest))
    #expect(leftoverIngestFiles(store).isEmpty)
  }

  @Test func aSecondWriterForTheSameBlobGetsAPrivateFile() throws {
    let dir = try TempDir()
    defer { dir.remove() }
    let store = try BlobStore.create(at: dir.path)
    let bytes = pseudoRandomBytes(50_000, seed: 14)
    let digest = SHA256Hasher.digest(bytes)
    let holder = try store.resumableWriter(expecting: digest, size: Int64(bytes.count))
    try bytes[0..<10_000].withUnsafeBytes { try holder.write($0) }
    let other = try store.resumableWriter(expecting: digest, size: Int64(bytes.count))
    #expect(other.resumedFrom == 0)
    try bytes.withUnsafeBytes { try other.write($0) }
    try other.commit()
    holder.cancel()
    #expect(store.size(of: digest) == Int64(bytes.count))
  }

  @Test func keptFileLongerThanTheBlobStartsOver() throws {
    let dir = try TempDir()
    defer { dir.remove() }
    let store = try BlobStore.create(at: dir.path)
    let bytes = pseudoRandomBytes(10_000, seed: 15)
    let digest = SHA256Hasher.digest(bytes)
    try Data(pseudoRandomBytes(20_000, seed: 16)).write(
      to: URL(fileURLWithPath: store.ingestDirectory + "/\(digest.encoded).resume"))
    let writer = try store.resumableWriter(expecting: digest, size: Int64(bytes.count))
    #expect(writer.resumedFrom == 0)
    try bytes.withUnsafeBytes { try writer.write($0) }
    try writer.commit()
    #expect(store.contains(digest))
  }
}
