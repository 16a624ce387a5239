import Foundation
import OCI
import Testing

@testable import TestSupport

#if canImport(Glibc)
  import Glibc
#endif

/// Component file downloads that go wrong on the local side: a write refused, an interrupt.
@Suite(.serialized) struct ExportFileFaultsCLITests {
  /// ~3 MiB that deflate poorly (xorshift) behind an ELF header: their gzip members are about
  /// as large as they are, and they are not taken for compressed data.
  static func incompressible(_ binary: String, _ arch: String) -> Data {
    var state = "\(binary)/\(arch)".utf8.reduce(UInt64(0x9E37_79B9_7F4A_7C15)) {
      ($0 &* 31) &+ UInt64($1)
    }
    var data = Data([0x7f, 0x45, 0x4c, 0x46])
    data.reserveCapacity(3 << 20)
    for _ in 0..<(3 << 20) / 8 {
      state ^= state << 13
      state ^= state >> 7
      state ^= state << 17
      withUnsafeBytes(of: state) { data.append(contentsOf: $0) }
    }
    return data
  }

  /// A write refused while the members of a downloaded binary are stored (here the file-size
  /// limit, EFBIG) used to be reported as "record the compressed form ... failed: No such
  /// file or directory (errno 2)": the errno of a later call. Now the failing write is named.
  @Test func aRefusedWriteOfADownloadedFileIsNamedWithItsErrno() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-export-efbig")
    defer { dir.remove() }
    let (_, manifest) = try ExportMirrorCLITests.serve(in: dir.path) {
      Self.incompressible($0, $1)
    }
    try await withScriptServer(
      "slowfiles.py", ["--root", dir.path + "/mirror"], logDirectory: dir.path
    ) { server in
      // SIGXFSZ ignored (as by many service managers and shells): writes past the limit fail
      // with EFBIG instead of killing the process. bash counts -f in KiB.
      let command = "trap '' XFSZ; ulimit -f 2048; exec \"$0\" \"$@\""
      let result = try await ProcessRunner.run(
        "bash",
        [
          "-c", command, KKBinary.path, "artifact", "export", "-m", manifest, "-o",
          dir.path + "/a.tar.gz", "--cache-dir", dir.path + "/cache", "--download-mirror",
          "http://\(server.host)/plain",
        ], environment: ["KKZONE": ""])
      #expect(result.exitCode == 1, "\(result)")
      let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("kk: error:") }
      #expect(errors.count == 1, "\(result.stderr)")
      let line = String(errors.first ?? "")
      #expect(line.contains("write "), "\(line)")
      #expect(line.contains(".members"), "\(line)")
      #expect(line.contains("File too large (errno \(EFBIG))"), "\(line)")
      #expect(!line.contains("No such file or directory"), "\(line)")
    }
  }
}
