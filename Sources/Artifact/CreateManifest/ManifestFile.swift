import Foundation

#if canImport(Glibc)
  import Glibc
#endif

extension CreatedManifest {
  /// Fails early when `path` exists and `force` is off, so that `kk create manifest` says so
  /// before it contacts a cluster (``write(to:force:)`` checks again, atomically).
  public static func checkWritable(_ path: String, force: Bool) throws(CreateManifestError) {
    var info = stat()
    guard lstat(path, &info) == 0 else {
      // A missing directory would only be found after the cluster was read.
      let parent = parentDirectory(of: path)
      var parentInfo = stat()
      guard stat(parent, &parentInfo) == 0, (parentInfo.st_mode & S_IFMT) == S_IFDIR else {
        throw .write(path: path, reason: "its directory \(parent) does not exist; create it first")
      }
      return
    }
    if (info.st_mode & S_IFMT) == S_IFDIR {
      throw .write(path: path, reason: "it is a directory; give a file path with -f")
    }
    if !force { throw .exists(path: path) }
  }

  /// Writes ``yaml`` to `path`, refusing to replace an existing file unless `force`.
  ///
  /// The text goes to a temporary file beside `path` first and only a complete file takes
  /// the name: without `force` by `link(2)`, which fails if a file appeared meanwhile (never
  /// clobbered), with `force` by `rename(2)`. A full disk or a cut write therefore leaves
  /// neither a half-written manifest nor a truncated old one. The text is parsed back with
  /// the model first: a manifest that `kk artifact export` would reject is never written.
  public func write(to path: String, force: Bool) throws(CreateManifestError) {
    let text = yaml
    do {
      _ = try KubeKeyManifest.parse(yaml: text, file: path)
    } catch {
      throw .notRoundTrip(path: path, reason: error.description)
    }
    try Self.checkWritable(path, force: force)
    let temporary = "\(path).kk-tmp-\(getpid())"
    let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_EXCL, 0o644)
    guard fd >= 0 else {
      throw .write(path: path, reason: String(cString: strerror(errno)))
    }
    var keepTemporary = false
    defer { if !keepTemporary { unlink(temporary) } }
    let written = Self.writeAll(fd: fd, bytes: Array(text.utf8))
    Glibc.close(fd)
    if let reason = written { throw .write(path: path, reason: reason) }
    if force {
      guard rename(temporary, path) == 0 else {
        throw .write(path: path, reason: String(cString: strerror(errno)))
      }
      keepTemporary = true
    } else {
      if link(temporary, path) != 0 {
        let code = errno
        if code == EEXIST { throw .exists(path: path) }
        // A file system without hard links (vfat, some FUSE mounts): check, then rename.
        try Self.checkWritable(path, force: false)
        guard rename(temporary, path) == 0 else {
          throw .write(path: path, reason: String(cString: strerror(errno)))
        }
        keepTemporary = true
      }
    }
  }

  /// Writes every byte and syncs; the `strerror` text of the failure, or nil.
  private static func writeAll(fd: Int32, bytes: [UInt8]) -> String? {
    var offset = 0
    while offset < bytes.count {
      let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
      if n < 0 {
        if errno == EINTR { continue }
        return String(cString: strerror(errno))
      }
      offset += n
    }
    return fsync(fd) == 0 ? nil : String(cString: strerror(errno))
  }
}
