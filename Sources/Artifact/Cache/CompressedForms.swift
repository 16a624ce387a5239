import Blobstore
import Foundation
import OCI

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The gzip members of raw blobs (binaries) as the artifact writer deflated them, kept in the
/// export cache so that a warm export copies them instead of deflating again.
///
/// Why: deflating the binaries is most of a warm export's work (~73 s of 158 s for 660 MB on
/// the bench), and it gives the same bytes every time for the same blob and
/// `ChunkedDeflateParameters`. The members are stored as an ordinary blob of the cache (named
/// by their own sha256, ingested through the verifying `BlobStore`), and a small record,
/// `kk-compressed/<raw hex>.<parameters key>.json`, maps the raw blob to that blob:
/// `{"raw", "rawSize", "parameters", "compressed", "compressedSize"}`. The record is written
/// (temp file, fsync, rename, directory fsync) only after the blob is durable, and only for
/// members made from raw bytes that hashed to the raw digest during the same pack.
///
/// Why the raw digest still holds for an artifact that copies a cached form: the record was
/// written only after the packer saw the raw bytes hash to the raw digest while those very
/// bytes were being deflated into the members; before copying, the members are hashed again
/// and must match the record's digest and size. So the copied bytes are, up to sha256
/// collisions, the deflate of a blob whose sha256 is the raw digest. A record that does not
/// parse or does not match (wrong key, size, missing or altered blob) is removed and the blob
/// is deflated again. `ExportCache.prune` removes records whose blob is gone, and records
/// older than its cutoff (the packer refreshes the mtime of what it uses, like `touch`).
public struct CompressedForms: Sendable {
  /// The directory of records, under the cache root.
  public static let directoryName = "kk-compressed"

  public let store: BlobStore
  public let parameters: ChunkedDeflateParameters

  public init(store: BlobStore, parameters: ChunkedDeflateParameters = .binaries) {
    self.store = store
    self.parameters = parameters
  }

  var directory: String { store.root + "/" + Self.directoryName }

  func recordPath(_ raw: Digest) -> String {
    directory + "/\(raw.encoded).\(parameters.key).json"
  }

  /// What a record says.
  struct Record: Codable, Equatable {
    var raw: String
    var rawSize: Int64
    var parameters: String
    var compressed: String
    var compressedSize: Int64
  }

  /// A cached form whose bytes were just checked against its record.
  public struct Form: Sendable, Hashable {
    /// The blob holding the members.
    public var path: String
    public var digest: Digest
    public var size: Int64
  }

  /// The raw size a record gives for `raw` when it names a form that is in the store with
  /// the recorded size; the form's bytes are not read (the packer's `lookup` hashes them
  /// before they are used).
  public func recordedSize(of raw: Digest) -> Int64? {
    record(of: raw)?.record.rawSize
  }

  /// `raw`'s record when it parses, has these parameters and names a sha256 form that is in
  /// the store with the recorded size.
  private func record(of raw: Digest) -> (record: Record, form: Digest)? {
    guard let data = FileManager.default.contents(atPath: recordPath(raw)),
      let record = try? JSONDecoder().decode(Record.self, from: data),
      record.raw == raw.description, record.parameters == parameters.key,
      let digest = try? Digest(parsing: record.compressed), digest.algorithm == .sha256,
      store.size(of: digest) == record.compressedSize
    else { return nil }
    return (record, digest)
  }

  /// The cached members of `raw`, hashed and checked against the record; nil when there are
  /// none or they do not check out (a bad record is removed, so the blob is deflated again
  /// and a new form recorded).
  ///
  /// - Parameter trusted: the form was recorded by this process from bytes that hashed to
  ///   `raw`'s digest as they arrived (a download that deflated them): its members are not
  ///   hashed again, as a blob downloaded by the same export is not.
  public func lookup(_ raw: Descriptor, trusted: Bool = false) -> Form? {
    let path = recordPath(raw.digest)
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    guard let (record, digest) = record(of: raw.digest), record.rawSize == raw.size else {
      unlink(path)
      return nil
    }
    guard trusted || Self.sha256(of: store.path(for: digest)) == digest else {
      // A blob whose bytes do not match its name is corrupt whatever refers to it; removed,
      // so that the members made next are stored again instead of "already present".
      unlink(store.path(for: digest))
      unlink(path)
      return nil
    }
    // Used now: `prune --older-than` keeps it as long as the raw blob.
    _ = utimes(path, nil)
    _ = utimes(store.path(for: digest), nil)
    return Form(path: store.path(for: digest), digest: digest, size: record.compressedSize)
  }

  /// sha256 of a file, streamed; nil when it cannot be read.
  static func sha256(of path: String) -> Digest? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
    defer { buffer.deallocate() }
    let hasher = SHA256Hasher()
    while true {
      let n = read(fd, buffer.baseAddress, buffer.count)
      if n < 0 {
        if errno == EINTR { continue }
        return nil
      }
      if n == 0 { break }
      hasher.update(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
    }
    return hasher.finalize()
  }

