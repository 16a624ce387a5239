import Foundation

extension RegistryClient {
  /// Asks the registry's base endpoint (`GET /v2/`, with the usual retries and
  /// authentication) and throws when the registry cannot be reached, its TLS fails or it
  /// refuses the credentials. Any other answer passes: the calls that follow report it.
  ///
  /// Why: without it, a wrong port or a registry that is down surfaced as one failure per
  /// blob, each after its own retries (half a minute for a small push), and a wrong password
  /// only once the first blob was refused. One request up front says it once, in seconds.
  public func checkReachable() async throws(RegistryError) {
    _ = try await perform(Call(method: "GET", target: "/v2/"))
  }
}
