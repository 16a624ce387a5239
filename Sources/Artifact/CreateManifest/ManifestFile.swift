import Foundation

#if canImport(Glibc)
  import Glibc
#endif

extension CreatedManifest {
  /// Writes ``yaml`` to `path`, refusing to replace an existing file unless `force`.
  ///
  /// Without `force` the file is created with `O_EXCL`, so a file that appears between a
  /// check and the write is not clobbered either. The text is parsed back with the model
  /// first: a manifest that `kk artifact export` would reject is never written.
  public func write(to path: String, force: Bool) throws(CreateManifestError) {
    let text = yaml
    do {
      _ = try KubeKeyManifest.parse(yaml: text, file: path)
    } catch {
      throw .notRoundTrip(path: path, reason: error.description)
    }
    let flags = O_WRONLY | O_CREAT | O_TRUNC | (force ? 0 : O_EXCL)
    let fd = Glibc.open(path, flags, 0o644)
    guard fd >= 0 else {
      let code = errno
      if code == EEXIST { throw .exists(path: path) }
      throw .write(path: path, reason: String(cString: strerror(code)))
    }
    defer { Glibc.close(fd) }
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
      let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
      if n < 0 {
        if errno == EINTR { continue }
        throw .write(path: path, reason: String(cString: strerror(errno)))
      }
      offset += n
    }
  }
}
