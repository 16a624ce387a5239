import Foundation
import OCI
import Testing

@testable import Blobstore

/// `removePartialFiles(writtenBy:)`: the pid in a private ingest's temp file name says whose
/// it is; only names of exactly that form, with a matching pid, are removed.
@Suite("Blobstore partial files")
struct PartialFilesTests {
  @Test func onlyPartialFilesOfMatchingPidsAreRemoved() throws {
    let dir = try TempDir()
    defer { dir.remove() }
    let store = try BlobStore.create(at: dir.path + "/l")
    let hex = String(repeating: "ab", count: 32)
    // A live writer's partial file, named by the store itself.
    let bytes = Array("live".utf8)
    let live = try store.writer(expecting: SHA256Hasher.digest(bytes), size: Int64(bytes.count))
    defer { live.cancel() }
    let names = [
      "\(hex).4242.1f.partial",  // pid 4242: removed
      "\(hex).4243.1f.partial",  // another pid: kept
      "\(hex).resume",  // a resumable download: kept
      "\(hex).4242.1f.members",  // another kind: kept
      "\(hex).4242.partial",  // not the writer's form: kept
      "abc.4242.1f.partial",  // not a digest: kept
      "\(hex).+4242.1f.partial",  // not a plain pid: kept
      "index.lock",
    ]
    for name in names {
      #expect(
        FileManager.default.createFile(atPath: store.ingestDirectory + "/" + name, contents: nil))
    }
    let removed = store.removePartialFiles { $0 == 4242 }
    #expect(removed == [store.ingestDirectory + "/\(hex).4242.1f.partial"])
    let left = Set(try FileManager.default.contentsOfDirectory(atPath: store.ingestDirectory))
    #expect(left == Set(names.dropFirst()).union(leftoverIngestFiles(store)))
    #expect(left.count == names.count, "the live writer's own file is still there: \(left)")
    // Its own pid: the live writer's file goes too (an interrupt handler's call).
    let own = store.removePartialFiles { $0 == getpid() }
    #expect(own.count == 1 && own[0].contains(".\(getpid()).") && own[0].hasSuffix(".partial"))
  }
}
