import OCI

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// The digest and size of a blob that is now stored: the two fields a `Descriptor` needs
/// besides its media type.
public struct StoredBlob: Hashable, Sendable {
  public let digest: Digest
  public let size: Int64

  public init(digest: Digest, size: Int64) {
    self.digest = digest
    self.size = size
  }
}

/// An OCI image layout directory used as a content store:
/// `oci-layout`, `index.json`, `blobs/<alg>/<hex>`.
///
/// Every blob enters through a `BlobWriter` that hashes the bytes and refuses to commit
/// content that does not match the digest the caller expected, so anything found under
/// `blobs/` was verified on the way in. The store is a value holding a path; any number
/// of copies, tasks or processes may use the same directory at once.
public struct BlobStore: Sendable {
  /// The layout directory.
  public let root: String

  /// Whether blobs written through this value stay in the page cache once on disk
  /// (`.keep`, the default) or are dropped as they are written back (`.dropWhenWritten`,
  /// for bulk copies that will not read them again soon). Affects speed and memory only.
  public var pageCache: PageCachePolicy = .keep

  /// Whether commits through this value are forced to disk (see ``BlobDurability``).
  public var durability: BlobDurability = .synced

  /// The largest blob `readJSON(_:)` reads into memory; registries cap manifests at 4 MiB.
  public static let jsonLimit: Int64 = 16 << 20

  /// Where temp files of ingests in progress live; hidden so the layout stays valid.
  public var ingestDirectory: String { root + "/.ingest" }
  var indexPath: String { root + "/index.json" }
  var layoutPath: String { root + "/oci-layout" }

  private init(root: String) {
    self.root = root
  }

