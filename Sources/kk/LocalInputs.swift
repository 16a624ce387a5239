import Artifact
import Foundation

/// Throws the reason `path` (a file or a directory) cannot be opened, before any request is
/// sent: a typo in a path should not first wait on a registry.
func requireReadable(_ path: String) throws {
  let fd = open(path, O_RDONLY)
  guard fd >= 0 else {
    throw PushError.source("\(path): cannot open for reading: \(String(cString: strerror(errno)))")
  }
  close(fd)
}

/// Reads a small file whole (the layout's index.json).
func readSmallFile(_ path: String) throws -> [UInt8] {
  guard let data = FileManager.default.contents(atPath: path) else {
    throw PushError.source("cannot read \(path)")
  }
  return [UInt8](data)
}
