import Foundation
import Testing

@testable import OCI
@testable import TestSupport

/// Edge cases a real docker-registry does not produce, from testdata/fixtures/quirkregistry.py:
/// cut bodies, ignored Range, 503/429 with Retry-After, redirects to storage, Harbor's https
/// realm over HTTP, refused mounts, relative and absolute upload Locations.
@Suite("Registry client edge cases (scripted registry)", .serialized)
struct RegistryQuirkTests {
  struct Logged: Decodable {
    var method: String
    var path: String
    var range: String?
    var auth: String?
    var contentRange: String?
  }
  struct Stats: Decodable { var log: [Logged] }

  static let fast = RetryPolicy(attempts: 4, baseDelay: 0.01, maxDelay: 0.05)

  func withQuirks(_ body: (FixtureServer, Descriptor, TransferPool) async throws -> Void)
    async throws
  {
    let scratch = try TemporaryDirectory(prefix: "kk-quirk")
    defer { scratch.remove() }
    let server = try await FixtureServer(
      script: "quirkregistry.py", arguments: [], scratch: scratch)
    do {
      let pool = TransferPool(threads: 2)
      let probe = RegistryClient(
        host: server.host, options: RegistryOptions(scheme: .http), pool: pool)
      let response = try await probe.transfer(
        HTTPRequest(method: "GET", url: "http://\(server.host)/_blob"), retries: false)
      let digest = try Digest(parsing: String(decoding: response.body, as: UTF8.self))
      try await body(
        server, Descriptor(mediaType: MediaType.octetStream, digest: digest, size: 300_000), pool)
    } catch {
      await server.stop()
      throw error
    }
    await server.stop()
  }

  func stats(_ server: FixtureServer, _ pool: TransferPool) async throws -> [Logged] {
    let response = try await pool.send(
      HTTPRequest(method: "GET", url: "http://\(server.host)/_stats"))
    return try JSONDecoder().decode(Stats.self, from: Data(response.body)).log
      .filter { !$0.path.hasPrefix("/_") }
  }

  func client(
    _ server: FixtureServer, _ pool: TransferPool, credentials: RegistryCredentials? = nil
  )
    -> RegistryClient
  {
    RegistryClient(
      host: server.host,
      options: RegistryOptions(credentials: credentials, scheme: .http, retry: Self.fast),
      pool: pool)
  }

  @Test("a body cut mid-way resumes with Range from the last byte; no restart")
  func resumeWithRange() async throws {
    try await withQuirks { server, blob, pool in
      let sink = BufferSink()
      try await client(server, pool).fetchBlob(
        repository: "range-ok/blob", descriptor: blob, into: sink)
      #expect(SHA256Hasher.digest(sink.bytes) == blob.digest)
      let gets = try await stats(server, pool).filter { $0.method == "GET" }
      #expect(gets.map(\.range) == [nil, "bytes=100000-"])
    }
  }

  @Test("a link that dies every 50 kB still delivers: progress does not use up the retries")
  func dripResume() async throws {
    try await withQuirks { server, blob, pool in
      let sink = BufferSink()
      // 4 attempts, but 6 connections are needed: each one that made progress is free.
      try await client(server, pool).fetchBlob(
        repository: "range-drip/blob", descriptor: blob, into: sink)
      #expect(SHA256Hasher.digest(sink.bytes) == blob.digest)
      let gets = try await stats(server, pool).filter { $0.method == "GET" }
      #expect(gets.count == 6)
      #expect(gets.last?.range == "bytes=250000-")
    }
  }

  @Test("cancelling the task aborts a stalled transfer at once")
  func cancellation() async throws {
    try await withQuirks { server, blob, pool in
      let c = client(server, pool)
      let task = Task {
        try await c.fetchBlob(repository: "stall/blob", descriptor: blob, into: BufferSink())
      }
      try await Task.sleep(nanoseconds: 500_000_000)
      let started = Date()
      task.cancel()
      let result = await task.result
      #expect(Date().timeIntervalSince(started) < 5)
      guard case .failure(let error) = result else {
        Issue.record("a stalled transfer completed")
        return
      }
      #expect("\(error)".contains("cancelled"))
    }
  }

  @Test("a server that ignores Range and sends 200 restarts the sink cleanly")
  func rangeIgnored() async throws {
    try await withQuirks { server, blob, pool in
      let scratch = try TemporaryDirectory(prefix: "kk-quirk-sink")
      defer { scratch.remove() }
      let sink = try FileSink(path: scratch.path + "/blob")
      try await client(server, pool).fetchBlob(
        repository: "range-ignore/blob", descriptor: blob, into: sink)
      #expect(sink.restarts == 1)
      let data = try Data(contentsOf: URL(fileURLWithPath: sink.path))
      #expect(data.count == 300_000)
      #expect(SHA256Hasher.digest(data) == blob.digest)
    }
  }

