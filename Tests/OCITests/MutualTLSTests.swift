import Foundation
import Testing

@testable import OCI
@testable import TestSupport

/// A registry that requires client certificates (`http.tls.clientcas`): TLS 1.3 servers
/// refuse a missing or untrusted certificate only after the handshake, so curl reports a
/// dropped connection. kk used to retry that five times and then say the registry could
/// not be reached; it now says, at once, that a client certificate is wanted or refused.
@Suite(.serialized) struct MutualTLSTests {
  func withMutualTLSRegistry(_ body: (String, String) async throws -> Void) async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-mtls")
    defer { scratch.remove() }
    let pki = scratch.path + "/pki"
    try await ProcessRunner.checked(TestPaths.python, [TestPaths.fixture("make-pki.py"), pki])
    let port = try FreePort.find()
    let config = scratch.path + "/config.yml"
    try """
    version: 0.1
    log: {level: info}
    storage: {filesystem: {rootdirectory: \(scratch.path)/data}}
    http:
      addr: 127.0.0.1:\(port)
      tls:
        certificate: \(pki)/server.pem
        key: \(pki)/server-key.pem
        clientcas: [\(pki)/ca.pem]

    """.write(toFile: config, atomically: true, encoding: .utf8)
    let log = scratch.path + "/registry.log"
    let registry = try GuardedProcess(
      name: "docker-registry (mutual TLS)", command: ["docker-registry", "serve", config],
      logPath: log)
    do {
      for _ in 0..<200 {
        if let text = try? String(contentsOfFile: log, encoding: .utf8),
          text.contains("listening on 127.0.0.1:\(port)")
        {
          break
        }
        try await Task.sleep(for: .milliseconds(50))
      }
      try await body("127.0.0.1:\(port)", pki)
    } catch {
      await registry.stop()
      throw error
    }
    await registry.stop()
  }

  /// A certs.d-style directory with the CA and, optionally, one client pair.
  func certDir(_ pki: String, client: String?) throws -> String {
    let dir = pki + "/certs-\(client ?? "none")"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: pki + "/ca.pem", toPath: dir + "/ca.crt")
    if let client {
      try FileManager.default.copyItem(
        atPath: pki + "/\(client).cert", toPath: dir + "/client.cert")
      try FileManager.default.copyItem(atPath: pki + "/\(client).key", toPath: dir + "/client.key")
    }
    return dir
  }

  func ping(_ host: String, certs: String) async throws(RegistryError) {
    var options = RegistryOptions(scheme: .https)
    try options.loadCertificates(from: certs)
    try await RegistryClient(host: host, options: options, pool: TransferPool(threads: 1))
      .checkReachable()
  }

  @Test func aMissingOrRefusedClientCertificateIsNamedNotRetried() async throws {
    try await withMutualTLSRegistry { host, pki in
      try await ping(host, certs: try certDir(pki, client: "client"))
      for (client, needle) in [
        (nil, "requires a client certificate (mutual TLS) does, and kk has none for it"),
        ("stranger", "it did not accept the client certificate"),
      ] as [(String?, String)] {
        do {
          try await ping(host, certs: try certDir(pki, client: client))
          Issue.record("\(client ?? "no certificate"): the registry was reached")
        } catch {
          guard case RegistryError.tls(_, let detail, _) = error else {
            Issue.record("\(client ?? "no certificate"): \(error)")
            continue
          }
          #expect(detail.contains(needle), "\(detail)")
        }
      }
    }
  }
}
