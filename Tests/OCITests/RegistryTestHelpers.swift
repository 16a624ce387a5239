import Foundation
import OCI

@testable import TestSupport

/// A restartable sink writing to a file, as a blob store's ingest does.
final class FileSink: RestartableByteSink, @unchecked Sendable {
  let path: String
  private let handle: FileHandle
  private(set) var restarts = 0

  init(path: String) throws {
    self.path = path
    _ = FileManager.default.createFile(atPath: path, contents: nil)
    handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
  }

  deinit { try? handle.close() }

  func write(_ bytes: UnsafeRawBufferPointer) throws { handle.write(Data(bytes)) }

  func restart() throws {
    restarts += 1
    try handle.truncate(atOffset: 0)
  }
}

/// Reads a file in 64 KiB steps as an upload body.
final class FileSource: ByteSource, @unchecked Sendable {
  private let handle: FileHandle

  init(path: String) throws { handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path)) }

  deinit { try? handle.close() }

  func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    guard let data = try handle.read(upToCount: buffer.count), !data.isEmpty else { return 0 }
    data.copyBytes(to: buffer)
    return data.count
  }
}

enum RegistryTestSetup {
  /// Client options that reach a fixture registry: its CA, its account (or `credentials`).
  static func options(
    for registry: TestRegistry, credentials: RegistryCredentials? = nil, useCA: Bool = true,
    retry: RetryPolicy = RetryPolicy(attempts: 4, baseDelay: 0.05, maxDelay: 0.5)
  ) -> RegistryOptions {
    var options = RegistryOptions(retry: retry)
    // usesTLS, not the mode: a token registry started with tokenOverTLS is HTTPS too.
    options.scheme = registry.usesTLS ? .https : .http
    if useCA, let ca = registry.caCertPath { options.tls.caFile = ca }
    options.credentials =
      credentials
      ?? registry.credentials.map {
        RegistryCredentials(username: $0.username, password: $0.password)
      }
    return options
  }

  /// Generates the small image set and pushes it with skopeo; returns what was pushed.
  static func seed(_ registry: TestRegistry, into scratch: TemporaryDirectory) async throws
    -> GeneratedImages
  {
    let images = try await TestImages.generate(into: scratch.path + "/layout", preset: .small)
    try await TestImages.push(images, to: registry)
    return images
  }

  /// `skopeo inspect --raw` of a reference on a fixture registry, as bytes; the one
  /// implementation is ``TestRegistry/rawManifest(_:)``, which picks TLS from the registry.
  static func skopeoRaw(_ registry: TestRegistry, _ repositoryAndTag: String) async throws
    -> [UInt8]
  {
    Array(try await registry.rawManifest(repositoryAndTag))
  }
}

/// A Python fixture server of ours under testdata/fixtures (faultproxy.py, quirkregistry.py),
/// on a free port, guarded so it dies with the test.
final class FixtureServer: @unchecked Sendable {
  let port: UInt16
  let logPath: String
  private let process: GuardedProcess

  init(script: String, arguments: [String], scratch: TemporaryDirectory) async throws {
    port = try FreePort.find()
    logPath = scratch.path + "/" + script + ".log"
    process = try GuardedProcess(
      name: script,
      command: [TestPaths.python, TestPaths.fixture(script), "--port", String(port)] + arguments,
      logPath: logPath)
    // Readiness on a dedicated thread with a wall-clock deadline: a 5 s poll on the
    // cooperative pool ran out on a loaded 2-core machine before the server was up.
    let log = logPath
    do {
      try await waitUntilReady(process) { fileContains(log, "PORT ") }
    } catch {
      await process.stop()
      throw error
    }
  }

  var host: String { "127.0.0.1:\(port)" }

  var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

  func stop() async { await process.stop() }
}

/// The fault-injecting proxy (testdata/fixtures/faultproxy.py) in front of a registry.
final class FaultProxy: @unchecked Sendable {
  private let server: FixtureServer

  init(upstream: String, every: Int, afterBytes: Int, scratch: TemporaryDirectory) async throws {
    server = try await FixtureServer(
      script: "faultproxy.py",
      arguments: [
        "--upstream", upstream, "--every", String(every), "--after-bytes", String(afterBytes),
      ], scratch: scratch)
  }

  var host: String { server.host }

  /// How many connections the proxy has cut so far.
  var cuts: Int { server.log.split(separator: "\n").filter { $0.hasPrefix("CUT ") }.count }

  func stop() async { await server.stop() }
}
