import Dispatch
import OCI

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// The size of every read and write buffer: large reads keep EVP hashing and the disk busy,
/// and a fixed buffer keeps memory flat whatever the blob size.
let ioBufferSize = 1 << 20

/// Thin, throwing wrappers over POSIX file calls.
///
/// Blobstore needs exact control over fsync, rename and O_EXCL semantics, which Foundation's
/// file APIs hide, so it speaks POSIX directly. Errors carry the path and errno.
enum FileIO {
  /// Opens for reading. A layout's own files are opened with `followLinks` off: a symbolic
  /// link inside a layout (a blob, `index.json`) could point anywhere, and kk reads and
  /// writes only what is inside the directory it was given. Files from outside a layout
  /// (what `ingest(file:)` stores) may be links.
  static func openRead(_ path: String, followLinks: Bool = false) throws(BlobstoreError) -> Int32 {
    let flags = O_RDONLY | O_CLOEXEC | (followLinks ? 0 : O_NOFOLLOW)
    let fd = retryEINTR { open(path, flags) }
    guard fd >= 0 else {
      let code = errno
      if code == ELOOP, !followLinks { throw .symbolicLink(path: path) }
      throw .io(path: path, operation: "open", errno: code)
    }
    return fd
  }

  /// Creates a new file that must not exist yet (O_EXCL), so two writers never share one.
  static func createExclusive(_ path: String) throws(BlobstoreError) -> Int32 {
    let fd = retryEINTR { open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) }
    guard fd >= 0 else { throw .io(path: path, operation: "create", errno: errno) }
    return fd
  }

  static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String)
    throws(BlobstoreError)
  {
    guard var base = bytes.baseAddress else { return }
    var remaining = bytes.count
    while remaining > 0 {
      let n = write(fd, base, remaining)
      if n < 0 {
        if errno == EINTR { continue }
        throw .io(path: path, operation: "write", errno: errno)
      }
      remaining -= n
      base += n
    }
  }

  /// Reads up to `buffer.count` bytes; returns 0 at end of file.
  static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String)
    throws(BlobstoreError) -> Int
  {
    guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
    while true {
      let n = Glibc.read(fd, base, buffer.count)
      if n >= 0 { return n }
      if errno != EINTR { throw .io(path: path, operation: "read", errno: errno) }
    }
  }

  static func fsync(_ fd: Int32, path: String) throws(BlobstoreError) {
    guard retryEINTR({ Glibc.fsync(fd) }) == 0 else {
      throw .io(path: path, operation: "fsync", errno: errno)
    }
  }

  /// Makes a file's bytes (and the size needed to read them back) durable, without the
  /// timestamp update `fsync` also waits for. Enough for a blob: nothing reads its mtime.
  static func fdatasync(_ fd: Int32, path: String) throws(BlobstoreError) {
    #if os(Linux)
      guard retryEINTR({ Glibc.fdatasync(fd) }) == 0 else {
        throw .io(path: path, operation: "fdatasync", errno: errno)
      }
    #else
      try fsync(fd, path: path)
    #endif
  }

  /// `fdatasync(fd)` with `alongside` (when given) run on a dispatch thread meanwhile; throws
  /// the first failure of the two after both have finished.
  private static func fdatasync(
    _ fd: Int32, path: String, alongside: (@Sendable () throws(BlobstoreError) -> Void)?
  ) throws(BlobstoreError) {
    guard let alongside else { return try fdatasync(fd, path: path) }
    final class Outcome: @unchecked Sendable {
      var result: Result<Void, BlobstoreError> = .success(())
    }
    let outcome = Outcome()
    let done = DispatchSemaphore(value: 0)
    DispatchQueue.global(qos: .userInitiated).async {
      outcome.result = Result { () throws(BlobstoreError) in try alongside() }
      done.signal()
    }
    let own = Result { () throws(BlobstoreError) in try fdatasync(fd, path: path) }
    done.wait()
    try own.get()
    try outcome.result.get()
  }

  /// Makes a rename in `directory` durable.
  static func fsyncDirectory(_ directory: String) throws(BlobstoreError) {
    let fd = retryEINTR { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
    guard fd >= 0 else { throw .io(path: directory, operation: "open directory", errno: errno) }
    defer { close(fd) }
    try fsync(fd, path: directory)
  }

  static func rename(_ from: String, to: String) throws(BlobstoreError) {
    guard Glibc.rename(from, to) == 0 else {
      throw .io(path: to, operation: "rename \(from) to", errno: errno)
    }
  }

  static func truncate(_ fd: Int32, path: String) throws(BlobstoreError) {
    guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0 else {
      throw .io(path: path, operation: "truncate", errno: errno)
    }
  }

  /// Removes a file; a file that is already gone is not an error.
  static func unlinkIfPresent(_ path: String) {
    _ = unlink(path)
  }

  /// Size and modification time, or nil when the path does not name a regular file.
  /// Size and mtime of a regular file; nil for anything else. Without `followLinks` a
  /// symbolic link is not a regular file (see ``openRead(_:followLinks:)``).
  static func fileInfo(_ path: String, followLinks: Bool = false) -> (size: Int64, mtime: Int)? {
    var info = statBuffer()
    let found = followLinks ? stat(path, &info) : lstat(path, &info)
    guard found == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
    return (Int64(info.st_size), info.st_mtim.tv_sec)
  }

  /// Whether `path` itself is a symbolic link.
  static func isSymbolicLink(_ path: String) -> Bool {
    var info = statBuffer()
    return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
  }

  static func isDirectory(_ path: String) -> Bool {
    var info = statBuffer()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
  }

  static func makeDirectory(_ path: String) throws(BlobstoreError) {
    if mkdir(path, 0o755) != 0 && errno != EEXIST {
      throw .io(path: path, operation: "create directory", errno: errno)
    }
  }

  /// Names in a directory, without `.` and `..`; empty when it cannot be read.
  static func list(_ directory: String) -> [String] {
    guard let dir = opendir(directory) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names
  }

  /// Whole small files (oci-layout, index.json, manifests), refusing anything over `limit`.
  static func readFile(_ path: String, limit: Int64) throws(BlobstoreError) -> [UInt8] {
    let fd = try openRead(path)
    defer { close(fd) }
    var result: [UInt8] = []
    let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    defer { chunk.deallocate() }
    while true {
      let n = try read(fd, into: chunk, path: path)
      if n == 0 { return result }
      result.append(contentsOf: chunk[0..<n])
      if Int64(result.count) > limit {
        throw .malformedJSON(path: path, reason: "larger than \(limit) bytes")
      }
    }
  }

  /// Writes `bytes` to `path` atomically: a unique temp file beside it, fdatasync, rename,
  /// fsync the directory. Readers see the old or the new file, never half of one.
  ///
  /// `alongside` runs on another thread while the temp file is fdatasynced, and must have
  /// succeeded before the rename: for work whose durability the new file depends on (the
  /// blob directory sync before `index.json` names the blobs), overlapped instead of
  /// serialised. If it fails, the temp file is removed and `path` is left as it was.
  static func writeAtomically(
    _ bytes: [UInt8], to path: String, directory: String,
    alongside: (@Sendable () throws(BlobstoreError) -> Void)? = nil
  ) throws(BlobstoreError) {
    let temp = "\(path).\(getpid()).\(UInt64.random(in: 0...UInt64.max)).tmp"
    let fd = try createExclusive(temp)
    do throws(BlobstoreError) {
      try bytes.withUnsafeBytes { raw in
        Result { () throws(BlobstoreError) in try writeAll(fd, raw, path: temp) }
      }.get()
      try fdatasync(fd, path: temp, alongside: alongside)
    } catch {
      close(fd)
      unlinkIfPresent(temp)
      throw error
    }
    close(fd)
    do throws(BlobstoreError) {
      try rename(temp, to: path)
    } catch {
      unlinkIfPresent(temp)
      throw error
    }
    try fsyncDirectory(directory)
  }

  private static func retryEINTR(_ call: () -> Int32) -> Int32 {
    while true {
      let result = call()
      if result >= 0 || errno != EINTR { return result }
    }
  }
}

/// Hashes a whole file with 1 MiB reads. Returns the digest and the number of bytes hashed.
func hashFile(
  _ path: String, buffer: UnsafeMutableRawBufferPointer, followLinks: Bool = false
) throws(BlobstoreError) -> (Digest, Int64) {
  let fd = try FileIO.openRead(path, followLinks: followLinks)
  defer { close(fd) }
  let hasher = SHA256Hasher()
  while true {
    let n = try FileIO.read(fd, into: buffer, path: path)
    if n == 0 { break }
    hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
  }
  return (hasher.finalize(), hasher.count)
}

private func statBuffer() -> stat { stat() }
