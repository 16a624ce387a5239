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

  /// Ctrl-C while binaries download used to leave their `<hex>.<pid>.<n>.members` files in
  /// the cache's `.ingest/`, reused by no later run and not counted by `kk cache info`. Now
  /// the interrupted export removes its own temp files (only its own) and `info` counts
  /// temp files.
  @Test func anInterruptedFileDownloadLeavesNoTempFilesAndInfoCountsThem() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-export-int-files")
    defer { dir.remove() }
    let (_, manifest) = try ExportMirrorCLITests.serve(in: dir.path) {
      Self.incompressible($0, $1)
    }
    let cache = dir.path + "/cache"
    let ingest = cache + "/.ingest"
    try FileManager.default.createDirectory(atPath: ingest, withIntermediateDirectories: true)
    // Another process's capture in progress: not this export's to remove.
    let foreign = ingest + "/\(String(repeating: "a", count: 64)).999999999.1.members"
    try Data(count: 10).write(to: URL(fileURLWithPath: foreign))
    try await withScriptServer(
      "slowfiles.py", ["--root", dir.path + "/mirror", "--delay", "0.3"],
      logDirectory: dir.path
    ) { server in
      let process = Process()
      process.executableURL = URL(fileURLWithPath: KKBinary.path)
      process.arguments = [
        "artifact", "export", "-m", manifest, "-o", dir.path + "/a.tar.gz", "--cache-dir", cache,
        "--download-mirror", "http://\(server.host)/slow",
      ]
      process.environment = ProcessInfo.processInfo.environment.merging(["KKZONE": ""]) { $1 }
      process.standardOutput = FileHandle.nullDevice
      process.standardError = FileHandle.nullDevice
      try process.run()
      defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
      let own = ".\(process.processIdentifier)."
      func ownTemp() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: ingest)) ?? []).filter {
          $0.contains(own)
        }
      }
      for _ in 0..<400 where !ownTemp().contains(where: { $0.hasSuffix(".members") }) {
        try await Task.sleep(for: .milliseconds(25))
      }
      #expect(ownTemp().contains { $0.hasSuffix(".members") }, "no download started")
      kill(process.processIdentifier, SIGINT)
      for _ in 0..<200 where process.isRunning { try await Task.sleep(for: .milliseconds(25)) }
      #expect(!process.isRunning)
      #expect(process.terminationReason == .uncaughtSignal)
      #expect(ownTemp().isEmpty, "left behind: \(ownTemp())")
      #expect(FileManager.default.fileExists(atPath: foreign))
      #expect(!FileManager.default.fileExists(atPath: dir.path + "/a.tar.gz.partial"))
    }
    let info = try await KKBinary.run(["cache", "info", "--cache-dir", cache])
    #expect(info.exitCode == 0, "\(info)")
    #expect(info.stdout.contains("temp   1 files ("), "\(info.stdout)")
  }
}
