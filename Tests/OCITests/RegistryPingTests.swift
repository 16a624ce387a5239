import Foundation
import OCI
import Testing

@testable import TestSupport

/// `checkReachable` (GET /v2/) against real docker-registry setups: it passes wherever the
/// account may talk to the registry, and fails with the error a push would have hit later.
@Suite("Registry reachability check", .serialized)
struct RegistryPingTests {
  @Test("passes on every setup with its account", arguments: TestRegistry.Mode.allCases)
  func passesWithTheAccount(mode: TestRegistry.Mode) async throws {
    try await withTestRegistry(mode) { registry in
      let client = RegistryClient(
        host: registry.host, options: RegistryTestSetup.options(for: registry),
        pool: TransferPool(threads: 1))
      try await client.checkReachable()
    }
  }

  @Test("wrong password (basic and token), no CA, nothing listening: typed errors")
  func failsWithTheCause() async throws {
    let pool = TransferPool(threads: 1)
    let wrong = RegistryCredentials(username: "kk", password: "nope")
    for mode in [TestRegistry.Mode.tlsBasicAuth, .token] {
      try await withTestRegistry(mode) { registry in
        let client = RegistryClient(
          host: registry.host,
          options: RegistryTestSetup.options(for: registry, credentials: wrong), pool: pool)
        do throws(RegistryError) {
          try await client.checkReachable()
          Issue.record("\(mode): a wrong password passed")
        } catch {
          guard case .unauthorized = error else {
            Issue.record("\(mode): expected unauthorized, got \(error)")
            return
          }
        }
      }
    }
    var closedPort = ""
    try await withTestRegistry(.tlsBasicAuth) { registry in
      let client = RegistryClient(
        host: registry.host, options: RegistryTestSetup.options(for: registry, useCA: false),
        pool: pool)
      do throws(RegistryError) {
        try await client.checkReachable()
        Issue.record("a certificate from an unknown CA was accepted")
      } catch {
        guard case .tlsVerification = error else {
          Issue.record("expected tlsVerification, got \(error)")
          return
        }
      }
      closedPort = registry.host
    }
    // The registry above is stopped: nothing listens on its port any more.
    let down = RegistryClient(
      host: closedPort,
      options: RegistryOptions(retry: RetryPolicy(attempts: 2, baseDelay: 0.01, maxDelay: 0.02)),
      pool: pool)
    do throws(RegistryError) {
      try await down.checkReachable()
      Issue.record("a stopped registry answered")
    } catch {
      guard case .connection(let host, _, let attempts) = error else {
        Issue.record("expected connection, got \(error)")
        return
      }
      #expect(host == closedPort)
      #expect(attempts == 2)
    }
  }
}
