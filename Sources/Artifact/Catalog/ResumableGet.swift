import Blobstore
import Foundation
import OCI

/// A destination a download can resume into: it knows how many bytes it holds and can drop
/// them when the server restarts the body.
protocol ResumableSink: ByteSink {
  var written: Int64 { get }
  func reset() throws
  func cancel()
}

extension BlobWriter: ResumableSink {}

/// The sink of one download, created when the first response head tells the size, and kept
/// across retries so a cut connection resumes with `Range` instead of starting over.
final class SinkSlot: @unchecked Sendable {
  private let lock = NSLock()
  private var sink: (any ResumableSink)?
  private var length: Int64?
  /// Called with the body length from `Content-Length`, or nil when the server sent none.
  private let make: @Sendable (Int64?) throws -> any ResumableSink

  init(make: @escaping @Sendable (Int64?) throws -> any ResumableSink) {
    self.make = make
  }

  var current: (any ResumableSink)? { lock.withLock { sink } }
  /// The body length, once a 200 response told it.
  var size: Int64? { lock.withLock { length } }
  var written: Int64 { lock.withLock { sink?.written ?? 0 } }
  /// Where a retry resumes: the bytes held when the total is known; otherwise 0, since a
  /// server's `Content-Range` cannot be checked against an unknown length.
  var resumeOffset: Int64 { lock.withLock { length == nil ? 0 : (sink?.written ?? 0) } }
  var isComplete: Bool {
    lock.withLock {
      guard let sink, let length else { return false }
      return sink.written == length
    }
  }
  /// A body of unknown length is in the sink (it ends when the server closes).
  var isUnsized: Bool { lock.withLock { sink != nil && length == nil } }

  /// Chooses where the body of `head` goes; `nil` buffers it (errors, redirects).
  func body(for head: HTTPResponseHead, url: String, offset: Int64) throws -> (any ByteSink)? {
    try lock.withLock { () throws -> (any ByteSink)? in
      switch head.status {
      case 200:
        let announced = head.headers["Content-Length"].flatMap { Int64($0) }
        if let sink, length == announced {
          // The server ignored Range (or this is a fresh start): begin again at byte 0.
          if sink.written > 0 { try sink.reset() }
          return sink
        }
        sink?.cancel()
        length = announced
        let created = try make(announced)
        sink = created
        return created
      case 206:
        guard let sink, let length else {
          throw DownloadError.badRange(url: url, reason: "206 to a request without Range")
        }
        let range = head.headers["Content-Range"] ?? ""
        guard let start = Self.rangeStart(range), start == offset,
          Self.rangeTotal(range) == length
        else {
          throw DownloadError.badRange(
            url: url, reason: "Content-Range '\(range)' does not continue at byte \(offset)")
        }
        return sink
      default:
        return nil
      }
    }
  }

  func cancel() {
    lock.withLock {
      sink?.cancel()
      sink = nil
    }
  }

  /// `bytes 100-199/200` → 100.
  static func rangeStart(_ value: String) -> Int64? {
    guard value.hasPrefix("bytes ") else { return nil }
    return Int64(value.dropFirst(6).prefix { $0 != "-" })
  }

  /// `bytes 100-199/200` → 200.
  static func rangeTotal(_ value: String) -> Int64? {
    value.split(separator: "/").last.flatMap { Int64($0) }
  }
}

/// An unverified file outside `blobs/` (a tarball to extract from), removed by its owner.
final class TemporaryFileSink: ResumableSink, @unchecked Sendable {
  let path: String
  private let lock = NSLock()
  private var fd: Int32
  private var count: Int64 = 0
  private let limit: Int64

  init(path: String, limit: Int64) throws {
    self.path = path
    self.limit = limit
    fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw BlobstoreError.io(path: path, operation: "create", errno: errno) }
  }

  deinit { cancel() }

  var written: Int64 { lock.withLock { count } }

  func write(_ bytes: UnsafeRawBufferPointer) throws {
    try lock.withLock {
      guard fd >= 0 else { throw BlobstoreError.io(path: path, operation: "write", errno: EBADF) }
      guard count + Int64(bytes.count) <= limit else {
        throw DownloadError.badRange(url: path, reason: "more bytes than Content-Length")
      }
      var offset = 0
      while offset < bytes.count {
        let result = systemWrite(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if result < 0 {
          if errno == EINTR { continue }
          throw BlobstoreError.io(path: path, operation: "write", errno: errno)
        }
        offset += result
      }
      count += Int64(bytes.count)
    }
  }

  func reset() throws {
    try lock.withLock {
      guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0 else {
        throw BlobstoreError.io(path: path, operation: "truncate", errno: errno)
      }
      count = 0
    }
  }

  /// Closes the file; it stays on disk until ``cancel()``.
  func close() {
    lock.withLock {
      if fd >= 0 { _ = systemClose(fd) }
      fd = -1
    }
  }

  func cancel() {
    close()
    unlink(path)
  }
}

/// GET with redirects followed by hand (the transport does not follow them) and, on a cut
/// connection, resumption with `Range` from the byte the sink reached.
struct ResumableGet: Sendable {
  var pool: TransferPool
  var retries: Int
  var retryDelay: Duration
  var maxRedirects = 10
  /// Attempts of one file after a transfer timed out (stalled, or connect timeout): a
  /// server that stalled once for a whole low-speed window usually stalls again, and each
  /// attempt costs that window (60 s): 6 attempts were 6 silent minutes before the error.
  static let attemptsAfterTimeout = 2
  /// Told before a retry after a timeout, with a line for the user (the wait was silent).
  var onStall: (@Sendable (String) -> Void)?

