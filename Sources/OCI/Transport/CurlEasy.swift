import CCurl
import Foundation

/// libcurl's process-wide initialisation, run exactly once before the first handle.
///
/// A `static let` is initialised lazily and thread-safely by the Swift runtime, which is the
/// one piece of global state the transport keeps.
enum CurlRuntime {
  static let ready: Bool = curl_global_init(Int(CURL_GLOBAL_ALL)) == CURLE_OK
}

/// Timeouts and identity shared by every transfer of a pool.
public struct TransportOptions: Sendable {
  /// Seconds to wait for TCP + TLS connect.
  public var connectTimeout: Int
  /// A transfer slower than 1 byte/s for this many seconds counts as stalled and is aborted
  /// (then retried by the caller): a cut connection that never sends FIN must not hang us.
  public var stallTimeout: Int
  public var userAgent: String
  /// Keep connections open between transfers (the default). Off opens one connection per
  /// request: for a proxy that closes idle connections badly, and for fault-injection tests.
  public var reuseConnections: Bool

  public init(
    connectTimeout: Int = 30, stallTimeout: Int = 60, userAgent: String = "kk/0.1",
    reuseConnections: Bool = true
  ) {
    self.connectTimeout = connectTimeout
    self.stallTimeout = stallTimeout
    self.userAgent = userAgent
    self.reuseConnections = reuseConnections
  }
}

/// State of one transfer, reached from curl's C callbacks through the userdata pointer.
/// Lives and is used on one transfer thread only.
private final class TransferState {
  let request: HTTPRequest
  var status = 0
  var headers = HTTPHeaders()
  var headComplete = false
  var sink: (any ByteSink)?
  var buffer: [UInt8] = []
  var streamed: Int64 = 0
  var failure: (any Error)?
  var source: (any ByteSource)?
  var cancel: CancelFlag?

  init(request: HTTPRequest) { self.request = request }

  func headerLine(_ raw: UnsafeRawBufferPointer) -> Bool {
    // Strip CR/LF as bytes: Swift treats "\r\n" as one Character.
    var end = raw.count
    while end > 0, raw[end - 1] == 0x0D || raw[end - 1] == 0x0A { end -= 1 }
    let line = String(decoding: UnsafeRawBufferPointer(rebasing: raw[0..<end]), as: UTF8.self)
    if line.hasPrefix("HTTP/") {
      let parts = line.split(separator: " ", maxSplits: 2)
      status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
      headers = HTTPHeaders()
      headComplete = false
      return true
    }
    if line.isEmpty {
      guard status >= 200, !headComplete else { return true }
      headComplete = true
      if let choose = request.bodySink {
        do {
          sink = try choose(HTTPResponseHead(status: status, headers: headers))
        } catch {
          failure = error
          return false
        }
      }
      return true
    }
    if let colon = line.firstIndex(of: ":") {
      let name = String(line[..<colon]).trimmingSpaces()
      let value = String(line[line.index(after: colon)...]).trimmingSpaces()
      headers.add(name, value)
    }
    return true
  }

  func body(_ raw: UnsafeRawBufferPointer) -> Bool {
    if let sink {
      do {
        try sink.write(raw)
        streamed += Int64(raw.count)
      } catch {
        failure = error
        return false
      }
      return true
    }
    guard buffer.count + raw.count <= request.bufferLimit else {
      failure = TransportError(
        kind: .tooLarge, curlCode: 0,
        message: "response body larger than \(request.bufferLimit) bytes",
        url: request.url)
      return false
    }
    buffer.append(contentsOf: raw)
    return true
  }
}

extension String {
  func trimmingSpaces() -> String {
    var s = Substring(self)
    while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
    while let l = s.last, l == " " || l == "\t" { s.removeLast() }
    return String(s)
  }
}

/// Reads a fixed byte array as an upload body.
final class BytesSource: ByteSource, @unchecked Sendable {
  private let bytes: [UInt8]
  private var offset = 0

  init(_ bytes: [UInt8]) { self.bytes = bytes }

  func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    let n = min(buffer.count, bytes.count - offset)
    guard n > 0 else { return 0 }
    bytes.withUnsafeBytes { all in
      buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: all[offset..<offset + n]))
    }
    offset += n
    return n
  }
}

private let headerCallback: kk_curl_data_callback = { data, size, count, user in
  guard let user, let data else { return 0 }
  let state = Unmanaged<TransferState>.fromOpaque(user).takeUnretainedValue()
  let n = size * count
  return state.headerLine(UnsafeRawBufferPointer(start: data, count: n)) ? n : 0
}

