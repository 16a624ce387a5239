import Blobstore
import Foundation
import OCI
import TestSupport
import Testing

@testable import Artifact

/// Upload sessions opened ahead of their blobs (UploadSessions): exactly one per upload, none
/// left behind in the registry.
@Suite("Push: upload sessions opened ahead", .serialized)
struct PushSessionsTests {
  @Test("archive and directory: one session per upload, none left behind")
  func sessionsAreUsedOrDeleted() async throws {
    let fixture = try await ImportFixture(filePaths: [])
    // gzip: mapped, pushed like a directory; zstd: read as a stream.
    let archive = try fixture.pack("a.tar.gz")
    let stream = try fixture.pack("a.tar.zst")
    for source in ["archive", "stream", "directory"] {
      try await withTestRegistry(.plain) { registry in
        let report: PushReport
        if source != "directory" {
          report = try await PushTests.pushArchive(
            source == "archive" ? archive : stream, to: registry)
        } else {
          let plan = try PushTests.plan(fixture.store, target: PushTests.target(registry))
          report = await ImagePusher(client: PushTests.client(for: registry), plan: plan).push(
            from: fixture.store)
        }
        #expect(report.failed.isEmpty, "\(source): \(report.failed)")
        #expect(report.blobsUploaded > 0)
        try await registry.settledLog()
        let requests = try registry.loggedRequests(after: 0)
        let sessions = requests.filter {
          $0.method == "POST" && $0.uri.contains("/blobs/uploads/") && !$0.uri.contains("mount=")
        }
        let deleted = requests.filter { $0.method == "DELETE" && $0.uri.contains("/uploads/") }
        // Every session opened (ahead or not) carried one upload; none was opened for nothing.
        #expect(sessions.count == report.blobsUploaded, "\(source)")
        #expect(deleted.isEmpty, "\(source): \(deleted)")
        #expect(registry.leftoverUploadSessions().isEmpty, "\(source)")
        try await PushTests.expectDigestsPreserved(fixture.images, in: registry)
      }
    }
  }

  @Test("blobs are uploaded largest first, whatever the plan order")
  func largestBlobsGoFirst() async throws {
    let fixture = try await ImportFixture(filePaths: [])
    try await withTestRegistry(.plain) { registry in
      let plan = try PushTests.plan(fixture.store, target: PushTests.target(registry))
      let sizes = Dictionary(
        plan.blobUses.map { ($0.blob.digest.description, $0.blob.size) },
        uniquingKeysWith: { first, _ in first })
      // The fixture's plan order is not already by size, or this test could not fail.
      let planSizes = plan.blobUses.map(\.blob.size)
      #expect(planSizes != planSizes.sorted(by: >))
      // One lane: uploads reach the registry in the order the pusher starts them.
      let report = await ImagePusher(
        client: PushTests.client(for: registry), plan: plan, parallel: 1
      ).push(from: fixture.store)
      #expect(report.failed.isEmpty, "\(report.failed)")
      try await registry.settledLog()
      let uploaded = try registry.loggedRequests(after: 0).compactMap {
        request -> Int64? in
        guard request.method == "PUT", let digest = request.uri.split(separator: "=").last
        else { return nil }
        return sizes[String(digest).removingPercentEncoding ?? String(digest)]
      }
      #expect(uploaded.count == report.blobsUploaded)
      #expect(uploaded == uploaded.sorted(by: >), "\(uploaded)")
    }
  }

  @Test("an archive that ends part-way: the push fails; every session opened is used or deleted")
  func truncatedStreamLeavesNoSession() async throws {
    let fixture = try await ImportFixture(filePaths: [])
    let whole = try fixture.pack("whole.tar.zst")
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: whole)))
    bytes.removeLast(bytes.count * 2 / 5)
    let cut = fixture.scratch.path + "/cut.tar.zst"
    try Data(bytes).write(to: URL(fileURLWithPath: cut))
    try await withTestRegistry(.plain) { registry in
      // With continue-on-error the reader goes on past the cut and throws there.
      await #expect(throws: ArchiveError.self) {
        _ = try await PushTests.pushArchive(cut, to: registry, continueOnError: true)
      }
      try await registry.settledLog()
      let requests = try registry.loggedRequests(after: 0)
      func sessions(_ method: String) -> Set<String> {
        Set(
          requests.filter { $0.method == method && $0.uri.contains("/blobs/uploads/") }.compactMap {
            $0.uri.split(separator: "/").last?.split(separator: "?").first.map(String.init)
          })
      }
      let opened = requests.filter {
        $0.method == "POST" && $0.uri.contains("/blobs/uploads/") && !$0.uri.contains("mount=")
      }
      // docker-registry 2.8 logs each session's PUT and DELETE by its id; a POST names none.
      // (Its DELETE leaves the session directory behind, "hashstates: directory not empty":
      // the registry's own upload purging removes those.)
      #expect(!sessions("DELETE").isEmpty)
      #expect(sessions("PUT").union(sessions("DELETE")).count == opened.count)
    }
  }
}
