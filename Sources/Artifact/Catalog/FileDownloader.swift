import Blobstore
import Foundation
import OCI

/// Fetches the files of an ``ExportPlan`` into a blob store, verified while they stream.
///
/// KubeKey ran `curl` once per file: no resume, one network error aborted the export, and a
/// wrong file was only noticed afterwards (or never). Here every byte goes through a
/// ``BlobWriter`` expecting the planned digest, so nothing unverified reaches `blobs/`; a cut
/// connection resumes with `Range` from the byte reached; a checksum mismatch is retried
/// once from scratch (a corrupt mirror or proxy cache is usually transient) and then
/// refused with both digests.
///
/// Files whose digest is already in the store are not fetched again, so a re-run after a
/// failure only downloads what is missing.
public struct FileDownloader: Sendable {
  public let store: BlobStore
  public let pool: TransferPool
  /// Connection failures tolerated per file (each resumes where the last stopped).
  public var retries: Int
  /// Wait before retry n: n × this.
  public var retryDelay: Duration
  /// When set, commits leave the directory fsync to `batch.syncDirectories()`, which the
  /// caller runs before anything names the files (see `BlobBatch`).
  public var batch: BlobBatch?
  /// Called with the digest of every file this downloader fetched and committed (hashed
  /// against the checksum on the way in), not for files it found in the store.
  public var onFetched: (@Sendable (Digest) -> Void)?
  /// When set (a `.tar.gz` export into a lasting cache), a raw file of 1 MiB or more is
  /// deflated as it arrives and only its gzip members are kept, recorded as its compressed
  /// form (`FormDeflatingSink`); a file with such a form counts as present.
  public var forms: CompressedForms?
  /// Told, with a line for the user, when a file is retried after its transfer stalled
  /// (no byte for the transport's low-speed window): otherwise that wait is silent.
  public var onStall: (@Sendable (String) -> Void)?

  public init(
    store: BlobStore, pool: TransferPool, retries: Int = 5, retryDelay: Duration = .seconds(1)
  ) {
    self.store = store
    self.pool = pool
    self.retries = retries
    self.retryDelay = retryDelay
  }

  /// Fetches `file` into the store and returns the stored blob (its digest is the file's).
  /// - Throws: ``DownloadError``, naming the URL and what to do.
  public func fetch(_ file: FilePlan) async throws(DownloadError) -> StoredBlob {
    do {
      return try await fetchUntyped(file)
    } catch let error as DownloadError {
      throw error
    } catch let error as BlobstoreError {
      throw .store(path: file.path, error)
    } catch {
      throw .transport(url: file.origin.description, attempts: 1, message: "\(error)")
    }
  }

  private var getter: ResumableGet {
    ResumableGet(pool: pool, retries: retries, retryDelay: retryDelay, onStall: onStall)
  }

  private func fetchUntyped(_ file: FilePlan) async throws -> StoredBlob {
    let url: String
    switch file.origin {
    case .localFile(let path):
      return try ingestLocal(path, file)
    case .url(let value):
      url = value
    }
    if case .unverified = file.checksum {
      let stored = try await fetchUnverified(url)
      onFetched?(stored.digest)
      return stored
    }
    let expected = try await expectedDigest(file)
    if let size = store.size(of: expected) { return StoredBlob(digest: expected, size: size) }
    if let size = forms?.recordedSize(of: expected) {
      return StoredBlob(digest: expected, size: size)
    }
    var attempt = 1
    while true {
      do {
        let stored =
          if let member = file.extract {
            try await fetchExtracting(member, from: url, expected: expected)
          } else {
            try await fetchDirect(url, expected: expected)
          }
        onFetched?(stored.digest)
        return stored
      } catch BlobstoreError.digestMismatch(let expected, let actual, let size, let got) {
        guard attempt < 2 else {
          throw DownloadError.checksumMismatch(
            url: url, path: file.path, expected: expected, actual: actual, expectedSize: size,
            actualSize: got, field: file.pinField)
        }
        attempt += 1
      }
    }
  }

  /// Copies a local file (an ISO's `localPath`) in. A checksum mismatch is the file's or the
  /// manifest's fault, not a transfer's: said so (the store's message says "fetch again").
  private func ingestLocal(_ path: String, _ file: FilePlan) throws -> StoredBlob {
    let stored: StoredBlob
    do {
      stored = try store.ingest(
        file: path, expecting: file.checksum.digest, mode: .copy, batch: batch)
    } catch {
      guard case .digestMismatch(let expected, let actual, _, let size) = error else {
        throw error
      }
      var field = "the manifest's checksum"
      if case .manifest(_, let named) = file.checksum { field = named }
      throw DownloadError.localChecksumMismatch(
        file: path, path: file.path, expected: expected, actual: actual, size: size,
        field: field)
    }
    return stored
  }

  /// The digest the planned checksum names, fetching the upstream `.sha256` file if needed.
  func expectedDigest(_ file: FilePlan) async throws -> Digest {
    switch file.checksum {
    case .manifest(let digest, _), .table(let digest):
      return digest
    case .upstreamFile(let url):
      return try Self.parseChecksumFile(try await getter.small(url), url: url)
    case .localFile, .unverified:
      throw DownloadError.badChecksumFile(
        url: file.origin.description, reason: "a downloaded file needs a known checksum")
    }
  }

