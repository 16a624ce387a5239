import Foundation

/// One upload session of one blob: a streamed `PUT ?digest=`, or `PATCH` chunks then an
/// empty `PUT ?digest=`.
///
/// Why a type of its own: an upload has to survive what networks and registries do to it
/// without ever committing wrong bytes or re-sending a consumed stream. A redirect
/// (307/308 from an object-storage backend) gets a body from a fresh source or fails
/// naming the blob; a chunked upload cut mid-way asks the registry how much it kept
/// (`GET` the session → `Range: 0-N`) and goes on from there when the source can be read
/// again; a session that fails for any reason but the network is cancelled with `DELETE`,
/// so a refused or corrupt blob leaves nothing half-written behind.
final class BlobUpload {
  let client: RegistryClient
  let repository: String
  let descriptor: Descriptor
  let minimumChunk: Int64
  let reopen: (@Sendable () throws -> any ByteSource)?
  let open: @Sendable () async throws -> any ByteSource
  /// The session URL; each PATCH answer moves it on.
  private(set) var url: String

  init(
    client: RegistryClient, repository: String, descriptor: Descriptor, location: String,
    minimumChunk: Int64, reopen: (@Sendable () throws -> any ByteSource)?,
    open: @escaping @Sendable () async throws -> any ByteSource
  ) {
    self.client = client
    self.repository = repository
    self.descriptor = descriptor
    self.minimumChunk = minimumChunk
    self.reopen = reopen
    self.open = open
    url = location
  }

  private var what: String { "blob \(descriptor.digest)" }
  private var scopes: [String] { [RegistryClient.pushScope(repository)] }
  private var octets: HTTPHeaders {
    var headers = HTTPHeaders()
    headers.add("Content-Type", "application/octet-stream")
    return headers
  }

  /// Sends the blob and commits it; on failure cancels the session (except when the
  /// network itself failed: the registry is then likely out of reach, and it expires
  /// abandoned sessions on its own).
  func run(chunked: Bool) async throws(RegistryError) {
    do throws(RegistryError) {
      if chunked { try await sendChunks() } else { try await sendWhole() }
    } catch {
      switch error {
      case .connection, .timedOut: break
      default: await cancel()
      }
      throw error
    }
  }

  private func firstSource() async throws(RegistryError) -> any ByteSource {
    do {
      return try await open()
    } catch let error as RegistryError {
      throw error
    } catch {
      throw .local("cannot open \(what) for upload: \(error)")
    }
  }

  private func sendWhole() async throws(RegistryError) {
    let size = descriptor.size
    let body = UploadBody(
      try await firstSource(), offset: 0, length: size, reopen: reopen, what: what)
    let response = try await client.perform(
      RegistryClient.Call(
        method: "PUT", target: committing(url), headers: octets, body: body.make,
        scopes: scopes, repository: repository, retries: false))
    try checkCommitted(response)
  }

  private func sendChunks() async throws(RegistryError) {
    let size = descriptor.size
    var source = try await firstSource()
    let chunk = max(client.options.chunkSize, minimumChunk, 1)
    var offset: Int64 = 0
    var resumes = 0
    // The cut that made us resume: if the registry then refuses the session (docker-registry
    // cancels one whose PATCH was cut after it stored part of it), the caller restarts.
    var resumedAfter: RegistryError?
    while offset < size {
      let n = min(chunk, size - offset)
      let body = UploadBody(source, offset: offset, length: n, reopen: reopen, what: what)
      var headers = octets
      headers.add("Content-Range", "\(offset)-\(offset + n - 1)")
      do throws(RegistryError) {
        let response = try await client.perform(
          RegistryClient.Call(
            method: "PATCH", target: url, headers: headers, body: body.make, scopes: scopes,
            repository: repository, retries: false))
        guard response.status == 202, let next = response.headers["Location"] else {
          throw client.failure(
            response, method: "PATCH", path: url, repository: repository,
            digest: descriptor.digest)
        }
        url = client.resolve(next, against: url)
        offset += n
        // A redirect may have read this chunk from a reopened source: go on from that one.
        source = body.current
        resumes = 0
        resumedAfter = nil
      } catch {
        if let cut = resumedAfter, !isConnection(error) { throw cut }
        // Cut mid-chunk: the registry may have kept part of it. Resume from what it
        // reports when the source can be read again; otherwise restart (the caller).
        guard case .connection = error, let reopen,
          resumes + 1 < client.options.retry.attempts,
          let kept = await keptRange()
        else { throw error }
        resumes += 1
        resumedAfter = error
        url = kept.url
        do {
          let fresh = try reopen()
          try UploadBody.skip(fresh, kept.bytes, what: what)
          source = fresh
        } catch {
          throw .local("cannot reopen \(what) to resume its upload: \(error)")
        }
        offset = kept.bytes
        let wait = client.options.retry.delay(afterAttempt: resumes, retryAfter: nil)
        try? await Task.sleep(nanoseconds: UInt64(wait * 1_000_000_000))
      }
    }
    let response = try await client.perform(
      RegistryClient.Call(
        method: "PUT", target: committing(url), headers: octets, body: { .bytes([]) },
        scopes: scopes, repository: repository, retries: false))
    try checkCommitted(response)
  }