  /// Creates the layout (or completes a partly created one): directories, `oci-layout`
  /// and an empty `index.json` unless one exists. Existing blobs are kept.
  public static func create(at path: String) throws(BlobstoreError) -> BlobStore {
    let store = BlobStore(root: path)
    try FileIO.makeDirectory(path)
    try FileIO.makeDirectory(path + "/blobs")
    try FileIO.makeDirectory(path + "/blobs/sha256")
    try FileIO.makeDirectory(store.ingestDirectory)
    try store.refuseLinkedDirectories()
    if FileIO.fileInfo(store.layoutPath) == nil {
      try FileIO.writeAtomically(
        Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8), to: store.layoutPath, directory: path)
    }
    if FileIO.fileInfo(store.indexPath) == nil {
      try FileIO.writeAtomically(
        Array(
          #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#
            .utf8),
        to: store.indexPath, directory: path)
    }
    return store
  }

  /// Opens an existing layout, checking `oci-layout`. Layouts written by other tools
  /// (skopeo, containerd, docker buildx) are accepted.
  public static func open(at path: String) throws(BlobstoreError) -> BlobStore {
    let store = BlobStore(root: path)
    guard FileIO.isDirectory(path) else {
      throw .notALayout(path: path, reason: "no such directory")
    }
    let bytes: [UInt8]
    do {
      bytes = try FileIO.readFile(store.layoutPath, limit: 64 * 1024)
    } catch {
      throw .notALayout(path: path, reason: "cannot read oci-layout (\(error))")
    }
    guard LayoutFile.isSupported(bytes) else {
      throw .notALayout(path: path, reason: "oci-layout is not {\"imageLayoutVersion\":\"1.0.0\"}")
    }
    try store.refuseLinkedDirectories()
    return store
  }

  /// A layout whose `blobs`, `blobs/sha256` or `.ingest` is a symbolic link would have kk
  /// read and write outside the directory it was given: refused, naming the link. (The
  /// layout's own directory may be a link: that is where the user pointed.)
  private func refuseLinkedDirectories() throws(BlobstoreError) {
    for name in ["blobs", "blobs/sha256", ".ingest"] where FileIO.isSymbolicLink(root + "/" + name)
    {
      throw .notALayout(
        path: root,
        reason: "\(name) is a symbolic link; kk reads and writes only inside the layout: "
          + "replace the link with the directory it points to")
    }
  }

  /// The file a blob is (or would be) stored in.
  public func path(for digest: Digest) -> String {
    "\(root)/blobs/\(digest.algorithm.rawValue)/\(digest.encoded)"
  }

  /// Whether the blob is stored. The fast path before an ingest: ingesting present
  /// content is a no-op anyway, but checking first saves the download.
  public func contains(_ digest: Digest) -> Bool {
    FileIO.fileInfo(path(for: digest)) != nil
  }

  /// The stored size of a blob, or nil when it is absent.
  public func size(of digest: Digest) -> Int64? {
    FileIO.fileInfo(path(for: digest))?.size
  }

  /// Opens a blob for streaming.
  public func open(_ digest: Digest) throws(BlobstoreError) -> BlobReader {
    guard contains(digest) else {
      if FileIO.isSymbolicLink(path(for: digest)) { throw .symbolicLink(path: path(for: digest)) }
      throw .blobNotFound(digest, root: root)
    }
    return try BlobReader(digest: digest, path: path(for: digest))
  }

  /// Reads a small blob (manifest, index, config) whole.
  public func readJSON(_ digest: Digest) throws(BlobstoreError) -> [UInt8] {
    guard let size = size(of: digest) else {
      if FileIO.isSymbolicLink(path(for: digest)) { throw .symbolicLink(path: path(for: digest)) }
      throw .blobNotFound(digest, root: root)
    }
    guard size <= Self.jsonLimit else { throw .tooLarge(digest, size: size, limit: Self.jsonLimit) }
    return try FileIO.readFile(path(for: digest), limit: Self.jsonLimit)
  }

  /// Deletes a blob (one found corrupt, so that it is fetched again); returns whether it was
  /// there. Nothing else is touched: an index entry naming it stays (and verify reports it).
  @discardableResult
  public func remove(_ digest: Digest) -> Bool {
    unlink(path(for: digest)) == 0
  }

  /// Starts an ingest of bytes that must hash to `digest` and be `size` bytes long.
  /// Write the bytes, then `commit()` (or `cancel()`).
  public func writer(expecting digest: Digest, size: Int64) throws(BlobstoreError) -> BlobWriter {
    guard digest.algorithm == .sha256 else { throw .unsupportedAlgorithm(digest) }
    try FileIO.makeDirectory(ingestDirectory)
    try FileIO.makeDirectory("\(root)/blobs/\(digest.algorithm.rawValue)")
    let unique =
      "\(digest.encoded).\(getpid()).\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"
    return try BlobWriter(
      expected: digest, size: size, destination: path(for: digest),
      tempPath: "\(ingestDirectory)/\(unique).partial", pageCache: pageCache,
      durability: durability)
  }

  /// Starts or resumes the ingest of a large download: its temp file has a fixed name
  /// (`.ingest/<hex>.resume`), so bytes written by a run that was interrupted — even by
  /// `kill -9` — are kept and `written`/`resumedFrom` say where to continue (`Range`). Call
  /// `suspend()` instead of `cancel()` when the transfer fails, to keep them. When another
  /// process is downloading the same blob, a private (non-resumable) writer is returned.
  public func resumableWriter(expecting digest: Digest, size: Int64) throws(BlobstoreError)
    -> BlobWriter
  {
    guard digest.algorithm == .sha256 else { throw .unsupportedAlgorithm(digest) }
    try FileIO.makeDirectory(ingestDirectory)
    try FileIO.makeDirectory("\(root)/blobs/\(digest.algorithm.rawValue)")
    if let writer = try BlobWriter(
      resuming: "\(ingestDirectory)/\(digest.encoded).resume", expected: digest, size: size,
      destination: path(for: digest), pageCache: pageCache, durability: durability)
    {
      return writer
    }
    return try writer(expecting: digest, size: size)
  }

  /// Stores bytes already in memory (manifests, configs, index blobs we generate) and
  /// returns their digest and size. A no-op when the blob is already present. With `batch`,
  /// the directory fsync is left to `batch.syncDirectories()` (see ``BlobBatch``).
  @discardableResult
  public func ingest(bytes: [UInt8], batch: BlobBatch? = nil) throws(BlobstoreError)
    -> StoredBlob
  {
    let stored = StoredBlob(digest: SHA256Hasher.digest(bytes), size: Int64(bytes.count))
    if size(of: stored.digest) == stored.size { return stored }
    let writer = try writer(expecting: stored.digest, size: stored.size)
    do {
      try bytes.withUnsafeBytes { raw in try writer.write(raw) }
    } catch {
      writer.cancel()
      throw (error as? BlobstoreError) ?? .io(path: root, operation: "ingest", errno: EIO)
    }
    try writer.commit(batch: batch)
    return stored
  }

  /// How `ingest(file:expecting:size:mode:)` gets a local file into the store.
  public enum FileIngestMode: Sendable {
    /// Stream a copy, hashing while copying. The blob is independent of the source.
    case copy
    /// Hash the file in place, then hard-link it into the store (no second copy of a
    /// multi-GB ISO). Falls back to `.copy` across file systems. The source must not be
    /// modified afterwards: it *is* the blob.
    case hardLink
  }

  /// Stores a local file that must hash to `digest` (and be `size` bytes, when given).
  /// Pass `expecting: nil` to store whatever the file contains and learn its digest
  /// (`size` is then ignored). A no-op when the blob is already present. With `batch`, the
  /// directory fsync is left to `batch.syncDirectories()` (see ``BlobBatch``).
  @discardableResult
  public func ingest(
    file source: String, expecting digest: Digest?, size: Int64? = nil,
    mode: FileIngestMode = .copy, batch: BlobBatch? = nil
  ) throws(BlobstoreError) -> StoredBlob {
    guard let info = FileIO.fileInfo(source, followLinks: true) else {
      throw .io(path: source, operation: "stat", errno: ENOENT)
    }
    if let digest, digest.algorithm != .sha256 { throw .unsupportedAlgorithm(digest) }
    if let size, size != info.size, let digest {
      let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ioBufferSize, alignment: 16)
      defer { buffer.deallocate() }
      let (actual, count) = try hashFile(source, buffer: buffer, followLinks: true)
      throw .digestMismatch(expected: digest, actual: actual, expectedSize: size, actualSize: count)
    }
    if let digest, self.size(of: digest) == info.size {
      return StoredBlob(digest: digest, size: info.size)
    }
    if let digest, mode == .copy {
      return try copy(source, expecting: digest, size: info.size, batch: batch)
    }
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ioBufferSize, alignment: 16)
    defer { buffer.deallocate() }
    let (actual, count) = try hashFile(source, buffer: buffer, followLinks: true)
    if let digest, actual != digest || count != info.size {
      throw .digestMismatch(
        expected: digest, actual: actual, expectedSize: size ?? info.size, actualSize: count)
    }
    if mode == .hardLink, try link(source, as: actual, batch: batch) {
      return StoredBlob(digest: actual, size: count)
    }
    return try copy(source, expecting: actual, size: count, batch: batch)
  }

  private func copy(_ source: String, expecting digest: Digest, size: Int64, batch: BlobBatch?)
    throws(BlobstoreError) -> StoredBlob
  {
    if self.size(of: digest) == size { return StoredBlob(digest: digest, size: size) }
    let writer = try writer(expecting: digest, size: size)
    let fd: Int32
    do throws(BlobstoreError) { fd = try FileIO.openRead(source, followLinks: true) } catch {
      writer.cancel()
      throw error
    }
    defer { Glibc.close(fd) }
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ioBufferSize, alignment: 16)
    defer { buffer.deallocate() }
    do {
      while true {
        let n = try FileIO.read(fd, into: buffer, path: source)
        if n == 0 { break }
        try writer.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
      }
    } catch {
      writer.cancel()
      throw (error as? BlobstoreError) ?? .io(path: source, operation: "copy", errno: EIO)
    }
    try writer.commit(batch: batch)
    return StoredBlob(digest: digest, size: size)
  }

  /// Hard-links an already verified file into place through a temp name, so the final
  /// rename stays atomic. Returns false when linking is impossible (another file system).
  private func link(_ source: String, as digest: Digest, batch: BlobBatch?) throws(BlobstoreError)
    -> Bool
  {
    try FileIO.makeDirectory(ingestDirectory)
    try FileIO.makeDirectory("\(root)/blobs/\(digest.algorithm.rawValue)")
    let temp =
      "\(ingestDirectory)/\(digest.encoded).\(getpid()).\(String(UInt64.random(in: 0...UInt64.max), radix: 16)).link"
    guard Glibc.link(source, temp) == 0 else {
      if errno == EXDEV || errno == EPERM || errno == EMLINK { return false }
      throw .io(path: source, operation: "hard-link", errno: errno)
    }
    // The linked inode is the blob: its bytes must be durable before a name in blobs/
    // points at it, as for a written blob (we did not write them, so nobody synced them).
    if durability == .synced {
      do throws(BlobstoreError) {
        let fd = try FileIO.openRead(temp)
        defer { Glibc.close(fd) }
        try FileIO.fdatasync(fd, path: temp)
      } catch {
        FileIO.unlinkIfPresent(temp)
        throw error
      }
    }
    do throws(BlobstoreError) {
      try FileIO.rename(temp, to: path(for: digest))
    } catch {
      FileIO.unlinkIfPresent(temp)
      throw error
    }
    // rename() between two links of one inode does nothing and leaves the temp name.
    FileIO.unlinkIfPresent(temp)
    let directory = "\(root)/blobs/\(digest.algorithm.rawValue)"
    if let batch {
      batch.noteRename(in: directory)
    } else {
      try FileIO.fsyncDirectory(directory)
    }
    return true
  }
}
