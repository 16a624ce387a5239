import Foundation

/// An upload session opened ahead of its blob (``RegistryClient/openUploadSession(repository:)``).
public struct UploadSession: Sendable {
  public let repository: String
  /// Absolute session URL.
  public let location: String
  /// The registry's `OCI-Chunk-Min-Length` (0 when it names none).
  public let minimumChunk: Int64
}

/// What `pushBlob` had to do.
public enum BlobPushResult: Sendable, Equatable {
  /// The repository already had it (HEAD said so): nothing sent.
  case existed
  /// The registry linked it from another repository: nothing sent.
  case mounted
  /// The bytes were uploaded.
  case uploaded
}

/// Hands out exactly `length` bytes of an underlying source, and fails if it ends sooner,
/// so curl never waits for body bytes that will not come.
final class ExactSource: ByteSource, @unchecked Sendable {
  private let base: any ByteSource
  private let remaining: Locked<Int64>
  private let what: String

  init(_ base: any ByteSource, length: Int64, what: String) {
    self.base = base
    remaining = Locked(length)
    self.what = what
  }

  func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    let left = remaining.withLock { $0 }
    guard left > 0 else { return 0 }
    let window = UnsafeMutableRawBufferPointer(
      rebasing: buffer[0..<Int(min(Int64(buffer.count), left))])
    let n = try base.read(into: window)
    guard n > 0 else { throw RegistryError.local("\(what) ended \(left) bytes early") }
    remaining.withLock { $0 -= Int64(n) }
    return n
  }
}

extension RegistryClient {
  /// How many requests this client can have in flight (its pool's threads): a pusher runs
  /// its small requests (HEADs, manifest PUTs) that many at once.
  public var transferThreads: Int { pool.threadCount }

  /// Aborts the client's transfers in flight and refuses every later request, but the
  /// `DELETE`s that cancel upload sessions and the `POST`s that open them (see
  /// `TransferPool.abort(allowing:)`): sessions opened ahead are then all known, and deleted.
  public func abortTransfers() {
    pool.abort { method, url in
      method == "DELETE" || (method == "POST" && url.contains("/blobs/uploads/"))
    }
  }

  static func uploadsPath(_ repository: String) -> String { "/v2/\(repository)/blobs/uploads/" }

  /// Uploads a blob unless the repository has it, trying a cross-repository mount from
  /// `mountFrom` first (same registry).
  ///
  /// `open` gives a fresh source over the blob's bytes for each attempt: a failed upload
  /// restarts from a new session. Blobs below `options.chunkedUploadThreshold` go in one
  /// streamed PUT, larger ones (or any, once the registry refuses a PUT with 413/405) in
  /// PATCH chunks of at least the registry's `OCI-Chunk-Min-Length`.
  ///
  /// - Parameter reopen: opens the blob again from its first byte, synchronously; give it
  ///   when the source can be read twice (a file). A redirect (307/308, as object-storage
  ///   backends answer uploads) then re-sends the body from a fresh source, and a chunked
  ///   upload cut mid-way resumes from the registry's `Range` instead of restarting. Without
  ///   it (a stream read once, an archive entry) a redirected upload fails naming the blob
  ///   instead of sending a body that was already consumed.
  /// - Parameter checkExisting: HEAD the blob first; false when the caller has just asked
  ///   (``blobExists(repository:digest:)``), saving a round trip per blob.
  /// - Parameter session: an upload session of `repository` opened ahead
  ///   (``openUploadSession(repository:)``), used for the first attempt instead of a `POST`
  ///   (not with `mountFrom`, whose `POST` opens one when the mount is refused).
  @discardableResult
  public func pushBlob(
    repository: String, descriptor: Descriptor, mountFrom: String? = nil,
    reopen: (@Sendable () throws -> any ByteSource)? = nil, checkExisting: Bool = true,
    session opened: UploadSession? = nil,
    open: @escaping @Sendable () async throws -> any ByteSource
  ) async throws(RegistryError) -> BlobPushResult {
    if checkExisting,
      try await blobPushedSize(repository: repository, digest: descriptor.digest) != nil
    {
      if let opened { await cancelUploadSession(opened) }
      return .existed
    }
    var session: (String, Int64)? = opened.map { ($0.location, $0.minimumChunk) }
    if let from = mountFrom, from != repository {
      if let opened { await cancelUploadSession(opened) }
      session = nil
      switch try await mount(repository: repository, digest: descriptor.digest, from: from) {
      case .mounted: return .mounted
      case .session(let location): session = (location, 0)
      case .refused: break
      }
    }
    var attempt = 0
    var chunked = descriptor.size >= options.chunkedUploadThreshold
    while true {
      attempt += 1
      do throws(RegistryError) {
        let started: (String, Int64)
        if let open = session {
          started = open
        } else {
          started = try await startUpload(repository: repository)
        }
        session = nil
        let upload = BlobUpload(
          client: self, repository: repository, descriptor: descriptor, location: started.0,
          minimumChunk: started.1, reopen: reopen, open: open)
        try await upload.run(chunked: chunked)
        return .uploaded
      } catch {
        // A proxy limiting request size (413) or a registry without monolithic
        // PUT (405) asks for chunks.
        if case .registry(_, "PUT", _, let status, _) = error, status == 413 || status == 405,
          !chunked
        {
          chunked = true
          continue
        }
        let retryable: Bool
        var attempts = options.retry.attempts
        switch error {
        case .connection, .invalidResponse: retryable = true
        case .timedOut:
          retryable = true
          attempts = Self.timedOutAttempts(options)
        case .registry(_, _, _, let status, _):
          retryable = status >= 500 || status == 429 || status == 408
        default: retryable = false
        }
        guard retryable, attempt < attempts else {
          // Count the upload attempts, not the last request's.
          if case .connection(let host, let detail, _) = error {
            throw .connection(host: host, detail: detail, attempts: attempt)
          }
          if case .timedOut(let host, let detail, _) = error {
            throw .timedOut(host: host, detail: detail, attempts: attempt)
          }
          throw error
        }
        let wait = options.retry.delay(afterAttempt: attempt, retryAfter: nil)
        try? await Task.sleep(nanoseconds: UInt64(wait * 1_000_000_000))
      }
    }
  }