  /// Streams `url` into `slot` until the sink holds the whole body.
  func run(_ url: String, into slot: SinkSlot) async throws {
    var current = url
    var redirects = 0
    var failures = 0
    var timeouts = 0
    while true {
      let offset = slot.resumeOffset
      var headers = HTTPHeaders()
      if offset > 0 { headers.set("Range", "bytes=\(offset)-") }
      let target = current
      let request = HTTPRequest(
        method: "GET", url: current, headers: headers,
        bodySink: { head in try slot.body(for: head, url: target, offset: offset) },
        bufferLimit: 64 << 10)
      let response: HTTPResponse
      do {
        response = try await pool.send(request)
      } catch let error as TransportError where error.isRetryable {
        failures += 1
        if error.kind == .timeout { timeouts += 1 }
        guard failures <= retries, timeouts < Self.attemptsAfterTimeout else {
          throw DownloadError.transport(
            url: current, attempts: failures, message: error.description)
        }
        if error.kind == .timeout {
          onStall?(
            "files: no progress from \(Self.host(of: current)) (\(error.message)), retrying "
              + "(\(timeouts + 1)/\(Self.attemptsAfterTimeout))")
        }
        try await Task.sleep(for: retryDelay * failures)
        continue
      }
      switch response.status {
      case 301, 302, 303, 307, 308:
        redirects += 1
        guard redirects <= maxRedirects else {
          throw DownloadError.badRedirect(url: url, reason: "more than \(maxRedirects) redirects")
        }
        guard let location = response.headers["Location"], !location.isEmpty else {
          throw DownloadError.badRedirect(url: current, reason: "redirect without Location")
        }
        current = Self.resolve(location, against: current)
      case 200, 206:
        // Without a length, a body that ended without a transport error is complete; the
        // checksum is what catches a truncated one.
        if slot.isComplete || (response.status == 200 && slot.isUnsized) { return }
        // The body ended early without a transport error: resume like after a cut.
        failures += 1
        guard failures <= retries else {
          throw DownloadError.transport(
            url: current, attempts: failures,
            message: "body ended at byte \(slot.written) of \(slot.size ?? -1)")
        }
      case 429, 500, 502, 503, 504:
        // Busy or failing upstream: usually transient on CDNs and mirrors.
        failures += 1
        guard failures <= retries else {
          throw DownloadError.http(url: current, status: response.status)
        }
        try await Task.sleep(for: retryDelay * failures)
      case 416 where slot.isComplete:
        return
      default:
        throw DownloadError.http(url: current, status: response.status)
      }
    }
  }

  /// A small body in memory (a `.sha256` file), redirects followed, transient failures
  /// retried.
  func small(_ url: String) async throws -> [UInt8] {
    var current = url
    var redirects = 0
    var failures = 0
    var timeouts = 0
    while true {
      let response: HTTPResponse
      do {
        response = try await pool.send(HTTPRequest(method: "GET", url: current))
      } catch let error as TransportError
        where error.isRetryable && failures < retries
        && (error.kind != .timeout || timeouts + 1 < Self.attemptsAfterTimeout)
      {
        failures += 1
        if error.kind == .timeout {
          timeouts += 1
          onStall?(
            "files: no progress from \(Self.host(of: current)) (\(error.message)), retrying "
              + "(\(timeouts + 1)/\(Self.attemptsAfterTimeout))")
        }
        try await Task.sleep(for: retryDelay * failures)
        continue
      }
      switch response.status {
      case 200:
        return response.body
      case 429, 500, 502, 503,
        504 where failures < retries:
        failures += 1
        try await Task.sleep(for: retryDelay * failures)
      case 301, 302, 303, 307, 308:
        redirects += 1
        guard redirects <= maxRedirects else {
          throw DownloadError.badRedirect(url: url, reason: "more than \(maxRedirects) redirects")
        }
        guard let location = response.headers["Location"], !location.isEmpty else {
          throw DownloadError.badRedirect(url: current, reason: "redirect without Location")
        }
        current = Self.resolve(location, against: current)
      default:
        throw DownloadError.http(url: current, status: response.status)
      }
    }
  }

  /// `host[:port]` of a URL, for messages.
  static func host(of url: String) -> String {
    guard let start = url.range(of: "://")?.upperBound else { return url }
    return String(url[start...].prefix { $0 != "/" })
  }

  /// An absolute `Location`, or one relative to `base` (`/path` or `name`).
  static func resolve(_ location: String, against base: String) -> String {
    if location.contains("://") { return location }
    guard let schemeEnd = base.range(of: "://") else { return location }
    let afterScheme = base[schemeEnd.upperBound...]
    let hostEnd = afterScheme.firstIndex(of: "/") ?? afterScheme.endIndex
    let origin = String(base[..<hostEnd])
    if location.hasPrefix("/") { return origin + location }
    let path = base[hostEnd...].prefix { $0 != "?" }
    let directory = path.lastIndex(of: "/").map { path[...$0] } ?? "/"
    return origin + directory + location
  }
}

// The sink's own `write`/`close` methods shadow the C functions inside the class.
#if canImport(Glibc)
  private let systemWrite = Glibc.write
  private let systemClose = Glibc.close
#else
  private let systemWrite = Darwin.write
  private let systemClose = Darwin.close
#endif