private let writeCallback: kk_curl_data_callback = { data, size, count, user in
  guard let user, let data else { return 0 }
  let state = Unmanaged<TransferState>.fromOpaque(user).takeUnretainedValue()
  let n = size * count
  return state.body(UnsafeRawBufferPointer(start: data, count: n)) ? n : 0
}

private let progressCallback: kk_curl_xferinfo_callback = { user, _, _, _, _ in
  guard let user else { return 0 }
  let state = Unmanaged<TransferState>.fromOpaque(user).takeUnretainedValue()
  return state.cancel?.isSet == true ? 1 : 0
}

private let readCallback: kk_curl_data_callback = { data, size, count, user in
  guard let user, let data else { return kk_curl_readfunc_abort() }
  let state = Unmanaged<TransferState>.fromOpaque(user).takeUnretainedValue()
  guard let source = state.source else { return 0 }
  do {
    return try source.read(into: UnsafeMutableRawBufferPointer(start: data, count: size * count))
  } catch {
    state.failure = error
    return kk_curl_readfunc_abort()
  }
}

/// One curl easy handle, kept by one pool thread and reused for every transfer it runs, so
/// that connections, TLS sessions and DNS answers carry over between requests.
final class CurlEasy {
  private let handle: UnsafeMutableRawPointer
  private let options: TransportOptions
  private let verbose: Bool

  init?(options: TransportOptions) {
    guard CurlRuntime.ready, let h = curl_easy_init() else { return nil }
    handle = h
    self.options = options
    verbose = ProcessInfo.processInfo.environment["KK_CURL_VERBOSE"] != nil
  }

  deinit { curl_easy_cleanup(handle) }

