import Foundation
import OCI
import Testing

@testable import Blobstore

/// Counts directory fsyncs of a batch (and still performs them).
private final class SyncLog: @unchecked Sendable {
  private let lock = NSLock()
  private var paths: [String] = []
  var failNext = false

  var synced: [String] {
    lock.lock()
    defer { lock.unlock() }
    return paths
  }

  func record(_ path: String) throws(BlobstoreError) {
    lock.lock()
    let fail = failNext
    failNext = false
    lock.unlock()
    if fail { throw .io(path: path, operation: "fsync directory", errno: EIO) }
    try FileIO.fsyncDirectory(path)
    lock.lock()
    paths.append(path)
    lock.unlock()
  }
}

private final class Notes: @unchecked Sendable {
  private let lock = NSLock()
  private var values: [Bool] = []
  var all: [Bool] {
    lock.lock()
    defer { lock.unlock() }
    return values
  }
  func add(_ value: Bool) {
    lock.lock()
    values.append(value)
    lock.unlock()
  }
}

private func readAll(_ store: BlobStore, _ digest: Digest) throws -> [UInt8] {
  let reader = try store.open(digest)
  defer { reader.close() }
  var back: [UInt8] = []
  let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
  defer { buffer.deallocate() }
  while true {
    let n = try reader.read(into: buffer)
    if n == 0 { return back }
    back.append(contentsOf: buffer[0..<n])
  }
}

@Suite("Blobstore batch commits")
struct BatchCommitTests {
  @Test func batchCommitsEveryIngestPathAndSyncsTheDirectoryOnce() throws {
    let dir = try TempDir()
    defer { dir.remove() }
    let store = try BlobStore.create(at: dir.path + "/l")
    let log = SyncLog()
    let blobDirectory = store.root + "/blobs/sha256"
    let batch = BlobBatch(directories: [blobDirectory]) { path throws(BlobstoreError) in
      try log.record(path)
    }

    // Streamed writer, in-memory bytes, local file: all three commit paths take the batch.
    let streamed = pseudoRandomBytes(3_000_000, seed: 11)
    let writer = try store.writer(
      expecting: SHA256Hasher.digest(streamed), size: Int64(streamed.count))
    try streamed.withUnsafeBytes { try writer.write($0) }
    try writer.commit(batch: batch)
    let small = try store.ingest(bytes: Array("{\"hello\":1}".utf8), batch: batch)
    let file = pseudoRandomBytes(70_000, seed: 12)
    let source = dir.path + "/source"
    try Data(file).write(to: URL(fileURLWithPath: source))
    let fromFile = try store.ingest(
      file: source, expecting: SHA256Hasher.digest(file), size: Int64(file.count), batch: batch)

    #expect(log.synced.isEmpty, "commits in a batch leave the directory fsync to the batch")
    try batch.syncDirectories()
    #expect(log.synced == [blobDirectory])
    try batch.syncDirectories()
    #expect(log.synced == [blobDirectory], "nothing new: no second fsync")

    #expect(try readAll(store, SHA256Hasher.digest(streamed)) == streamed)
    #expect(try readAll(store, fromFile.digest) == file)
    #expect(store.size(of: small.digest) == small.size)
    #expect(leftoverIngestFiles(store).isEmpty)
    let report = try store.verify()
    #expect(report.isValid, "\(report.problems)")

    // A later commit dirties the batch again: exactly one more fsync.
    _ = try store.ingest(bytes: Array("{\"hello\":2}".utf8), batch: batch)
    try batch.syncDirectories()
    #expect(log.synced == [blobDirectory, blobDirectory])
  }

  @Test func firstSyncCoversBlobsThisBatchFoundPresent() throws {
    // A blob another process committed (batched, not yet synced) is skipped here; our index
    // will name it, so our batch must still fsync the directory before the index is written.
    let dir = try TempDir()
    defer { dir.remove() }
    let store = try BlobStore.create(at: dir.path)
    let bytes = Array("{\"present\":true}".utf8)
    try store.ingest(bytes: bytes)
    let log = SyncLog()
    let batch = BlobBatch(directories: [store.root + "/blobs/sha256"]) {
      path throws(BlobstoreError) in try log.record(path)
    }
    try store.ingest(bytes: bytes, batch: batch)  // already present: no rename
    try batch.syncDirectories()
    #expect(log.synced == [store.root + "/blobs/sha256"])
  }

