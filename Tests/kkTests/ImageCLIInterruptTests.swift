import Foundation
import Testing

@testable import TestSupport

#if canImport(Glibc)
  import Glibc
#endif

/// Ctrl-C (or TERM) during a copy whose download is stuck: the copy removes its partial
/// files and its staging directory, and dies by the signal.
@Suite(.serialized) struct ImageCLIInterruptTests {
  /// A registry with one image (`stall/app:v1`: a config and a 1 MB layer) whose layer
  /// download sends 1000 bytes and then nothing; it accepts uploads (every blob is missing,
  /// every session is opened) so a registry-to-registry copy gets as far as staging the
  /// layer. quirkregistry.py's `stall` blob has no manifest to copy.
  static let script = #"""
    import hashlib, json, sys, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    LAYER = b"".join(hashlib.sha256(b"kk-stall-%d" % i).digest() for i in range(1000000 // 32 + 1))[:1000000]
    CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    def digest(b): return "sha256:" + hashlib.sha256(b).hexdigest()
    MANIFEST = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest(CONFIG), "size": len(CONFIG)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": digest(LAYER), "size": len(LAYER)}]}).encode()
    MT = "application/vnd.oci.image.manifest.v1+json"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *args): pass
        def reply(self, status, body=b"", headers=None):
            self.send_response(status)
            for k, v in (headers or {}).items(): self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD": self.wfile.write(body)
        def route(self):
            n = int(self.headers.get("Content-Length") or 0)
            if n: self.rfile.read(n)
            path = self.path.split("?")[0]
            if path == "/v2/": return self.reply(200, b"{}")
            if path.startswith("/v2/stall/app/manifests/"):
                return self.reply(200, MANIFEST, {"Content-Type": MT, "Docker-Content-Digest": digest(MANIFEST)})
            if path == "/v2/stall/app/blobs/" + digest(CONFIG):
                return self.reply(200, CONFIG, {"Docker-Content-Digest": digest(CONFIG)})
            if path == "/v2/stall/app/blobs/" + digest(LAYER) and self.command == "GET":
                self.send_response(200)
                self.send_header("Content-Length", str(len(LAYER)))
                self.end_headers()
                self.wfile.write(LAYER[:1000])
                self.wfile.flush()
                print("STALL", flush=True)
                time.sleep(120)
                self.close_connection = True
                return
            if self.command == "POST" and path.endswith("/blobs/uploads/"):
                return self.reply(202, b"", {"Location": path + "s1", "Range": "0-0"})
            if self.command in ("PUT", "PATCH") and "/blobs/uploads/" in path:
                return self.reply(201 if self.command == "PUT" else 202, b"", {"Location": path, "Range": "0-0"})
            return self.reply(404, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"x"}]}', {"Content-Type": "application/json"})
        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = route

    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    print("PORT", server.server_address[1], flush=True)
    server.serve_forever()
    """#

  /// Runs `kk image copy` from the stalling registry to `destination` (`@HOST@` is that
  /// registry) until the layer stalls (and `started` holds), sends `signalNumber`, and checks that kk dies by it.
  static func interruptStalledCopy(
    scratch: String, destination: String, signalNumber: Int32,
    environment: [String: String] = [:], started: @escaping @Sendable (Int32) -> Bool
  ) async throws {
    let scriptPath = scratch + "/stallregistry.py"
    try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
    let port = try FreePort.find()
    let log = scratch + "/stallregistry.log"
    let server = try GuardedProcess(
      name: "stallregistry", command: [TestPaths.python, scriptPath, String(port)], logPath: log)
    do {
      try await waitUntilReady(server) { fileContains(log, "PORT ") }
      let host = "127.0.0.1:\(port)"
      let process = Process()
      process.executableURL = URL(fileURLWithPath: KKBinary.path)
      process.arguments = [
        "image", "copy", "docker://\(host)/stall/app:v1",
        destination.replacingOccurrences(of: "@HOST@", with: host),
        "--src-tls-verify=false", "--dest-tls-verify=false",
      ]
      process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
      process.standardOutput = FileHandle.nullDevice
      process.standardError = FileHandle.nullDevice
      try process.run()
      defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
      let pid = process.processIdentifier
      for _ in 0..<600 where !(fileContains(log, "STALL") && started(pid)) && process.isRunning {
        try await Task.sleep(for: .milliseconds(50))
      }
      try #require(process.isRunning, "the copy ended before its download stalled")
      try #require(started(pid), "the copy has nothing on disk to clean up")
      kill(pid, signalNumber)
      for _ in 0..<200 where process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
      #expect(!process.isRunning, "the copy did not stop")
      #expect(process.terminationReason == .uncaughtSignal)
      #expect(process.terminationStatus == signalNumber)
    } catch {
      await server.stop()
      throw error
    }
    await server.stop()
  }

  /// Files under `directory` whose names end in `.partial`, at any depth.
  static func partialFiles(under directory: String) -> [String] {
    let walker = FileManager.default.enumerator(atPath: directory)
    var found: [String] = []
    while let name = walker?.nextObject() as? String {
      if name.hasSuffix(".partial") { found.append(name) }
    }
    return found
  }

  @Test(arguments: [SIGINT, SIGTERM])
  func interruptedCopyIntoALayoutLeavesNoPartialFiles(_ signalNumber: Int32) async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-imagecopy-int")
    defer { scratch.remove() }
    // An existing layout (another image's blobs live there): it stays, without partials.
    let layout = scratch.path + "/layout"
    try FileManager.default.createDirectory(
      atPath: layout + "/blobs/sha256", withIntermediateDirectories: true)
    try #"{"imageLayoutVersion":"1.0.0"}"#.write(
      toFile: layout + "/oci-layout", atomically: true, encoding: .utf8)
    try #"{"schemaVersion":2,"manifests":[]}"#.write(
      toFile: layout + "/index.json", atomically: true, encoding: .utf8)
    try await Self.interruptStalledCopy(
      scratch: scratch.path, destination: "oci:\(layout):app",
      signalNumber: signalNumber
    ) { pid in
      Self.partialFiles(under: layout).contains { $0.contains(".\(pid).") }
    }
    #expect(FileManager.default.fileExists(atPath: layout + "/oci-layout"))
    #expect(Self.partialFiles(under: layout).isEmpty, "\(Self.partialFiles(under: layout))")
  }

  @Test func interruptedCopyIntoANewLayoutRemovesIt() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-imagecopy-int")
    defer { scratch.remove() }
    let layout = scratch.path + "/new"
    try await Self.interruptStalledCopy(
      scratch: scratch.path, destination: "oci:\(layout):app", signalNumber: SIGINT
    ) { pid in
      Self.partialFiles(under: layout).contains { $0.contains(".\(pid).") }
    }
    #expect(!FileManager.default.fileExists(atPath: layout))
  }

  @Test(arguments: [SIGINT, SIGHUP])
  func interruptedRegistryCopyRemovesItsStagingDirectory(_ signalNumber: Int32) async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-imagecopy-int")
    defer { scratch.remove() }
    let temp = scratch.path + "/tmp"
    try FileManager.default.createDirectory(atPath: temp, withIntermediateDirectories: true)
    try await Self.interruptStalledCopy(
      scratch: scratch.path, destination: "docker://@HOST@/copy/app:v1",
      signalNumber: signalNumber, environment: ["TMPDIR": temp]
    ) { pid in
      let names = (try? FileManager.default.contentsOfDirectory(atPath: temp)) ?? []
      return names.contains { $0.hasPrefix("kk-copy-\(pid)-") }
        && !Self.partialFiles(under: temp).isEmpty
    }
    let left = try FileManager.default.contentsOfDirectory(atPath: temp)
    #expect(left.isEmpty, "left behind: \(left)")
  }
}
