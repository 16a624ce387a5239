import Foundation
import OCI
import Testing

@testable import Blobstore

@Suite("Blobstore ingest")
struct IngestTests {
  @Test func createWritesLayoutFilesAndOpenAcceptsThem() throws {
    let dir = try TempDir()
    defer { dir.remove() }
    _ = try BlobStore.create(at: dir.path + "/l")
    let layout = try String(contentsOfFile: dir.path + "/l/oci-layout", encoding: .utf8)
    #expect(layout == #"{"imageLayoutVersion":"1.0.0"}"#)
    #expect(FileManager.default.fileExists(atPath: dir.path + "/l/index.json"))
    _ = try BlobStore.open(at: dir.path + "/l")
    #expect(throws: BlobstoreError.self) { try BlobStore.open(at: dir.path) }
  }

  @Test func streamedIngestCommitsAndReadsBack() throws {
    let dir = try TempDir()
    defer { dir.remove() }
    let store = try BlobStore.create(at: dir.path)
    // More than one 1 MiB buffer, written in odd-sized chunks.
    let bytes = pseudoRandomBytes(2_500_000, seed: 7)
    let digest = SHA256Hasher.digest(bytes)
    #expect(!store.contains(digest))
    let writer = try store.writer(expecting: digest, size: Int64(bytes.count))
    var offset = 0
    while offset < bytes.count {
      let end = min(offset + 333_333, bytes.count)
      try bytes[offset..<end].withUnsafeBytes { try writer.write($0) }
      offset = end
    }
    #expect(writer.written == Int64(bytes.count))
    #expect(!store.contains(digest), "nothing is visible before commit")
    try writer.commit()
    #expect(store.size(of: digest) == Int64(bytes.count))
    #expect(leftoverIngestFiles(store).isEmpty)

    let reader = try store.open(digest)
    var back: [UInt8] = []
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 100_000, alignment: 1)
    defer { buffer.deallocate() }
    while true {
      let n = try reader.read(into: buffer)
      if n == 0 { break }
      back.append(contentsOf: buffer[0..<n])
    }
    #expect(back == bytes)
  }

  @Test func mismatchThrowsNamingBothDigestsAndLeavesNothing() throws {
    let dir = try TempDir()
    defer { dir.remove() }
    let store = try BlobStore.create(at: dir.path)
    let good = pseudoRandomBytes(5000, seed: 1)
    var bad = good
    bad[100] ^= 0x01
    let expected = SHA256Hasher.digest(good)
    let writer = try store.writer(expecting: expected, size: 5000)
    try bad.withUnsafeBytes { try writer.write($0) }
    do {
      try writer.commit()
      Issue.record("commit of mismatching bytes succeeded")
    } catch {
      guard case .digestMismatch(let exp, let actual, let expSize, let actualSize) = error else {
        Issue.record("unexpected error \(error)")
        return
      }
      #expect(exp == expected)
      #expect(actual == SHA256Hasher.digest(bad))
      #expect(expSize == 5000 && actualSize == 5000)
      #expect(error.description.contains(expected.description))
      #expect(error.description.contains(actual.description))
    }
    #expect(!store.contains(expected))
    #expect(leftoverIngestFiles(store).isEmpty)
    #expect(throws: BlobstoreError.self) { try writer.commit() }
  }

  @Test func shortStreamIsASizeMismatch() throws {
    let dir = try TempDir()
    defer { dir.remove() }
    let store = try BlobStore.create(at: dir.path)
    let bytes = pseudoRandomBytes(4000, seed: 2)
    let writer = try store.writer(expecting: SHA256Hasher.digest(bytes), size: 4000)
    try bytes[0..<3000].withUnsafeBytes { try writer.write($0) }
    #expect(throws: BlobstoreError.self) { try writer.commit() }
    #expect(!store.contains(SHA256Hasher.digest(bytes)))
    #expect(leftoverIngestFiles(store).isEmpty)
  }

  @Test func tooManyBytesAbortTheIngestEarly() throws {
    let dir = try TempDir()
    defer { dir.remove() }
    let store = try BlobStore.create(at: dir.path)
    let bytes = pseudoRandomBytes(4000, seed: 3)
    let writer = try store.writer(expecting: SHA256Hasher.digest(bytes), size: 3999)
    #expect(throws: BlobstoreError.self) { try bytes.withUnsafeBytes { try writer.write($0) } }
    #expect(leftoverIngestFiles(store).isEmpty)
  }

  @Test func resetRestartsTheBody() throws {
    let dir = try TempDir()
    defer { dir.remove() }
    let store = try BlobStore.create(at: dir.path)
    let bytes = pseudoRandomBytes(1_200_000, seed: 4)
    let digest = SHA256Hasher.digest(bytes)
    let writer = try store.writer(expecting: digest, size: Int64(bytes.count))
    // A partial first attempt, then the server ignores Range and sends everything again.
    try bytes[0..<1_100_000].withUnsafeBytes { try writer.write($0) }
    try writer.reset()
    #expect(writer.written == 0)
    try bytes.withUnsafeBytes { try writer.write($0) }
    try writer.commit()
    #expect(store.size(of: digest) == Int64(bytes.count))
    #expect(SHA256Hasher.digest(try store.readJSONUnchecked(digest)) == digest)
  }

  @Test func cancelRemovesTheTempFile() throws {
    let dir = try TempDir()
    defer { dir.remove() }
    let store = try BlobStore.create(at: dir.path)
    let bytes = pseudoRandomBytes(100, seed: 5)
    let writer = try store.writer(expecting: SHA256Hasher.digest(bytes), size: 100)
    try bytes.withUnsafeBytes { try writer.write($0) }
    #expect(leftoverIngestFiles(store).count == 1)
    writer.cancel()
    writer.cancel()
    #expect(leftoverIngestFiles(store).isEmpty)
    #expect(!store.contains(SHA256Hasher.digest(bytes)))
  }

  @Test func ingestBytesIsIdempotent() throws {
    let dir = try TempDir()
    defer { dir.remove() }
    let store = try BlobStore.create(at: dir.path)
    let json = Array(#"{"a":1}"#.utf8)
    let first = try store.ingest(bytes: json)
    let second = try store.ingest(bytes: json)
    #expect(first == second)
    #expect(first.digest == SHA256Hasher.digest(json))
    #expect(first.size == Int64(json.count))
    #expect(try store.readJSON(first.digest) == json)
  }

  @Test func ingestFileCopiesOrHardLinksAndChecksTheDigest() throws {
    let dir = try TempDir()
    defer { dir.remove() }
    let store = try BlobStore.create(at: dir.path + "/layout")
    let bytes = pseudoRandomBytes(1_500_000, seed: 6)
    let source = dir.path + "/kubeadm"
    try Data(bytes).write(to: URL(fileURLWithPath: source))
    let digest = SHA256Hasher.digest(bytes)

    let wrong = SHA256Hasher.digest(Array("x".utf8))
    #expect(throws: BlobstoreError.self) { try store.ingest(file: source, expecting: wrong) }
    #expect(!store.contains(wrong))

    let copied = try store.ingest(file: source, expecting: digest, size: Int64(bytes.count))
    #expect(copied == StoredBlob(digest: digest, size: Int64(bytes.count)))
    let copyInode = try inode(store.path(for: digest))
    #expect(copyInode != (try inode(source)))

    let other = pseudoRandomBytes(2000, seed: 8)
    let otherSource = dir.path + "/etcd"
    try Data(other).write(to: URL(fileURLWithPath: otherSource))
    let linked = try store.ingest(file: otherSource, expecting: nil, mode: .hardLink)
    #expect(linked.digest == SHA256Hasher.digest(other))
    #expect(try inode(store.path(for: linked.digest)) == (try inode(otherSource)))
    #expect(leftoverIngestFiles(store).isEmpty)
  }

  @Test func concurrentIngestOfOneDigestStoresItOnce() async throws {
    let dir = try TempDir()
    defer { dir.remove() }
    let store = try BlobStore.create(at: dir.path)
    let bytes = pseudoRandomBytes(3_000_000, seed: 9)
    let digest = SHA256Hasher.digest(bytes)
    try await withThrowingTaskGroup(of: Void.self) { group in
      for _ in 0..<8 {
        group.addTask {
          let writer = try store.writer(expecting: digest, size: Int64(bytes.count))
          var offset = 0
          while offset < bytes.count {
            let end = min(offset + 256 * 1024, bytes.count)
            try bytes[offset..<end].withUnsafeBytes { try writer.write($0) }
            offset = end
            await Task.yield()
          }
          try writer.commit()
        }
      }
      try await group.waitForAll()
    }
    #expect(store.size(of: digest) == Int64(bytes.count))
    #expect(leftoverIngestFiles(store).isEmpty)
    let report = try store.snapshot()
    #expect(report.blobs[digest]?.actualDigest == digest)
  }

  private func inode(_ path: String) throws -> UInt64 {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return (attributes[.systemFileNumber] as? NSNumber)?.uint64Value ?? 0
  }
}

extension BlobStore {
  /// Reads a blob of any size whole (tests only).
  func readJSONUnchecked(_ digest: Digest) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(for: digest))))
  }
}
