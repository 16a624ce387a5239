import Foundation

/// A sink that can discard what it has received and start over.
///
/// A download interrupted mid-body resumes with `Range: bytes=N-`; when the server ignores the
/// range and sends the whole blob again (200), the bytes already written must go first, or
/// the blob would hold its head twice. A file sink truncates; a hashing sink resets.
public protocol RestartableByteSink: ByteSink {
  /// Forgets every byte written so far.
  func restart() throws
}

/// A sink that checks the blob's digest itself before anything trusts the bytes (a Blobstore
/// writer hashes as it writes and refuses to commit a mismatch). `fetchBlob` then counts the
/// bytes and enforces the size but does not hash them a second time: SHA-256 of every byte
/// twice was ~20% of an image copy's CPU. The sink's own check replaces the client's, so a
/// conforming sink MUST fail its commit on a digest mismatch.
public protocol DigestVerifyingSink: RestartableByteSink {}

/// Collects a small blob (a config, a manifest) in memory.
public final class BufferSink: RestartableByteSink, @unchecked Sendable {
  private let storage = Locked<[UInt8]>([])

  public init() {}

  public var bytes: [UInt8] { storage.withLock { $0 } }

  public func write(_ bytes: UnsafeRawBufferPointer) throws {
    storage.withLock { $0.append(contentsOf: bytes) }
  }

  public func restart() throws { storage.withLock { $0.removeAll() } }
}

/// Hashes and counts bytes on their way into the caller's sink, refusing more than the
/// descriptor's size, so a blob is verified the moment its last byte lands.
final class VerifyingSink: ByteSink, @unchecked Sendable {
  private struct State {
    var hasher: SHA256Hasher? = SHA256Hasher()
    var received: Int64 = 0
    /// Bytes the sink held before this download (a resumed ingest): not in `hasher`.
    var unhashedPrefix: Int64 = 0
  }
  private let target: any RestartableByteSink
  private let expected: Int64
  private let what: String
  private let state = Locked(State())
  /// False when the target verifies the digest itself (`DigestVerifyingSink`).
  private let hashes: Bool

  init(into target: any RestartableByteSink, expected: Int64, what: String, startingAt: Int64 = 0) {
    self.target = target
    self.expected = expected
    self.what = what
    self.hashes = !(target is any DigestVerifyingSink)
    let hashes = self.hashes
    state.withLock {
      $0.received = startingAt
      $0.unhashedPrefix = startingAt
      if !hashes { $0.hasher = nil }
    }
  }

  /// Whether the hash covers the whole blob (false while a resumed prefix is unhashed, and
  /// when the target checks the digest itself).
  var coversWholeBlob: Bool { state.withLock { $0.hasher != nil && $0.unhashedPrefix == 0 } }

  var received: Int64 { state.withLock { $0.received } }

  func write(_ bytes: UnsafeRawBufferPointer) throws {
    try state.withLock { s throws in
      guard s.received + Int64(bytes.count) <= expected else {
        throw RegistryError.sizeMismatch(
          what: what, expected: expected, actual: s.received + Int64(bytes.count))
      }
      do {
        try target.write(bytes)
      } catch {
        throw RegistryError.local("writing \(what) failed: \(error)")
      }
      s.hasher?.update(bytes)
      s.received += Int64(bytes.count)
    }
  }

  /// Starts over (a 200 answered a range request).
  func restart() throws {
    try state.withLock { s throws in
      guard s.received > 0 else { return }
      do {
        try target.restart()
      } catch {
        throw RegistryError.local("restarting \(what) failed: \(error)")
      }
      s = State()
      if !hashes { s.hasher = nil }
    }
  }

  /// The digest (nil when not hashed here) and the byte count.
  func finish() -> (Digest?, Int64) { state.withLock { ($0.hasher?.finalize(), $0.received) } }
}

extension RegistryClient {
  static func blobPath(_ repository: String, _ digest: Digest) -> String {
    "/v2/\(repository)/blobs/\(digest)"
  }