  /// Streams into a writer expecting `expected` when the server announces the length; a
  /// body without `Content-Length` goes to a temporary file under the store's ingest
  /// directory and is hashed and linked in only if it matches.
  private func fetchDirect(_ url: String, expected: Digest) async throws -> StoredBlob {
    let store = self.store
    let forms = self.forms
    let temporary = try temporaryPath()
    let slot = SinkSlot { size in
      if let size, let forms, size >= GzipMemberEncoder.binaryThreshold {
        return FormDeflatingSink(
          expected: Descriptor(mediaType: MediaType.octetStream, digest: expected, size: size),
          forms: forms)
      }
      if let size { return try store.writer(expecting: expected, size: size) }
      return try TemporaryFileSink(path: temporary, limit: .max)
    }
    defer { slot.cancel() }
    try await getter.run(url, into: slot)
    switch slot.current {
    case let writer as BlobWriter:
      try writer.commit(batch: batch)
      return StoredBlob(digest: expected, size: writer.expectedSize)
    case let deflating as FormDeflatingSink:
      try deflating.commit(batch: batch)
      return StoredBlob(digest: expected, size: deflating.expected.size)
    case let file as TemporaryFileSink:
      file.close()
      return try store.ingest(
        file: file.path, expecting: expected, mode: .hardLink, batch: batch)
    default:
      throw DownloadError.transport(url: url, attempts: 1, message: "no body received")
    }
  }

  /// Fetches a file nothing vouches for (an ISO `url` without `checksum`) into a temporary
  /// file, then stores it under the sha256 of what arrived: there is nothing to compare with,
  /// and the caller warns with that sha256 so the user can pin it.
  private func fetchUnverified(_ url: String) async throws -> StoredBlob {
    let path = try temporaryPath()
    let slot = SinkSlot { size in try TemporaryFileSink(path: path, limit: size ?? .max) }
    defer { slot.cancel() }
    try await getter.run(url, into: slot)
    guard let file = slot.current as? TemporaryFileSink else {
      throw DownloadError.transport(url: url, attempts: 1, message: "no body received")
    }
    file.close()
    return try store.ingest(file: path, expecting: nil, mode: .hardLink, batch: batch)
  }

  /// A fresh name under the store's ingest directory, for bytes not yet verified.
  private func temporaryPath() throws -> String {
    let directory = store.ingestDirectory
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    // `<x>.<pid>.<n>.download`: an interrupted export removes its own (ExportCache).
    let unique = String(UInt64.random(in: 0...UInt64.max), radix: 16)
    return "\(directory)/dl.\(getpid()).\(unique).download"
  }

  /// Downloads the archive outside `blobs/`, then streams `member` out of it into a writer
  /// expecting `expected`: the checksum vouches for the member, not for the archive.
  private func fetchExtracting(_ member: String, from url: String, expected: Digest)
    async throws -> StoredBlob
  {
    let path = try temporaryPath()
    let slot = SinkSlot { size in try TemporaryFileSink(path: path, limit: size ?? .max) }
    defer { slot.cancel() }
    try await getter.run(url, into: slot)
    (slot.current as? TemporaryFileSink)?.close()
    let reader: ArchiveReader
    do {
      reader = try ArchiveReader(path: path)
    } catch {
      throw DownloadError.archive(url: url, member: member, reason: "\(error)")
    }
    while let entry = try nextEntry(reader, url: url, member: member) {
      guard entry.name == member else { continue }
      let writer = try store.writer(expecting: expected, size: entry.size)
      do {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
          let count: Int
          do {
            count = try entry.read(into: buffer)
          } catch {
            throw DownloadError.archive(url: url, member: member, reason: "\(error)")
          }
          if count == 0 { break }
          try writer.write(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
        try writer.commit(batch: batch)
      } catch {
        writer.cancel()
        throw error
      }
      return StoredBlob(digest: expected, size: entry.size)
    }
    throw DownloadError.archive(url: url, member: member, reason: "the archive has no such file")
  }

  private func nextEntry(_ reader: ArchiveReader, url: String, member: String) throws
    -> ArchiveEntry?
  {
    do {
      return try reader.next()
    } catch {
      throw DownloadError.archive(url: url, member: member, reason: "\(error)")
    }
  }

  /// `<hex>` or `<hex>  <file name>` (sha256sum's format), surrounding whitespace ignored.
  static func parseChecksumFile(_ bytes: [UInt8], url: String) throws(DownloadError) -> Digest {
    guard bytes.count <= 4096 else {
      throw .badChecksumFile(url: url, reason: "\(bytes.count) bytes; expected one sha256 line")
    }
    let text = String(decoding: bytes, as: UTF8.self)
    guard let first = text.split(whereSeparator: { $0.isWhitespace }).first,
      first.count == 64, first.allSatisfy(\.isHexDigit)
    else {
      throw .badChecksumFile(url: url, reason: "it does not start with a 64-digit sha256 hex")
    }
    do {
      return try Digest(parsing: "sha256:\(first.lowercased())")
    } catch {
      throw .badChecksumFile(url: url, reason: "\(error)")
    }
  }
}
