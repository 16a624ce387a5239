import Blobstore
import Foundation
import OCI
import Testing

@testable import Artifact

/// Export marks the cache it creates; `kk cache` recognises it by that marker and opens
/// nothing else (QA F9).
@Suite struct CacheMarkerTests {
  @Test func exportOpenCreatesAndMarksTheCacheThatPruneThenAccepts() throws {
    let scratch = try ScratchDir()
    let directory = scratch.path + "/cache"
    #expect(try ExportCache.recognize(directory, remedy: "r") == .missing)
    #expect(try ExportCache.openExisting(at: directory, remedy: "r") == nil)
    #expect(!FileManager.default.fileExists(atPath: directory), "openExisting never creates")

    let cache = try ExportCache.open(at: directory)
    #expect(FileManager.default.fileExists(atPath: directory + "/" + ExportCache.markerName))
    #expect(try ExportCache.recognize(directory, remedy: "r") == .cache)
    let blob = try cache.store.ingest(bytes: Array("cached".utf8))
    let reopened = try #require(try ExportCache.openExisting(at: directory, remedy: "r"))
    #expect(try reopened.prune(olderThanDays: nil).removedBlobs == 1)
    #expect(!cache.store.contains(blob.digest))
  }

  @Test func aPlainOCILayoutIsNotACache() throws {
    let scratch = try ScratchDir()
    let directory = scratch.path + "/layout"
    let store = try BlobStore.create(at: directory)
    let blob = try store.ingest(bytes: Array("user data".utf8))
    // BlobStore.create leaves an empty .ingest/: not enough to pass for a cache.
    guard case .notACache = try ExportCache.recognize(directory, remedy: "r") else {
      Issue.record("a plain layout was taken for a cache")
      return
    }
    #expect {
      try ExportCache.openExisting(at: directory, remedy: "pass --cache-dir")
    } throws: { error in
      "\(error)".contains("\(directory) is not a kk cache; refusing to delete its blobs")
    }
    #expect(store.contains(blob.digest))
    #expect(!FileManager.default.fileExists(atPath: directory + "/" + ExportCache.markerName))
  }
}