  /// Downloads a blob into `sink`, streaming, verifying size and digest as it goes.
  ///
  /// A connection that dies mid-body is resumed from the last byte delivered with
  /// `Range: bytes=N-` (the 206's `Content-Range` must start at N); a server that answers
  /// 200 instead restarts the sink. Redirects to object storage are followed without the
  /// registry's credentials. On a mismatch the sink holds bad bytes: the caller discards it.
  ///
  /// `resumingAt`: the sink already holds the blob's first N bytes (a partial ingest kept from
  /// an earlier, interrupted run); the download asks for the rest with `Range` from the start.
  /// The client then checks the size only, since it never saw the prefix: the sink must verify
  /// the digest itself (a Blobstore `BlobWriter` does, on commit). A server that ignores the
  /// range restarts the sink and the digest is checked here again. A `DigestVerifyingSink`
  /// is never hashed here: its own commit is the digest check.
  public func fetchBlob(
    repository: String, descriptor: Descriptor, into sink: any RestartableByteSink,
    resumingAt offset: Int64 = 0
  ) async throws(RegistryError) {
    let digest = descriptor.digest
    guard digest.algorithm == .sha256 else {
      throw .unsupported("blob \(digest): only sha256 digests can be verified")
    }
    let path = Self.blobPath(repository, digest)
    let what = "blob \(digest) of \(host)/\(repository)"
    let verifier = VerifyingSink(
      into: sink, expected: descriptor.size, what: what,
      startingAt: max(0, min(offset, descriptor.size)))
    if offset > 0, offset >= descriptor.size {
      // The kept prefix is already the whole blob (a run killed between its last byte and
      // the commit): nothing to fetch; the sink checks the digest on commit. Asking for
      // `bytes=<size>-` gets a 416 that docker-registry sends with the blob's full
      // Content-Length and no body, which curl reports as a cut transfer.
      return
    }
    let lastRangeStart = Locked<Int64?>(nil)
    let response = try await perform(
      Call(
        method: "GET", target: path,
        prepare: { headers in
          let have = verifier.received
          // The same range asked twice without a byte of progress: this server does not
          // serve it (seen: docker-registry closing a resumed 206 short, every time). Ask for
          // the whole blob instead; its 200 restarts the sink.
          let repeated = lastRangeStart.withLock { last in
            defer { last = have }
            return last == have
          }
          if have > 0 && !repeated {
            headers.set("Range", "bytes=\(have)-")
          } else {
            headers.remove("Range")
          }
        },
        scopes: [Self.pullScope(repository)], repository: repository,
        sink: { head in
          switch head.status {
          case 200:
            try verifier.restart()
            return verifier
          case 206:
            let have = verifier.received
            guard let start = Self.rangeStart(head.headers["Content-Range"]), start == have else {
              throw RegistryError.invalidResponse(
                host: self.host,
                detail: "asked for \(what) from byte \(have), got Content-Range "
                  + (head.headers["Content-Range"] ?? "none"))
            }
            return verifier
          default:
            return nil
          }
        }, progress: { verifier.received }))
    let complete = response.status == 416 && verifier.received == descriptor.size
    guard response.status == 200 || response.status == 206 || complete else {
      throw failure(response, method: "GET", path: path, repository: repository, digest: digest)
    }
    let (actual, count) = verifier.finish()
    guard count == descriptor.size else {
      throw .sizeMismatch(what: what, expected: descriptor.size, actual: count)
    }
    if let actual, verifier.coversWholeBlob, actual != digest {
      throw .digestMismatch(what: what, expected: digest, actual: actual)
    }
  }

  /// Downloads a small blob (a config) into memory, verified.
  public func blobBytes(repository: String, descriptor: Descriptor) async throws(RegistryError)
    -> [UInt8]
  {
    let sink = BufferSink()
    try await fetchBlob(repository: repository, descriptor: descriptor, into: sink)
    return sink.bytes
  }

  /// The size of a blob in the repository, or nil when absent (HEAD).
  public func blobSize(repository: String, digest: Digest) async throws(RegistryError) -> Int64? {
    let path = Self.blobPath(repository, digest)
    let response = try await perform(
      Call(
        method: "HEAD", target: path, scopes: [Self.pullScope(repository)], repository: repository))
    switch response.status {
    case 200: return response.headers["Content-Length"].flatMap { Int64($0) } ?? -1
    case 404: return nil
    default:
      throw failure(response, method: "HEAD", path: path, repository: repository, digest: digest)
    }
  }

  /// `bytes 100-199/1000` → 100.
  static func rangeStart(_ header: String?) -> Int64? {
    guard let header, let space = header.firstIndex(of: " ") else { return nil }
    let spec = header[header.index(after: space)...]
    guard let dash = spec.firstIndex(of: "-") else { return nil }
    return Int64(spec[..<dash])
  }
}