  @Test func failedDirectorySyncIsRetriedByTheNextCall() throws {
    let dir = try TempDir()
    defer { dir.remove() }
    let store = try BlobStore.create(at: dir.path)
    let log = SyncLog()
    let batch = BlobBatch(directories: [store.root + "/blobs/sha256"]) {
      path throws(BlobstoreError) in try log.record(path)
    }
    try store.ingest(bytes: Array("x".utf8), batch: batch)
    log.failNext = true
    #expect(throws: BlobstoreError.self) { try batch.syncDirectories() }
    #expect(log.synced.isEmpty)
    try batch.syncDirectories()
    #expect(log.synced == [store.root + "/blobs/sha256"])
  }

  @Test func putImageSyncsTheBatchBeforeTheIndexNamesTheImage() throws {
    let dir = try TempDir()
    defer { dir.remove() }
    let store = try BlobStore.create(at: dir.path)
    let log = SyncLog()
    let indexPath = store.root + "/index.json"
    let namedAtSync = Notes()  // whether index.json named the image when the sync ran
    let batch = BlobBatch(directories: [store.root + "/blobs/sha256"]) {
      path throws(BlobstoreError) in
      try log.record(path)
      let text = (try? String(contentsOfFile: indexPath, encoding: .utf8)) ?? ""
      namedAtSync.add(text.contains("kk-test/app"))
    }
    let manifest = try store.ingest(bytes: Array("{\"schemaVersion\":2}".utf8), batch: batch)
    let descriptor = Descriptor(
      mediaType: MediaType.ociManifest, digest: manifest.digest, size: manifest.size)
    try store.putImage(descriptor, reference: "kk-test/app:v1", syncing: batch)
    #expect(log.synced == [store.root + "/blobs/sha256"])
    #expect(namedAtSync.all == [false], "the sync ran before index.json named the image")
    #expect(try store.images().map(\.reference) == ["kk-test/app:v1"])

    // A failed sync leaves index.json as it was and no temp file beside it.
    let failing = BlobBatch(directories: [store.root + "/blobs/sha256"]) {
      path throws(BlobstoreError) in
      throw .io(path: path, operation: "fsync directory", errno: EIO)
    }
    #expect(throws: BlobstoreError.self) {
      try store.putImage(descriptor, reference: "kk-test/other:v1", syncing: failing)
    }
    #expect(try store.images().map(\.reference) == ["kk-test/app:v1"])
    let strays = try FileManager.default.contentsOfDirectory(atPath: store.root)
      .filter { $0.hasSuffix(".tmp") }
    #expect(strays.isEmpty)
  }

  @Test func dropBehindWriterStoresExactBytesAcrossWindowsAndReset() throws {
    // More than lag + 1 writeback windows, so pages are waited for and dropped mid-stream;
    // then a reset half-way (a server that ignored Range) must not leave stale bytes.
    let dir = try TempDir()
    defer { dir.remove() }
    var store = try BlobStore.create(at: dir.path)
    store.pageCache = .dropWhenWritten
    let count = Int(Writeback.window * (Writeback.lag + 3)) + 12_345
    let bytes = pseudoRandomBytes(count, seed: 21)
    let digest = SHA256Hasher.digest(bytes)
    let writer = try store.writer(expecting: digest, size: Int64(count))
    try bytes[0..<(count / 2)].withUnsafeBytes { try writer.write($0) }
    try writer.reset()
    var offset = 0
    while offset < count {
      let end = min(offset + 700_001, count)
      try bytes[offset..<end].withUnsafeBytes { try writer.write($0) }
      offset = end
    }
    let batch = store.makeBatch()
    try writer.commit(batch: batch)
    try batch.syncDirectories()
    #expect(try readAll(store, digest) == bytes)
    #expect(leftoverIngestFiles(store).isEmpty)
  }

  @Test func dropBehindWriterStillRefusesWrongBytes() throws {
    let dir = try TempDir()
    defer { dir.remove() }
    var store = try BlobStore.create(at: dir.path)
    store.pageCache = .dropWhenWritten
    let good = pseudoRandomBytes(Int(Writeback.window) * 10, seed: 5)
    var bad = good
    bad[good.count - 1] ^= 0x80
    let digest = SHA256Hasher.digest(good)
    let writer = try store.writer(expecting: digest, size: Int64(good.count))
    try bad.withUnsafeBytes { try writer.write($0) }
    #expect(throws: BlobstoreError.self) { try writer.commit(batch: store.makeBatch()) }
    #expect(!store.contains(digest))
    #expect(leftoverIngestFiles(store).isEmpty)
  }
}