  /// Whether `repository` has the blob (HEAD under push scope). Lets a pusher learn what a
  /// registry already holds for a whole plan at once, in parallel, before it reads any
  /// blob: a re-push then reads nothing.
  public func blobExists(repository: String, digest: Digest) async throws(RegistryError) -> Bool {
    try await blobPushedSize(repository: repository, digest: digest) != nil
  }

  /// HEAD under push scope (a push token covers it, saving a token round trip).
  private func blobPushedSize(repository: String, digest: Digest) async throws(RegistryError)
    -> Int64?
  {
    let path = Self.blobPath(repository, digest)
    let response = try await perform(
      Call(
        method: "HEAD", target: path, scopes: [Self.pushScope(repository)], repository: repository))
    switch response.status {
    case 200: return response.headers["Content-Length"].flatMap { Int64($0) } ?? -1
    case 404: return nil
    default:
      throw failure(response, method: "HEAD", path: path, repository: repository, digest: digest)
    }
  }

  enum MountOutcome: Equatable {
    case mounted
    case session(String)
    case refused
  }

  /// `POST ?mount=&from=`: 201 mounted; 202 an upload session (the registry could not
  /// mount); 401/403/404 (Harbor answers 401 for a source it will not show) means upload.
  func mount(repository: String, digest: Digest, from: String) async throws(RegistryError)
    -> MountOutcome
  {
    let target = Self.uploadsPath(repository) + "?mount=\(digest)&from=\(from)"
    let response: HTTPResponse
    do {
      response = try await perform(
        Call(
          method: "POST", target: target,
          scopes: [Self.pushScope(repository), Self.pullScope(from)], repository: repository))
    } catch {
      switch error {
      case .unauthorized, .denied: return .refused
      default: throw error
      }
    }
    switch response.status {
    case 201: return .mounted
    case 202:
      guard let location = response.headers["Location"] else { return .refused }
      return .session(resolve(location, against: absolute(target)))
    default: return .refused
    }
  }

  /// Opens an upload session of `repository` ahead of its blob: a session names no digest
  /// until its final `PUT ?digest=`, so a pusher can have the `POST` (docker-registry creates
  /// and fsyncs files for it) done while the previous blob is still being sent.
  public func openUploadSession(repository: String) async throws(RegistryError) -> UploadSession {
    let (location, minimum) = try await startUpload(repository: repository)
    return UploadSession(repository: repository, location: location, minimumChunk: minimum)
  }

  /// Best-effort `DELETE` of a session opened ahead and not used.
  public func cancelUploadSession(_ session: UploadSession) async {
    _ = try? await perform(
      Call(
        method: "DELETE", target: session.location, scopes: [Self.pushScope(session.repository)],
        repository: session.repository, retries: false))
  }

  /// Opens an upload session: its URL and the smallest chunk the registry takes.
  func startUpload(repository: String) async throws(RegistryError) -> (String, Int64) {
    let target = Self.uploadsPath(repository)
    let response = try await perform(
      Call(
        method: "POST", target: target, scopes: [Self.pushScope(repository)], repository: repository
      ))
    guard response.status == 202, let location = response.headers["Location"] else {
      if response.status == 202 {
        throw .invalidResponse(host: host, detail: "upload session without Location")
      }
      throw failure(response, method: "POST", path: target, repository: repository)
    }
    let minimum = response.headers["OCI-Chunk-Min-Length"].flatMap { Int64($0) } ?? 0
    return (resolve(location, against: absolute(target)), minimum)
  }
}