  private func isConnection(_ error: RegistryError) -> Bool {
    if case .connection = error { return true }
    return false
  }

  /// `GET` the session: how many bytes the registry holds (`Range: 0-N` → N+1) and the
  /// URL to go on with. nil when the session is gone (docker-registry cancels a session
  /// whose PATCH was cut) or the answer is unusable: the caller then restarts.
  func keptRange() async -> (bytes: Int64, url: String)? {
    guard
      let response = try? await client.perform(
        RegistryClient.Call(
          method: "GET", target: url, scopes: scopes, repository: repository, bufferLimit: 64 << 10)
      ),
      response.status == 204 || response.status == 202 || response.status == 200,
      let range = response.headers["Range"]
    else { return nil }
    let text = range.hasPrefix("bytes=") ? String(range.dropFirst("bytes=".count)) : range
    let parts = text.split(separator: "-")
    guard parts.count == 2, parts[0] == "0", let last = Int64(parts[1]), last >= 0,
      last < descriptor.size
    else { return nil }
    // "0-0" is what docker-registry says for an empty session (and for one byte): resend
    // from 0; a wrong guess is refused with 416 and the caller restarts.
    let kept = last == 0 ? 0 : last + 1
    let next = response.headers["Location"].map { client.resolve($0, against: url) } ?? url
    return (kept, next)
  }

  /// Best-effort `DELETE` of the session so the registry drops what it received.
  private func cancel() async {
    _ = try? await client.perform(
      RegistryClient.Call(
        method: "DELETE", target: url, scopes: scopes, repository: repository, retries: false))
  }

  private func committing(_ url: String) -> String {
    RegistryClient.appending(query: "digest", descriptor.digest.description, to: url)
  }

  private func checkCommitted(_ response: HTTPResponse) throws(RegistryError) {
    guard response.status == 201 || response.status == 204 else {
      let codes = RegistryErrorEntry.parse(response.body).map(\.code)
      if response.status == 400, codes.contains("DIGEST_INVALID") {
        throw .digestRefused(host: client.host, repository: repository, digest: descriptor.digest)
      }
      throw client.failure(
        response, method: "PUT", path: url, repository: repository, digest: descriptor.digest)
    }
    if let header = response.headers["Docker-Content-Digest"],
      let claimed = try? Digest(parsing: header),
      claimed != descriptor.digest
    {
      throw .digestMismatch(
        what: "blob uploaded to \(client.host)/\(repository)", expected: descriptor.digest,
        actual: claimed)
    }
  }
}

/// The body of one upload request, safe to ask for twice.
///
/// `RegistryClient.perform` asks for the body again when it follows a redirect. The first
/// time it gets the source the upload was reading; any later time a source reopened and
/// moved to `offset` (when the blob can be read again), or an error naming the blob — never
/// the consumed stream, which would send nothing and leave the registry waiting for bytes.
final class UploadBody: @unchecked Sendable {
  // @unchecked: the mutable fields are guarded by `lock`.
  private let lock = NSLock()
  private var pending: (any ByteSource)?
  private var latest: any ByteSource
  private let offset: Int64
  private let length: Int64
  private let reopen: (@Sendable () throws -> any ByteSource)?
  private let what: String

  init(
    _ source: any ByteSource, offset: Int64, length: Int64,
    reopen: (@Sendable () throws -> any ByteSource)?, what: String
  ) {
    pending = source
    latest = source
    self.offset = offset
    self.length = length
    self.reopen = reopen
    self.what = what
  }

  /// The source the last body was read from.
  var current: any ByteSource { lock.withLock { latest } }

  @Sendable func make() throws -> HTTPBody {
    let first: (any ByteSource)? = lock.withLock {
      defer { pending = nil }
      return pending
    }
    if let first {
      return .stream(ExactSource(first, length: length, what: what), length: length)
    }
    guard let reopen else {
      throw RegistryError.local(
        "the registry redirected the upload of \(what) after its bytes were streamed from a "
          + "source that cannot be read twice (an archive entry); push from the unpacked "
          + "layout (--images-dir) or point kk at an endpoint that does not redirect uploads")
    }
    let fresh = try reopen()
    try Self.skip(fresh, offset, what: what)
    lock.withLock { latest = fresh }
    return .stream(ExactSource(fresh, length: length, what: what), length: length)
  }

  /// Reads and drops the first `count` bytes of `source` (a hashing source must see them).
  static func skip(_ source: any ByteSource, _ count: Int64, what: String) throws {
    guard count > 0 else { return }
    var left = count
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 512 << 10, alignment: 16)
    defer { buffer.deallocate() }
    while left > 0 {
      let window = UnsafeMutableRawBufferPointer(
        rebasing: buffer[0..<Int(min(Int64(buffer.count), left))])
      let n = try source.read(into: window)
      guard n > 0 else { throw RegistryError.local("\(what) ended \(left) bytes early") }
      left -= Int64(n)
    }
  }
}
