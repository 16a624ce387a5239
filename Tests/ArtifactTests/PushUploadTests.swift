import Foundation
import OCI
import TestSupport
import Testing

@testable import Artifact

/// The push side of the registry client against testdata/fixtures/quirkregistry.py, for what
/// docker-registry does not do: redirect uploads (object storage), keep half of a cut chunk,
/// refuse a wrong digest. Each case checks what the client sent, from the server's log.
@Suite("Blob upload edge cases", .serialized)
struct PushUploadTests {
  struct Logged: Decodable {
    var method: String
    var path: String
    var contentRange: String?
  }
  struct Stats: Decodable { var log: [Logged] }

  struct Quirks {
    let server: ScriptServer
    let pool: TransferPool
    let blob: Descriptor
    let bytes: [UInt8]

    func client(chunkSize: Int64? = nil) -> RegistryClient {
      var options = RegistryOptions(
        scheme: .http, retry: RetryPolicy(attempts: 4, baseDelay: 0.01, maxDelay: 0.05))
      if let chunkSize {
        options.chunkedUploadThreshold = 0
        options.chunkSize = chunkSize
      }
      return RegistryClient(host: server.host, options: options, pool: pool)
    }

    /// Requests to `repository`, in order.
    func log(_ repository: String) async throws -> [Logged] {
      let response = try await pool.send(
        HTTPRequest(method: "GET", url: "http://\(server.host)/_stats"))
      return try JSONDecoder().decode(Stats.self, from: Data(response.body)).log
        .filter { $0.path.hasPrefix("/v2/\(repository)/") }
    }

    func headStatus(_ repository: String) async throws -> Int {
      try await pool.send(
        HTTPRequest(
          method: "HEAD", url: "http://\(server.host)/v2/\(repository)/blobs/\(blob.digest)")
      ).status
    }
  }

  func withQuirks(_ body: (Quirks) async throws -> Void) async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-push-quirk")
    defer { scratch.remove() }
    try await withScriptServer("quirkregistry.py", [], logDirectory: scratch.path) { server in
      let pool = TransferPool(threads: 2)
      let digestText = try await pool.send(
        HTTPRequest(method: "GET", url: "http://\(server.host)/_blob"))
      let digest = try Digest(parsing: String(decoding: digestText.body, as: UTF8.self))
      let blob = Descriptor(mediaType: MediaType.octetStream, digest: digest, size: 300_000)
      let probe = RegistryClient(
        host: server.host,
        options: RegistryOptions(scheme: .http, retry: RetryPolicy(attempts: 4, baseDelay: 0.01)),
        pool: pool)
      let bytes = try await probe.blobBytes(repository: "flaky/blob", descriptor: blob)
      try await body(Quirks(server: server, pool: pool, blob: blob, bytes: bytes))
    }
  }

  @Test("a 307 on PUT and on each PATCH re-sends the body from a reopened source")
  func redirectedUploadReopens() async throws {
    try await withQuirks { q in
      let bytes = q.bytes
      let whole = try await q.client().pushBlob(
        repository: "upload-redirect/whole", descriptor: q.blob,
        reopen: { MemorySource(bytes) }, open: { MemorySource(bytes) })
      #expect(whole == .uploaded)
      #expect(try await q.headStatus("upload-redirect/whole") == 200)
      let puts = try await q.log("upload-redirect/whole").filter { $0.method == "PUT" }
      #expect(puts.count == 2)
      #expect(puts.last?.path.contains("moved=1") == true)

      let chunked = try await q.client(chunkSize: 100_000).pushBlob(
        repository: "upload-redirect/chunks", descriptor: q.blob,
        reopen: { MemorySource(bytes) }, open: { MemorySource(bytes) })
      #expect(chunked == .uploaded)
      let patches = try await q.log("upload-redirect/chunks").filter { $0.method == "PATCH" }
      // Every chunk sent twice (redirected, then moved), with the same range both times.
      #expect(
        patches.compactMap(\.contentRange) == [
          "0-99999", "0-99999", "100000-199999", "100000-199999", "200000-299999",
          "200000-299999",
        ])
      #expect(try await q.headStatus("upload-redirect/chunks") == 200)
    }
  }

  @Test("a 307 after a stream that cannot be read twice fails naming the blob, quickly")
  func redirectedStreamFailsClearly() async throws {
    try await withQuirks { q in
      let bytes = q.bytes
      let started = Date()
      do {
        try await q.client().pushBlob(repository: "upload-redirect/stream", descriptor: q.blob) {
          MemorySource(bytes)
        }
        Issue.record("a redirected stream upload must fail")
      } catch {
        #expect("\(error)".contains(q.blob.digest.description), "\(error)")
        #expect("\(error)".contains("redirected"), "\(error)")
      }
      #expect(Date().timeIntervalSince(started) < 10)
      let status = try await q.headStatus("upload-redirect/stream")
      #expect(status == 404)
      // The session was cancelled, not left open.
      let log = try await q.log("upload-redirect/stream")
      #expect(log.contains { $0.method == "DELETE" })
    }
  }

  @Test("a chunk cut mid-body resumes from the registry's Range, in the same session")
  func cutChunkResumes() async throws {
    try await withQuirks { q in
      let bytes = q.bytes
      let result = try await q.client(chunkSize: 100_000).pushBlob(
        repository: "upload-cut/resume", descriptor: q.blob,
        reopen: { MemorySource(bytes) }, open: { MemorySource(bytes) })
      #expect(result == .uploaded)
      let log = try await q.log("upload-cut/resume")
      #expect(log.filter { $0.method == "POST" }.count == 1, "no restart: \(log)")
      #expect(log.contains { $0.method == "GET" && $0.path.contains("/blobs/uploads/") })
      // The server kept half of the second chunk (50000 bytes): go on from byte 150000.
      #expect(
        log.filter { $0.method == "PATCH" }.compactMap(\.contentRange) == [
          "0-99999", "100000-199999", "150000-249999", "250000-299999",
        ])
      #expect(try await q.headStatus("upload-cut/resume") == 200)

      // A source that cannot be read again restarts the upload in a new session instead.
      let restarted = try await q.client(chunkSize: 100_000).pushBlob(
        repository: "upload-cut/restart", descriptor: q.blob
      ) { MemorySource(bytes) }
      #expect(restarted == .uploaded)
      #expect(try await q.log("upload-cut/restart").filter { $0.method == "POST" }.count == 2)
    }
  }

  @Test("DIGEST_INVALID on the final PUT is reported naming the blob; the session is cancelled")
  func digestInvalidNamesTheBlob() async throws {
    try await withQuirks { q in
      var wrong = q.bytes
      wrong[1234] ^= 0xFF
      let bytes = wrong
      do {
        try await q.client().pushBlob(repository: "upload/wrong", descriptor: q.blob) {
          MemorySource(bytes)
        }
        Issue.record("wrong bytes must not be committed")
      } catch {
        #expect("\(error)".contains("DIGEST_INVALID"), "\(error)")
        #expect("\(error)".contains(q.blob.digest.description), "\(error)")
      }
      let status = try await q.headStatus("upload/wrong")
      #expect(status == 404)
      let log = try await q.log("upload/wrong")
      #expect(log.filter { $0.method == "PUT" }.count == 1, "400 is not retried: \(log)")
      #expect(log.contains { $0.method == "DELETE" })
    }
  }
}