  @Test("503 is retried, 429 waits for Retry-After, 404 and 403 are not retried")
  func retries() async throws {
    try await withQuirks { server, blob, pool in
      let c = client(server, pool)
      try await c.fetchBlob(repository: "flaky/blob", descriptor: blob, into: BufferSink())
      let started = Date()
      try await c.fetchBlob(repository: "slow/blob", descriptor: blob, into: BufferSink())
      #expect(Date().timeIntervalSince(started) >= 0.95)
      do throws(RegistryError) {
        try await c.fetchBlob(repository: "missing/blob", descriptor: blob, into: BufferSink())
        Issue.record("missing blob fetched")
      } catch {
        guard case .blobUnknown(_, "missing/blob", blob.digest) = error else {
          Issue.record("expected blobUnknown, got \(error)")
          return
        }
      }
      do throws(RegistryError) {
        try await c.fetchBlob(repository: "forbidden/blob", descriptor: blob, into: BufferSink())
        Issue.record("forbidden blob fetched")
      } catch {
        guard case .denied = error else {
          Issue.record("expected denied, got \(error)")
          return
        }
      }
      let log = try await stats(server, pool)
      #expect(log.filter { $0.path.hasPrefix("/v2/flaky/") }.count == 3)
      #expect(log.filter { $0.path.hasPrefix("/v2/slow/") }.count == 2)
      #expect(log.filter { $0.path.hasPrefix("/v2/missing/") }.count == 1)
      #expect(log.filter { $0.path.hasPrefix("/v2/forbidden/") }.count == 1)
    }
  }

  @Test("a redirect to another origin drops the Authorization header")
  func crossOriginRedirect() async throws {
    try await withQuirks { server, blob, pool in
      let c = client(
        server, pool, credentials: RegistryCredentials(username: "harbor", password: "Harbor12345"))
      let sink = BufferSink()
      try await c.fetchBlob(repository: "redirect/blob", descriptor: blob, into: sink)
      #expect(SHA256Hasher.digest(sink.bytes) == blob.digest)
      let log = try await stats(server, pool)
      let storage = log.filter { $0.path.hasPrefix("/storage/") }
      #expect(storage.count == 1)
      #expect(storage.first?.auth == nil)
      #expect(
        log.contains { $0.path.hasPrefix("/v2/redirect/") && $0.auth?.hasPrefix("Basic ") == true })
    }
  }

  @Test("Harbor over HTTP advertising an https realm on its own host: token fetched over http")
  func harborRealm() async throws {
    try await withQuirks { server, blob, pool in
      let c = client(
        server, pool, credentials: RegistryCredentials(username: "harbor", password: "Harbor12345"))
      try await c.fetchBlob(repository: "harbor/blob", descriptor: blob, into: BufferSink())
      let log = try await stats(server, pool)
      #expect(log.contains { $0.path.hasPrefix("/service/token?") })
      #expect(log.last?.auth == "Bearer harbor-token")
    }
  }

  @Test(
    "a mount refused with 401 falls back to upload; Location query kept; chunks honour the minimum")
  func uploadPaths() async throws {
    try await withQuirks { server, blob, pool in
      let bytes = try await client(server, pool).blobBytes(
        repository: "flaky/blob", descriptor: blob)
      var options = RegistryOptions(
        credentials: RegistryCredentials(username: "harbor", password: "Harbor12345"),
        scheme: .http,
        retry: Self.fast)
      let c = RegistryClient(host: server.host, options: options, pool: pool)
      let result = try await c.pushBlob(
        repository: "upload/one", descriptor: blob, mountFrom: "other/repo"
      ) {
        BytesSource(bytes)
      }
      #expect(result == .uploaded)
      #expect(
        try await c.pushBlob(repository: "upload/one", descriptor: blob) { BytesSource(bytes) }
          == .existed)

      options.chunkedUploadThreshold = 0
      options.chunkSize = 50_000  // below the server's OCI-Chunk-Min-Length of 70000
      let chunked = RegistryClient(host: server.host, options: options, pool: pool)
      #expect(
        try await chunked.pushBlob(repository: "upload/two", descriptor: blob) {
          BytesSource(bytes)
        } == .uploaded)

      let log = try await stats(server, pool)
      #expect(log.contains { $0.method == "POST" && $0.path.contains("mount=") })
      let puts = log.filter { $0.method == "PUT" }
      #expect(puts.count == 2)
      #expect(
        puts.allSatisfy { $0.path.contains("?_state=st-") && $0.path.contains("&digest=sha256:") })
      let patches = log.filter { $0.method == "PATCH" }
      #expect(
        patches.map(\.contentRange) == [
          "0-69999", "70000-139999", "140000-209999", "210000-279999", "280000-299999",
        ])
    }
  }
}
