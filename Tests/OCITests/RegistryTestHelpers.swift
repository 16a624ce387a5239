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

/// The registry tests' name for TestSupport's fixture server (one implementation of the
/// guarded start and readiness wait).
typealias FixtureServer = ScriptServer

extension ScriptServer {
  convenience init(script: String, arguments: [String], scratch: TemporaryDirectory)
    async throws
  {
    try await self.init(script: script, arguments: arguments, logDirectory: scratch.path)
  }
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