  /// Runs one exchange to completion on the calling thread.
  func perform(_ request: HTTPRequest, cancel: CancelFlag? = nil) throws -> HTTPResponse {
    curl_easy_reset(handle)  // options go; connection cache and sessions stay
    let state = TransferState(request: request)
    state.cancel = cancel
    let user = Unmanaged.passUnretained(state).toOpaque()
    var list: UnsafeMutablePointer<curl_slist>? = nil
    var connectList: UnsafeMutablePointer<curl_slist>? = nil
    defer {
      curl_slist_free_all(list)
      curl_slist_free_all(connectList)
    }
    var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

    let code: CURLcode = withExtendedLifetime(state) {
      errorBuffer.withUnsafeMutableBufferPointer { errorPtr in
        setString(CURLOPT_URL, request.url)
        setString(CURLOPT_USERAGENT, options.userAgent)
        setLong(CURLOPT_NOSIGNAL, 1)
        setLong(CURLOPT_NOPROGRESS, 0)
        _ = kk_curl_setopt_xferinfo_callback(handle, progressCallback)
        _ = kk_curl_setopt_pointer(handle, CURLOPT_XFERINFODATA, user)
        setLong(CURLOPT_CONNECTTIMEOUT, options.connectTimeout)
        setLong(CURLOPT_LOW_SPEED_LIMIT, 1)
        setLong(CURLOPT_LOW_SPEED_TIME, options.stallTimeout)
        setLong(CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS)
        setLong(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1)
        setLong(CURLOPT_FOLLOWLOCATION, 0)
        // Blobs are large: 512 KiB reads and writes instead of curl's 16/64 KiB defaults cut
        // the recv/poll/callback count ~30-fold on a fast link (measured on loopback).
        setLong(CURLOPT_BUFFERSIZE, 512 * 1024)
        setLong(CURLOPT_UPLOAD_BUFFERSIZE, 512 * 1024)
        if !options.reuseConnections {
          setLong(CURLOPT_FRESH_CONNECT, 1)
          setLong(CURLOPT_FORBID_REUSE, 1)
        }
        setLong(CURLOPT_VERBOSE, verbose ? 1 : 0)
        _ = kk_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorPtr.baseAddress)
        _ = kk_curl_setopt_data_callback(handle, CURLOPT_HEADERFUNCTION, headerCallback)
        _ = kk_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, user)
        _ = kk_curl_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION, writeCallback)
        _ = kk_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, user)
        applyTLS(request.tls)
        if let proxy = request.proxy { setString(CURLOPT_PROXY, proxy) }
        if !request.connectTo.isEmpty {
          for entry in request.connectTo { connectList = curl_slist_append(connectList, entry) }
          _ = kk_curl_setopt_slist(handle, CURLOPT_CONNECT_TO, connectList)
        }
        applyMethod(request, state: state, user: user)
        for field in request.headers {
          list = curl_slist_append(list, "\(field.name): \(field.value)")
        }
        // Registries do not answer 100-continue; waiting for it only costs a second.
        list = curl_slist_append(list, "Expect:")
        _ = kk_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
        return curl_easy_perform(handle)
      }
    }
    if let failure = state.failure { throw failure }
    if code == CURLE_ABORTED_BY_CALLBACK, cancel?.isSet == true { throw CancellationError() }
    guard code == CURLE_OK else {
      let detail = String(
        decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
      let text = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
      throw TransportError(
        kind: Self.classify(code), curlCode: Int(code.rawValue), message: text,
        url: request.url)
    }
    var version: Int = 0
    _ = kk_curl_getinfo_long(handle, CURLINFO_HTTP_VERSION, &version)
    return HTTPResponse(
      status: state.status, headers: state.headers, body: state.buffer,
      streamedBytes: state.streamed,
      httpVersion: version == CURL_HTTP_VERSION_2_0 ? 2 : 1)
  }

  private func applyMethod(
    _ request: HTTPRequest, state: TransferState, user: UnsafeMutableRawPointer
  ) {
    var length: Int64 = -1
    switch request.body {
    case .none: break
    case .bytes(let bytes):
      state.source = BytesSource(bytes)
      length = Int64(bytes.count)
    case .stream(let source, let n):
      state.source = source
      length = n
    }
    if length >= 0 {
      _ = kk_curl_setopt_data_callback(handle, CURLOPT_READFUNCTION, readCallback)
      _ = kk_curl_setopt_pointer(handle, CURLOPT_READDATA, user)
    }
    switch request.method {
    case "GET": setLong(CURLOPT_HTTPGET, 1)
    case "HEAD": setLong(CURLOPT_NOBODY, 1)
    case "POST":
      setLong(CURLOPT_POST, 1)
      _ = kk_curl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(max(length, 0)))
      if length < 0 {
        _ = kk_curl_setopt_string(handle, CURLOPT_POSTFIELDS, "")
      }
    default:
      // PUT, PATCH, DELETE: PUT semantics for the body, the method name as given.
      if length >= 0 || request.method != "DELETE" {
        setLong(CURLOPT_UPLOAD, 1)
        _ = kk_curl_setopt_off(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(max(length, 0)))
        if length < 0 { state.source = BytesSource([]) }
      }
      if request.method != "PUT" { setString(CURLOPT_CUSTOMREQUEST, request.method) }
    }
  }

  private func applyTLS(_ tls: TLSOptions) {
    setLong(CURLOPT_SSL_VERIFYPEER, tls.verify ? 1 : 0)
    setLong(CURLOPT_SSL_VERIFYHOST, tls.verify ? 2 : 0)
    if let pem = tls.caPEM, !pem.isEmpty {
      _ = pem.withUnsafeBytes {
        kk_curl_setopt_blob(handle, CURLOPT_CAINFO_BLOB, $0.baseAddress, $0.count)
      }
    }
    if let file = tls.caFile { setString(CURLOPT_CAINFO, file) }
    if let dir = tls.caDirectory { setString(CURLOPT_CAPATH, dir) }
    if let cert = tls.clientCertFile { setString(CURLOPT_SSLCERT, cert) }
    if let key = tls.clientKeyFile { setString(CURLOPT_SSLKEY, key) }
    if let cert = tls.clientCertPEM {
      _ = cert.withUnsafeBytes {
        kk_curl_setopt_blob(handle, CURLOPT_SSLCERT_BLOB, $0.baseAddress, $0.count)
      }
    }
    if let key = tls.clientKeyPEM {
      _ = key.withUnsafeBytes {
        kk_curl_setopt_blob(handle, CURLOPT_SSLKEY_BLOB, $0.baseAddress, $0.count)
      }
    }
  }

  private func setLong(_ option: CURLoption, _ value: Int) {
    _ = kk_curl_setopt_long(handle, option, value)
  }

  private func setString(_ option: CURLoption, _ value: String) {
    _ = kk_curl_setopt_string(handle, option, value)
  }

  static func classify(_ code: CURLcode) -> TransportError.Kind {
    switch code {
    case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT,
      CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_PARTIAL_FILE, CURLE_GOT_NOTHING,
      CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_READ_ERROR, CURLE_WRITE_ERROR:
      return .connection
    case CURLE_OPERATION_TIMEDOUT: return .timeout
    case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE:
      return .tlsVerification
    case CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
      CURLE_SSL_ENGINE_NOTFOUND:
      return .tls
    default: return .other
    }
  }
}
