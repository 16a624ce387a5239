import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// What an export leaves behind when it is interrupted or has nothing to do, and `kk cache`
/// pointed at something that is not a cache.
@Suite(.serialized) struct ExportInterruptCLITests {
  /// A TCP port that accepts connections (the kernel's backlog) and never answers: an
  /// export against it hangs in resolve until it is interrupted.
  final class SilentPort {
    let fd: Int32
    let port: UInt16

    init() throws {
      let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_addr.s_addr = inet_addr("127.0.0.1")
      address.sin_port = 0
      var length = socklen_t(MemoryLayout<sockaddr_in>.size)
      let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
          bind(fd, pointer, length) == 0 && listen(fd, 16) == 0
            && getsockname(fd, pointer, &length) == 0
        }
      }
      self.fd = fd
      port = UInt16(bigEndian: address.sin_port)
      try #require(bound, "cannot listen on 127.0.0.1")
    }

    deinit { close(fd) }
  }

  @Test(arguments: [SIGINT, SIGTERM])
  func interruptedNoCacheExportRemovesItsTemporaryCache(_ signalNumber: Int32) async throws {
    let dir = try TemporaryDirectory(prefix: "kk-export-int")
    defer { dir.remove() }
    let silent = try SilentPort()
    let manifest = dir.path + "/m.yaml"
    try """
    apiVersion: kubekey.kubesphere.io/v1alpha2
    kind: Manifest
    metadata: {name: int}
    spec:
      arches: [amd64]
      images:
      - 127.0.0.1:\(silent.port)/hang/app:1
      registry:
        auths:
          "127.0.0.1:\(silent.port)": {plainHTTP: true}

    """.write(toFile: manifest, atomically: true, encoding: .utf8)
    let out = dir.path + "/out"
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: KKBinary.path)
    process.arguments = ["artifact", "export", "-m", manifest, "-o", out + "/a.tar", "--no-cache"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
    // The throw-away cache appears before resolve starts.
    let temporary = out + "/.kk-export-\(process.processIdentifier)"
    for _ in 0..<200 where !FileManager.default.fileExists(atPath: temporary + "/oci-layout") {
      try await Task.sleep(for: .milliseconds(25))
    }
    #expect(FileManager.default.fileExists(atPath: temporary + "/oci-layout"))
    try await Task.sleep(for: .milliseconds(200))
    #expect(process.isRunning, "the export did not hang on the silent registry")
    kill(process.processIdentifier, signalNumber)
    for _ in 0..<200 where process.isRunning { try await Task.sleep(for: .milliseconds(25)) }
    #expect(!process.isRunning)
    #expect(process.terminationReason == .uncaughtSignal)
    #expect(process.terminationStatus == signalNumber)
    let left = try FileManager.default.contentsOfDirectory(atPath: out)
    #expect(left.isEmpty, "left behind: \(left)")
  }

  @Test func cacheCommandsOnAFileSayItIsNotADirectory() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-cache-file")
    defer { dir.remove() }
    let file = dir.path + "/not-a-cache"
    try "x".write(toFile: file, atomically: true, encoding: .utf8)
    for command in ["prune", "info"] {
      let result = try await KKBinary.run(["cache", command, "--cache-dir", file])
      #expect(result.exitCode == 1, "\(result)")
      #expect(result.stderr.contains("\(file) is a file, not a directory"), "\(result.stderr)")
      #expect(!result.stderr.contains("--no-cache"), "\(result.stderr)")
    }
    #expect(try String(contentsOfFile: file, encoding: .utf8) == "x")
  }
}
