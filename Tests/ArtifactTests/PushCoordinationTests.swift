import Foundation
import OCI
import Testing

@testable import Artifact

@Suite struct PushCoordinationTests {
  final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var runs = 0
    private var finished = false
    func start() { lock.withLock { runs += 1 } }
    func finish() { lock.withLock { finished = true } }
    var snapshot: (runs: Int, finished: Bool) { lock.withLock { (runs, finished) } }
  }

  /// Every image needing one manifest in one repository waits for the single PUT to end:
  /// none may go on to PUT its index while the shared child is still in flight.
  @Test func concurrentCallersShareOnePutAndAllSeeItFinished() async throws {
    let once = ManifestPutOnce()
    let counter = Counter()
    let seen = try await withThrowingTaskGroup(of: Bool.self) { group in
      for _ in 0..<12 {
        group.addTask {
          _ = try await once.run(repository: "app", reference: "sha256:aa") {
            counter.start()
            try await Task.sleep(for: .milliseconds(100))
            counter.finish()
            return true
          }
          return counter.snapshot.finished
        }
      }
      var all: [Bool] = []
      for try await finished in group { all.append(finished) }
      return all
    }
    #expect(seen.count == 12 && seen.allSatisfy { $0 })
    #expect(counter.snapshot.runs == 1)
    // Another repository or reference is another PUT.
    _ = try await once.run(repository: "other", reference: "sha256:aa") {
      counter.start()
      return true
    }
    #expect(counter.snapshot.runs == 2)
  }

  @Test func aFailedPutFailsEveryCallerWithItsError() async throws {
    struct Refused: Error {}
    let once = ManifestPutOnce()
    for _ in 0..<3 {
      await #expect(throws: Refused.self) {
        _ = try await once.run(repository: "app", reference: "v1") { throw Refused() }
      }
    }
  }

  @Test func onlyAccountRefusalsMoveABlobToTheNextRepository() {
    #expect(
      RepositoryRefusals.isRefusal(
        RegistryError.denied(host: "r", repository: "app", detail: nil)))
    #expect(
      RepositoryRefusals.isRefusal(
        RegistryError.unauthorized(host: "r", repository: "app", detail: nil)))
    #expect(
      !RepositoryRefusals.isRefusal(
        RegistryError.connection(host: "r", detail: "reset", attempts: 3)))
    let refusals = RepositoryRefusals()
    #expect(refusals.record("app", "first"))
    #expect(!refusals.record("app", "second"))
    #expect(refusals.reason(for: "app") == "first")
  }
}
