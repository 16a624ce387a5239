import Blobstore
import Foundation
import OCI
import TestSupport
import Testing

@testable import Artifact

/// Pushes through testdata/fixtures/faultproxy.py, which cuts every Nth connection in the
/// middle of whatever is in flight: the push must complete (within a time bound, since
/// session 1's version of this test hung) with every digest equal to the artifact's.
@Suite("Push through a connection-cutting proxy", .serialized)
struct PushFaultTests {
  /// A client of `proxy` with short retry delays. Monolithic uploads use one connection per
  /// request, so that every 3rd request meets a cut. Chunked uploads keep connections open:
  /// docker-registry cancels a session whose PATCH was cut (a GET of it answers 404
  /// BLOB_UPLOAD_INVALID), so a blob needing more than two fresh connections could never get
  /// through a proxy that cuts every third.
  static func client(via proxy: ScriptServer, parallel: Int = 3, chunked: Bool = false)
    -> RegistryClient
  {
    var options = RegistryOptions(
      scheme: .http, retry: RetryPolicy(attempts: 10, baseDelay: 0.02, maxDelay: 0.2))
    if chunked {
      options.chunkedUploadThreshold = 0
      options.chunkSize = 100_000
    }
    return RegistryClient(
      host: proxy.host, options: options,
      pool: TransferPool(
        threads: parallel, options: TransportOptions(reuseConnections: chunked)))
  }

  /// Maps images to the proxy's host (what the user would name as the registry).
  static func target(_ host: String) -> (Reference) throws -> Reference? {
    let config = ClusterRegistryConfig(privateRegistry: .init(host: host))
    return { try config.pushTarget(for: $0) }
  }

  /// Every 3rd connection that moves more than 30000 bytes (an upload, not a HEAD) is cut.
  @Test(
    "every 3rd connection cut mid-body: push -a and --images-dir complete, digests equal",
    .timeLimit(.minutes(3)))
  func cutConnections() async throws {
    let fixture = try await ImportFixture(filePaths: [])
    let archive = try fixture.pack("a.tar.gz")
    // "chunks": PATCH uploads, so that cuts land between and inside chunks.
    for source in ["archive", "directory", "chunks"] {
      try await withTestRegistry(.plain) { registry in
        try await withScriptServer(
          "faultproxy.py",
          [
            "--upstream", registry.host, "--every", "3", "--after-bytes", "30000",
            "--large-only",
          ],
          logDirectory: fixture.scratch.path
        ) { proxy in
          let client = Self.client(via: proxy, chunked: source == "chunks")
          let store = fixture.store
          let host = proxy.host
          let report = try await withDeadline(seconds: 90, "push from the \(source)") {
            if source == "archive" {
              let result = try await ImagePusher.pushArchive(
                path: archive, target: Self.target(host), patterns: [], log: { _ in },
                makePusher: { ImagePusher(client: client, plan: $0, parallel: 3) })
              return try #require(result.report)
            }
            let plan = try PushTests.plan(store, target: Self.target(host))
            return await ImagePusher(client: client, plan: plan, parallel: 3).push(from: store)
          }
          #expect(report.failed.isEmpty, "\(source): \(report.failed)")
          #expect(report.pushed.count == fixture.images.images.count, "\(source)")
          // Digests read back directly from the registry, not through the proxy.
          try await PushTests.expectDigestsPreserved(fixture.images, in: registry)
          try await Self.expectBlobsIntact(fixture, in: registry)
          let cuts = proxy.lines(startingWith: "CUT ").count
          #expect(cuts >= (source == "chunks" ? 1 : 3), "\(source): \(proxy.log)")
        }
      }
    }
  }

  /// Every layer of every image reads back with its digest.
  static func expectBlobsIntact(_ fixture: ImportFixture, in registry: TestRegistry) async throws {
    let direct = PushTests.client(for: registry, parallel: 1)
    for image in fixture.images.images {
      for manifest in image.manifests {
        for layer in manifest.layers {
          let size = try #require(fixture.store.size(of: layer))
          let sink = BufferSink()
          try await direct.fetchBlob(
            repository: image.repository,
            descriptor: Descriptor(mediaType: MediaType.octetStream, digest: layer, size: size),
            into: sink)
          #expect(SHA256Hasher.digest(sink.bytes) == layer, "\(image.ref) layer \(layer)")
        }
      }
    }
  }
}

struct DeadlineExceeded: Error, CustomStringConvertible {
  let what: String
  let seconds: Double
  var description: String { "\(what) did not finish within \(seconds) s (hung)" }
}

/// Resumes a continuation once, from whichever side comes first.
private final class OnceBox<T: Sendable>: @unchecked Sendable {
  private let lock = NSLock()
  private var continuation: CheckedContinuation<T, any Error>?
  func set(_ c: CheckedContinuation<T, any Error>) { lock.withLock { continuation = c } }
  func take() -> CheckedContinuation<T, any Error>? {
    lock.withLock {
      defer { continuation = nil }
      return continuation
    }
  }
}

/// Runs `body` and fails after `seconds` if it has not finished, without waiting for it:
/// a hung transfer must fail the test, not hang the test run.
func withDeadline<T: Sendable>(
  seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
  let box = OnceBox<T>()
  return try await withCheckedThrowingContinuation { continuation in
    box.set(continuation)
    let work = Task {
      do {
        let value = try await body()
        box.take()?.resume(returning: value)
      } catch {
        box.take()?.resume(throwing: error)
      }
    }
    Task {
      try? await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000))
      if let waiting = box.take() {
        work.cancel()
        waiting.resume(throwing: DeadlineExceeded(what: what, seconds: seconds))
      }
    }
  }
}