  /// Starts keeping the members of `raw` as the writer produces them (a temp file under the
  /// store's `.ingest/`); nil when the temp file cannot be made (the cache is optional).
  func capture(_ raw: Descriptor) -> Capture? {
    try? FileManager.default.createDirectory(
      atPath: store.ingestDirectory, withIntermediateDirectories: true)
    let temp =
      store.ingestDirectory
      + "/\(raw.digest.encoded).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).members"
    let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return nil }
    return Capture(raw: raw, path: temp, fd: fd)
  }

  /// Stores the captured members as a blob and writes the record. Call only once the raw
  /// bytes the members were made from have hashed to `capture.raw.digest`. Best effort: on
  /// any failure nothing is recorded (the next export deflates again).
  @discardableResult
  func commit(_ capture: Capture) -> Bool { record(capture) == nil }

  /// `commit`, saying what failed: the call, its path and errno (a file-size limit, a full
  /// disk), so a download that keeps only the members can report the real cause (it used
  /// to print the errno of some later call: "No such file or directory").
  func record(_ capture: Capture) -> BlobstoreError? {
    defer { capture.discard() }
    if let failure = capture.finish() { return failure }
    let stored: StoredBlob
    do {
      stored = try store.ingest(file: capture.path, expecting: nil, mode: .hardLink)
    } catch {
      return error
    }
    let record = Record(
      raw: capture.raw.digest.description, rawSize: capture.raw.size, parameters: parameters.key,
      compressed: stored.digest.description, compressedSize: stored.size)
    guard let bytes = try? JSONEncoder().encode(record) else {
      return .io(path: recordPath(capture.raw.digest), operation: "encode", errno: EINVAL)
    }
    return Self.writeDurably(Array(bytes), to: recordPath(capture.raw.digest), in: directory)
  }

  /// Temp file, fsync, rename, directory fsync: a record never names a blob that a power loss
  /// could take back, and never exists half-written. Returns the failing call, or nil.
  static func writeDurably(_ bytes: [UInt8], to path: String, in directory: String)
    -> BlobstoreError?
  {
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let temp = path + ".\(getpid()).tmp"
    let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return .io(path: temp, operation: "create", errno: errno) }
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    var failure: BlobstoreError?
    if written != bytes.count {
      failure = .io(path: temp, operation: "write", errno: written < 0 ? errno : ENOSPC)
    } else if fsync(fd) != 0 {
      failure = .io(path: temp, operation: "fsync", errno: errno)
    }
    if close(fd) != 0, failure == nil {
      failure = .io(path: temp, operation: "close", errno: errno)
    }
    if failure == nil, rename(temp, path) != 0 {
      failure = .io(path: temp, operation: "rename it to \(path)", errno: errno)
    }
    if let failure {
      unlink(temp)
      return failure
    }
    let dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard dirfd >= 0 else { return .io(path: directory, operation: "open", errno: errno) }
    defer { close(dirfd) }
    return fsync(dirfd) == 0 ? nil : .io(path: directory, operation: "fsync", errno: errno)
  }

  /// Removes records older than `cutoff` (seconds since 1970; nil: all) and records whose
  /// compressed blob is gone. Returns how many were removed.
  func prune(olderThan cutoff: Double?) -> Int {
    var removed = 0
    for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
      let path = directory + "/" + name
      var info = stat()
      guard stat(path, &info) == 0 else { continue }
      var keep = cutoff.map { Double(info.st_mtim.tv_sec) >= $0 } ?? false
      if keep {
        let record = FileManager.default.contents(atPath: path).flatMap {
          try? JSONDecoder().decode(Record.self, from: $0)
        }
        let digest = record.flatMap { try? Digest(parsing: $0.compressed) }
        keep = digest.map { store.contains($0) } ?? false
      }
      if !keep, unlink(path) == 0 { removed += 1 }
    }
    return removed
  }

  /// The members of one raw blob as they are written: appended to a temp file.
  final class Capture {
    let raw: Descriptor
    let path: String
    private var fd: Int32
    /// The first failing write (path, errno): kept, since errno is overwritten by later calls.
    private(set) var failure: BlobstoreError?
    var failed: Bool { failure != nil }

    init(raw: Descriptor, path: String, fd: Int32) {
      self.raw = raw
      self.path = path
      self.fd = fd
    }

    deinit { discard() }

    /// Appends bytes; a failure only marks the capture as unusable.
    func write(_ bytes: UnsafeRawBufferPointer) {
      guard !failed, fd >= 0, var base = bytes.baseAddress else { return }
      var left = bytes.count
      while left > 0 {
        let n = Glibc.write(fd, base, left)
        if n < 0 {
          if errno == EINTR { continue }
          failure = .io(path: path, operation: "write", errno: errno)
          return
        }
        base += n
        left -= n
      }
    }

    /// Closes the file; false when a write failed.
    func close() -> Bool { finish() == nil }

    /// Closes the file; the first failing write or the failing close, or nil.
    func finish() -> BlobstoreError? {
      guard fd >= 0 else {
        return failure ?? .io(path: path, operation: "close", errno: EBADF)
      }
      let closed = Glibc.close(fd) == 0
      let code = errno
      fd = -1
      if let failure { return failure }
      return closed ? nil : .io(path: path, operation: "close", errno: code)
    }

    /// Closes and removes the temp file (the store hard-linked what it kept).
    func discard() {
      if fd >= 0 {
        _ = Glibc.close(fd)
        fd = -1
      }
      unlink(path)
    }
  }
}
