import Foundation
import OCI

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Streams one stored blob, e.g. as an upload body or into an archive entry.
///
/// The bytes are not re-verified while reading (verify does that for the whole layout);
/// the reader only holds an open file descriptor, so memory does not grow with blob size.
public final class BlobReader: ByteSource, @unchecked Sendable {
  /// The digest the blob is stored under.
  public let digest: Digest
  /// Its size on disk when it was opened.
  public let size: Int64
  /// The file being read.
  public let path: String

  private let lock = NSLock()
  private var fd: Int32

  init(digest: Digest, path: String) throws(BlobstoreError) {
    self.digest = digest
    self.path = path
    self.fd = try FileIO.openRead(path)
    var info = stat()
    guard fstat(fd, &info) == 0 else {
      let code = errno
      Glibc.close(fd)
      throw .io(path: path, operation: "stat", errno: code)
    }
    self.size = Int64(info.st_size)
  }

  deinit { if fd >= 0 { Glibc.close(fd) } }

  public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    lock.lock()
    defer { lock.unlock() }
    guard fd >= 0 else { return 0 }
    return try FileIO.read(fd, into: buffer, path: path)
  }

  /// Releases the file descriptor early; later reads return end of stream.
  public func close() {
    lock.lock()
    defer { lock.unlock() }
    if fd >= 0 {
      Glibc.close(fd)
      fd = -1
    }
  }
}
