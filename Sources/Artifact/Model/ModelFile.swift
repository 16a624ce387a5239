import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Reads a small YAML file (a manifest or a cluster config) as text.
///
/// Why a function of its own: this is where a user's typo in `-m`/`-f` surfaces, so every
/// failure names the path and the reason as the system gives it (a directory, no such file,
/// permission denied) instead of a Foundation error code. The size cap protects against
/// pointing the tool at an ISO by mistake. Text is UTF-8 (a BOM is fine); a file saved as
/// UTF-16 with a BOM, as Windows editors do, is decoded too, as Go KubeKey's YAML parser does.
func readModelFile(_ path: String) throws(ModelError) -> String {
  let limit = 16 << 20
  func fail(_ message: String) -> ModelError {
    ModelError(diagnostics: [
      Diagnostic(severity: .error, file: path, line: nil, column: nil, message: message)
    ])
  }
  func reason(_ code: Int32) -> String { String(cString: strerror(code)) }
  let fd = open(path, O_RDONLY | O_CLOEXEC)
  guard fd >= 0 else {
    let code = errno
    switch code {
    case ENOENT: throw fail("no such file; check the path")
    case EACCES: throw fail("permission denied; check the file's permissions")
    default: throw fail("cannot open the file: \(reason(code))")
    }
  }
  defer { close(fd) }
  var info = stat()
  guard fstat(fd, &info) == 0 else { throw fail("cannot read the file: \(reason(errno))") }
  if (info.st_mode & S_IFMT) == S_IFDIR {
    throw fail("is a directory; give the YAML file itself")
  }
  var data = [UInt8]()
  var buffer = [UInt8](repeating: 0, count: 64 << 10)
  while data.count <= limit {
    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    if n < 0 {
      if errno == EINTR { continue }
      throw fail("cannot read the file: \(reason(errno))")
    }
    if n == 0 { break }
    data += buffer[0..<n]
  }
  guard data.count <= limit else {
    throw fail("the file is larger than 16 MiB; is this really a YAML file?")
  }
  return try decodeModelText(data, fail: fail)
}

/// UTF-8 (with or without a BOM), or UTF-16 when a BOM says so.
private func decodeModelText(
  _ data: [UInt8], fail: (String) -> ModelError
) throws(ModelError) -> String {
  if data.starts(with: [0xFF, 0xFE]) || data.starts(with: [0xFE, 0xFF]) {
    let encoding: String.Encoding = data[0] == 0xFF ? .utf16LittleEndian : .utf16BigEndian
    guard let text = String(data: Data(data.dropFirst(2)), encoding: encoding) else {
      throw fail("the file starts with a UTF-16 byte-order mark but is not valid UTF-16")
    }
    return text
  }
  let body = data.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(data.dropFirst(3)) : data
  guard let text = String(validating: body, as: UTF8.self) else {
    throw fail("the file is not UTF-8 text; save it as UTF-8")
  }
  return text
}
