import Foundation
import Testing

@testable import OCI
@testable import TestSupport

/// The libcurl transport on its own: where bodies go, how failures are classified, and that
/// a sink or source error surfaces unchanged.
@Suite("Transport (libcurl pool)", .serialized)
struct TransportTests {
  struct SinkFull: Error, Equatable {}

  /// Takes `limit` bytes, then refuses.
  final class LimitedSink: ByteSink, @unchecked Sendable {
    let limit: Int
    private let count = Locked(0)
    init(limit: Int) { self.limit = limit }
    func write(_ bytes: UnsafeRawBufferPointer) throws {
      try count.withLock { n throws in
        n += bytes.count
        if n > limit { throw SinkFull() }
      }
    }
  }

  func withServer(_ body: (String, TransferPool) async throws -> Void) async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-transport")
    defer { scratch.remove() }
    let server = try await FixtureServer(
      script: "quirkregistry.py", arguments: [], scratch: scratch)
    do {
      try await body("http://\(server.host)", TransferPool(threads: 2))
    } catch {
      await server.stop()
      throw error
    }
    await server.stop()
  }

  @Test func headersAreCaseInsensitiveAndKeepRepeats() {
    var headers = HTTPHeaders()
    headers.add("WWW-Authenticate", "Basic realm=a")
    headers.add("www-authenticate", "Bearer realm=b")
    headers.add("Content-Length", "5")
    #expect(headers["content-length"] == "5")
    #expect(headers.values("Www-Authenticate") == ["Basic realm=a", "Bearer realm=b"])
    headers.set("CONTENT-LENGTH", "6")
    #expect(headers.values("content-length") == ["6"])
    headers.remove("www-authenticate")
    #expect(headers["WWW-Authenticate"] == nil)
  }

  @Test func refusedConnectionIsRetryable() async throws {
    let port = try FreePort.find()
    let pool = TransferPool(threads: 1)
    do {
      _ = try await pool.send(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(port)/v2/"))
      Issue.record("a closed port answered")
    } catch let error as TransportError {
      #expect(error.kind == .connection)
      #expect(error.isRetryable)
      #expect(error.description.contains("127.0.0.1:\(port)"))
    }
  }

  @Test("bodies: buffered within the limit, refused beyond it, streamed into a sink on 200")
  func bodies() async throws {
    try await withServer { base, pool in
      let small = try await pool.send(HTTPRequest(method: "GET", url: base + "/_blob"))
      #expect(small.status == 200)
      #expect(String(decoding: small.body, as: UTF8.self).hasPrefix("sha256:"))
      #expect(small.httpVersion == 1)

      do {
        _ = try await pool.send(
          HTTPRequest(method: "GET", url: base + "/storage/blob", bufferLimit: 1000))
        Issue.record("300 kB buffered under a 1000-byte limit")
      } catch let error as TransportError {
        #expect(error.kind == .tooLarge)
      }

      let sink = BufferSink()
      let streamed = try await pool.send(
        HTTPRequest(
          method: "GET", url: base + "/storage/blob",
          bodySink: { head in head.status == 200 ? sink : nil }, bufferLimit: 1000))
      #expect(streamed.streamedBytes == 300_000)
      #expect(streamed.body.isEmpty)
      #expect(sink.bytes.count == 300_000)

      // An error status never reaches the sink: the error document is buffered.
      let refused = try await pool.send(
        HTTPRequest(
          method: "GET", url: base + "/v2/missing/blob/blobs/sha256:00",
          bodySink: { head in head.status == 200 ? BufferSink() : nil }))
      #expect(refused.status == 404)
      #expect(RegistryErrorEntry.parse(refused.body).map(\.code) == ["BLOB_UNKNOWN"])
    }
  }

  @Test("a sink that throws aborts the transfer with its own error")
  func sinkErrorSurfaces() async throws {
    try await withServer { base, pool in
      await #expect(throws: SinkFull.self) {
        _ = try await pool.send(
          HTTPRequest(
            method: "GET", url: base + "/storage/blob",
            bodySink: { _ in LimitedSink(limit: 10_000) }))
      }
      // The pool thread is fine afterwards.
      let after = try await pool.send(HTTPRequest(method: "GET", url: base + "/v2/"))
      #expect(after.status == 200)
    }
  }

  /// 1 KiB every 10 ms: a transfer that is still running when the test aborts it.
  final class SlowSource: ByteSource, @unchecked Sendable {
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
      usleep(10_000)
      let n = min(1024, buffer.count)
      buffer.baseAddress!.initializeMemory(as: UInt8.self, repeating: 7, count: n)
      return n
    }
  }

  @Test("abort: the running transfer fails at once, later ones too, except those allowed")
  func abortStopsRunningAndLaterTransfers() async throws {
    try await withServer { base, pool in
      let start = try await pool.send(
        HTTPRequest(method: "POST", url: base + "/v2/upload/transport/blobs/uploads/"))
      let location = try #require(start.headers["location"])
      let upload = Task {
        try await pool.send(
          HTTPRequest(
            method: "PUT",
            url: base + location + "&digest=sha256:" + String(repeating: "0", count: 64),
            body: .stream(SlowSource(), length: 100 << 20)))
      }
      try await Task.sleep(for: .milliseconds(300))
      let aborted = Date()
      pool.abort { method, _ in method == "DELETE" }
      await #expect(throws: CancellationError.self) { _ = try await upload.value }
      #expect(Date().timeIntervalSince(aborted) < 5, "the upload ran on after the abort")
      await #expect(throws: CancellationError.self) {
        _ = try await pool.send(HTTPRequest(method: "GET", url: base + "/v2/"))
      }
      // A DELETE still goes out and gets the server's answer, whatever it is.
      let deleted = try await pool.send(HTTPRequest(method: "DELETE", url: base + location))
      #expect(deleted.status > 0)
    }
  }

  @Test("a streamed upload body is sent with its length; a short source fails the upload")
  func streamedUpload() async throws {
    try await withServer { base, pool in
      let blob = try await pool.send(HTTPRequest(method: "GET", url: base + "/storage/blob")).body
      let digest = SHA256Hasher.digest(blob)
      let start = try await pool.send(
        HTTPRequest(method: "POST", url: base + "/v2/upload/transport/blobs/uploads/"))
      #expect(start.status == 202)
      let location = try #require(start.headers["location"])
      let put = try await pool.send(
        HTTPRequest(
          method: "PUT", url: base + location + "&digest=\(digest)",
          body: .stream(BytesSource(blob), length: Int64(blob.count))))
      #expect(put.status == 201)
      #expect(put.headers["Docker-Content-Digest"] == digest.description)

      let again = try await pool.send(
        HTTPRequest(method: "POST", url: base + "/v2/upload/transport/blobs/uploads/"))
      let short = ExactSource(
        BytesSource(Array(blob.prefix(1000))), length: 5000, what: "test blob")
      await #expect(throws: RegistryError.self) {
        _ = try await pool.send(
          HTTPRequest(
            method: "PUT", url: base + (again.headers["Location"] ?? "") + "&digest=\(digest)",
            body: .stream(short, length: 5000)))
      }
    }
  }
}
