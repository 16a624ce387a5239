import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Where the repository's test data lives, independent of the working directory
/// `swift test` was started from.
public enum TestPaths {
  /// The repository root (the directory holding Package.swift).
  public static let repoRoot: String = {
    URL(fileURLWithPath: #filePath)
      .deletingLastPathComponent()  // TestSupport
      .deletingLastPathComponent()  // Tests
      .deletingLastPathComponent()
      .path
  }()

  /// The Python 3 that runs the fixtures (it needs `cryptography`): `$KK_TEST_PYTHON`,
  /// else `python3` on `PATH`. `.ci/run` sets the variable when only Debian's python3
  /// has `cryptography`.
  public static var python: String {
    ProcessInfo.processInfo.environment["KK_TEST_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
      ?? "python3"
  }

  /// `testdata/` in the repository.
  public static var testdata: String { repoRoot + "/testdata" }

  /// `testdata/fixtures/<name>`: the Python fixture servers and helpers.
  public static func fixture(_ name: String) -> String { testdata + "/fixtures/" + name }
}

/// A directory under the system temp dir that the owner deletes when done.
///
/// Why: every fixture keeps its storage, configs, keys and logs in one place so that a
/// single `remove()` leaves nothing behind.
public final class TemporaryDirectory: Sendable {
  public let path: String

  /// Creates a fresh, empty directory named `<prefix>-XXXXXXXX` (mode 0700).
  public init(prefix: String) throws {
    let base =
      ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
    var template = Array("\(base)/\(prefix)-XXXXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buffer -> Bool in
      guard let base = buffer.baseAddress else { return false }
      return mkdtemp(base) != nil
    }
    guard made else {
      throw TestSupportError.badOutput(
        "cannot create a temporary directory under \(base): errno \(errno)")
    }
    path = String(
      decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  /// Deletes the directory and everything in it; safe to call twice.
  public func remove() {
    try? FileManager.default.removeItem(atPath: path)
  }
}

/// Finds TCP ports that nothing listens on.
public enum FreePort {
  /// A port on 127.0.0.1 that was free a moment ago.
  ///
  /// The kernel picks it (bind to port 0); another process could take it before the
  /// caller binds, so servers started on it are retried on failure.
  public static func find() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestSupportError.badOutput("socket() failed: errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else {
      throw TestSupportError.badOutput("bind(127.0.0.1:0) failed: errno \(errno)")
    }
    let named = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw TestSupportError.badOutput("getsockname failed: errno \(errno)") }
    return UInt16(bigEndian: address.sin_port)
  }
}
