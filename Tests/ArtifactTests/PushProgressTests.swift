import Blobstore
import Foundation
import OCI
import TestSupport
import Testing

@testable import Artifact

/// The progress a push reports (the command draws it on stderr): totals from what the
/// registry lacks, bytes counted as they are read, every blob counted done.
@Suite("Push: progress", .serialized)
struct PushProgressTests {
  @Test("first push counts every uploaded byte; a re-push has nothing to send")
  func progressMatchesWhatWasSent() async throws {
    let fixture = try await ImportFixture(filePaths: [])
    // gzip: mapped and read by offset; zstd: read as a stream.
    let archives = [
      "archive": try fixture.pack("a.tar.gz"), "stream": try fixture.pack("a.tar.zst"),
    ]
    for source in ["directory", "archive", "stream"] {
      try await withTestRegistry(.plain) { registry in
        let plan = try PushTests.plan(fixture.store, target: PushTests.target(registry))
        for round in ["first", "again"] {
          let progress = PushProgress()
          let report: PushReport
          if source == "directory" {
            report = await ImagePusher(
              client: PushTests.client(for: registry), plan: plan, progress: progress
            ).push(from: fixture.store)
          } else {
            let result = try await ImagePusher.pushArchive(
              path: archives[source]!, target: PushTests.target(registry), patterns: [],
              log: { _ in },
              makePusher: { plan in
                ImagePusher(
                  client: PushTests.client(for: registry), plan: plan, progress: progress)
              })
            report = try #require(result.report)
          }
          #expect(report.failed.isEmpty, "\(source) \(round): \(report.failed)")
          let seen = progress.snapshot
          #expect(seen.started)
          #expect(seen.blobsTotal == plan.blobUses.count)
          #expect(seen.blobsDone == seen.blobsTotal, "\(source) \(round)")
          // Each missing blob is uploaded once and read once (no retries here).
          #expect(seen.bytesToSend == report.bytesSent, "\(source) \(round)")
          #expect(seen.bytesRead == report.bytesSent, "\(source) \(round)")
          if round == "first" {
            #expect(seen.bytesToSend == plan.blobUses.reduce(0) { $0 + $1.blob.size })
          } else {
            #expect(seen.bytesToSend == 0 && seen.bytesRead == 0, "\(source): \(seen)")
          }
        }
      }
    }
  }
}
