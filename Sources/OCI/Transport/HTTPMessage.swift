/// HTTP header fields in arrival order, looked up case-insensitively.
///
/// Registries repeat some headers (`WWW-Authenticate`, `Link`) and proxies change the case of
/// names, so this keeps every field and compares names without case.
public struct HTTPHeaders: Sendable, Equatable, Sequence {
  public private(set) var fields: [(name: String, value: String)]

  public init(_ fields: [(name: String, value: String)] = []) { self.fields = fields }

  /// The first value of `name`, or nil.
  public subscript(name: String) -> String? {
    let lower = name.lowercased()
    return fields.first { $0.name.lowercased() == lower }?.value
  }

  /// Every value of `name`, in order.
  public func values(_ name: String) -> [String] {
    let lower = name.lowercased()
    return fields.filter { $0.name.lowercased() == lower }.map(\.value)
  }

  /// Adds a field, keeping any earlier one of the same name.
  public mutating func add(_ name: String, _ value: String) { fields.append((name, value)) }

  /// Replaces every field of `name` with one value.
  public mutating func set(_ name: String, _ value: String) {
    remove(name)
    fields.append((name, value))
  }

  public mutating func remove(_ name: String) {
    let lower = name.lowercased()
    fields.removeAll { $0.name.lowercased() == lower }
  }

  public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
    fields.makeIterator()
  }

  public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
    lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
  }
}

/// TLS settings of one registry endpoint.
///
/// The CA bundle is held as PEM bytes rather than a path because a KubeKey `certsPath`
/// directory holds any number of `*.crt` files and curl takes one bundle; the bytes are added
/// to the system trust store, as Docker's `certs.d` does.
public struct TLSOptions: Sendable, Equatable {
  /// Verify the server certificate and host name. Off only for `skipTLSVerify`.
  public var verify: Bool
  /// Extra trusted CAs, PEM, concatenated.
  public var caPEM: [UInt8]?
  /// A CA bundle file to trust in place of the system store.
  public var caFile: String?
  /// A c_rehash'ed CA directory.
  public var caDirectory: String?
  /// Client certificate (PEM file) for mutual TLS, with its key.
  public var clientCertFile: String?
  public var clientKeyFile: String?
  /// Client certificate and key as PEM bytes (kubeconfig `client-certificate-data`, exec
  /// plugin output): held in memory so a private key never has to touch the disk. Win over
  /// the file forms when both are set.
  public var clientCertPEM: [UInt8]?
  public var clientKeyPEM: [UInt8]?

  public init(
    verify: Bool = true, caPEM: [UInt8]? = nil, caFile: String? = nil,
    caDirectory: String? = nil, clientCertFile: String? = nil, clientKeyFile: String? = nil,
    clientCertPEM: [UInt8]? = nil, clientKeyPEM: [UInt8]? = nil
  ) {
    self.verify = verify
    self.caPEM = caPEM
    self.caFile = caFile
    self.caDirectory = caDirectory
    self.clientCertFile = clientCertFile
    self.clientKeyFile = clientKeyFile
    self.clientCertPEM = clientCertPEM
    self.clientKeyPEM = clientKeyPEM
  }
}

/// The status line and headers of a response, handed over before any body byte.
///
/// The caller decides from this where the body goes (a blob sink for a 200/206, a small
/// buffer for an error document), so an error page never ends up inside a blob file.
public struct HTTPResponseHead: Sendable {
  public var status: Int
  public var headers: HTTPHeaders
}

/// A request body: nothing, a few bytes (manifests, tokens), or a stream of known length.
public enum HTTPBody: Sendable {
  case none
  case bytes([UInt8])
  /// Read through curl's read callback; the length becomes `Content-Length` (registries
  /// reject chunked transfer encoding on blob uploads).
  case stream(any ByteSource, length: Int64)
}

/// One HTTP exchange. Redirects are not followed by the transport: the registry client
/// follows them itself so it can drop credentials on a cross-origin hop.
public struct HTTPRequest: Sendable {
  public var method: String
  public var url: String
  public var headers: HTTPHeaders
  public var body: HTTPBody
  public var tls: TLSOptions
  /// Where a response body goes, chosen once the head is known; nil buffers it
  /// (up to `bufferLimit`). Throwing aborts the transfer with that error.
  public var bodySink: (@Sendable (HTTPResponseHead) throws -> (any ByteSink)?)?
  /// Largest buffered body accepted; beyond it the transfer fails instead of using memory.
  public var bufferLimit: Int
  /// An HTTP(S)/SOCKS proxy URL for this request (kubeconfig `proxy-url`); nil uses curl's
  /// environment handling (`https_proxy`, `no_proxy`).
  public var proxy: String?
  /// curl `CONNECT_TO` entries (`host:port:connect-host:connect-port`): connect elsewhere
  /// than the URL's host while TLS still checks the URL's host name. This is how a
  /// kubeconfig `tls-server-name` is honoured.
  public var connectTo: [String]

  public init(
    method: String, url: String, headers: HTTPHeaders = HTTPHeaders(), body: HTTPBody = .none,
    tls: TLSOptions = TLSOptions(),
    bodySink: (@Sendable (HTTPResponseHead) throws -> (any ByteSink)?)? = nil,
    bufferLimit: Int = 8 << 20, proxy: String? = nil, connectTo: [String] = []
  ) {
    self.proxy = proxy
    self.connectTo = connectTo
    self.method = method
    self.url = url
    self.headers = headers
    self.body = body
    self.tls = tls
    self.bodySink = bodySink
    self.bufferLimit = bufferLimit
  }
}

/// A completed exchange. `body` holds the buffered bytes when no sink took them.
public struct HTTPResponse: Sendable {
  public var status: Int
  public var headers: HTTPHeaders
  public var body: [UInt8]
  /// Body bytes handed to the sink by this exchange.
  public var streamedBytes: Int64
  /// HTTP version curl used: 1 for HTTP/1.x, 2 for HTTP/2.
  public var httpVersion: Int
}

/// Why a transfer failed below HTTP: the connection, TLS, a timeout, or the caller's own
/// sink or source.
public struct TransportError: Error, Sendable, CustomStringConvertible {
  public enum Kind: Sendable, Equatable {
    /// DNS, refused, reset, cut mid-body: worth retrying.
    case connection
    /// Stalled or too slow: worth retrying.
    case timeout
    /// The server certificate did not verify: retrying will not help.
    case tlsVerification
    /// Other TLS failures (handshake, client certificate).
    case tls
    /// The response body exceeded the buffer limit.
    case tooLarge
    /// Anything else curl reported.
    case other
  }

  public var kind: Kind
  public var curlCode: Int
  public var message: String
  public var url: String

  public var isRetryable: Bool { kind == .connection || kind == .timeout }

  public var description: String { "\(message) (\(url), curl error \(curlCode))" }
}
