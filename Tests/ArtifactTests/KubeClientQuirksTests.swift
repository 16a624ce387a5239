import Foundation
import OCI
import Testing

@testable import Artifact
@testable import TestSupport

/// What real API servers and kubeconfigs do that the happy path does not: broken paging,
/// an answer that is not a node list, legacy auth providers, half-configured users.
@Suite("Kube client quirks against kube-apiserver.py", .serialized)
struct KubeClientQuirksTests {
  let pool = TransferPool(
    threads: 1, options: TransportOptions(connectTimeout: 5, stallTimeout: 10))

  func nodes(_ path: String, context: String? = nil, environment: [String: String] = [:])
    async throws -> [KubeNode]
  {
    try await listNodes(kubeconfig: path, context: context, environment: environment, pool: pool)
  }

  func kubeError(_ body: () async throws -> Void) async -> KubeError? {
    await caughtKubeError(body)
  }

  /// A server that hands back the continue token it was asked with used to be paged for
  /// ever (thousands of requests a minute); now the second page ends it.
  @Test func aContinueTokenThatNeverChangesIsRefused() async throws {
    let server = try await KubeAPIServer(nodes: "paged", extra: ["--continue-mode", "same"])
    defer { Task { await server.stop() } }
    let path = try server.kubeconfig("token.yaml", user: "    token: admin-token\n")
    let error = await kubeError { _ = try await nodes(path) }
    guard case .badResponse(_, let reason) = error else {
      Issue.record("expected badResponse, got \(String(describing: error))")
      return
    }
    #expect(reason.contains("gave back the continue token it was asked with"))
    #expect(server.requests().count == 2)
  }

  /// 410 Expired on a continue page (the token aged out): one unpaged list, as client-go's
  /// pager falls back to.
  @Test func anExpiredContinueTokenFallsBackToOneFullList() async throws {
    let server = try await KubeAPIServer(
      nodes: "paged", pageSize: 3, extra: ["--continue-mode", "expire"])
    defer { Task { await server.stop() } }
    let path = try server.kubeconfig("token.yaml", user: "    token: admin-token\n")
    let list = try await nodes(path)
    #expect(list.map(\.name) == (0..<7).map { String(format: "pg-%02d", $0) })
    let requests = server.requests()
    #expect(requests.count == 3)
    #expect(requests.last?.hasPrefix("REQ /api/v1/nodes user=") == true, "\(requests)")
  }

  /// A dashboard or proxy answering with a Table is named, not read as zero nodes.
  @Test func aListThatIsNotANodeListIsRefused() async throws {
    let server = try await KubeAPIServer(nodes: "docker-short", extra: ["--kind", "Table"])
    defer { Task { await server.stop() } }
    let path = try server.kubeconfig("token.yaml", user: "    token: admin-token\n")
    let error = await kubeError { _ = try await nodes(path) }
    #expect(error?.description.contains("it answered a Table, not a NodeList") == true)
  }

  /// auth-provider oidc sends its cached id-token, as kubectl does; a provider without a
  /// cached token is named instead of going out anonymous (and blamed on RBAC).
  @Test func authProviderTokensAreSentOrNamed() async throws {
    let server = try await KubeAPIServer(nodes: "docker-short")
    defer { Task { await server.stop() } }
    let oidc = try server.kubeconfig(
      "oidc.yaml",
      user: "    auth-provider:\n      name: oidc\n      config:\n        client-id: kk\n"
        + "        id-token: admin-token\n        idp-issuer-url: https://idp.invalid\n")
    #expect(try await nodes(oidc).count == 2)
    #expect(server.requests().last?.hasSuffix("user=admin") == true)

    let gcp = try server.kubeconfig(
      "gcp.yaml", user: "    auth-provider:\n      name: gcp\n      config: {cmd-path: gcloud}\n")
    let before = server.requests().count
    let error = await kubeError { _ = try await nodes(gcp) }
    #expect(
      error
        == .credentialMissing(
          user: "u1",
          reason: "auth-provider 'gcp' has no cached access-token kk can send (kk does not run "
            + "auth-provider logins); run a kubectl command once to refresh it, or use a token, "
            + "client certificate or exec plugin"))
    #expect(server.requests().count == before)
  }

  /// Half-configured users and CA data that is not a certificate are named by their field,
  /// before any request (curl's own words named neither).
  @Test func halfConfiguredCredentialsAreNamed() async throws {
    let server = try await KubeAPIServer(nodes: "docker-short")
    defer { Task { await server.stop() } }
    let noKey = try server.kubeconfig(
      "nokey.yaml", user: "    client-certificate: pki/admin-ec.pem\n")
    let missing = await kubeError { _ = try await nodes(noKey) }
    #expect(
      missing?.description.hasPrefix(
        "kubeconfig user 'u1': it has a client-certificate but no client-key") == true)

    let notPEM = try server.kubeconfig(
      "notpem.yaml",
      cluster: "    server: \(server.server)\n    certificate-authority-data: bm90IGEgY2VydA==\n",
      user: "    token: admin-token\n")
    let ca = await kubeError { _ = try await nodes(notPEM) }
    #expect(
      ca?.description.contains("certificate-authority-data (inline): it holds no PEM certificate")
        == true)
    #expect(server.requests().isEmpty)
  }

  /// A server without a scheme is https when the cluster has TLS settings (client-go's
  /// rule), so `server: 127.0.0.1:6443` with a CA works instead of speaking HTTP to TLS.
  @Test func aServerWithoutSchemeIsHTTPSWithTLSSettings() async throws {
    let server = try await KubeAPIServer(nodes: "docker-short")
    defer { Task { await server.stop() } }
    let path = try server.kubeconfig(
      "noscheme.yaml",
      cluster: "    server: 127.0.0.1:\(server.port)\n    certificate-authority: pki/ca.pem\n",
      user: "    token: admin-token\n")
    #expect(try await nodes(path).count == 2)
  }

  /// A dead proxy-url is named in the error, not only the API server behind it.
  @Test func aDeadProxyIsNamed() async throws {
    let server = try await KubeAPIServer(nodes: "docker-short")
    defer { Task { await server.stop() } }
    let path = try server.kubeconfig(
      "proxy.yaml",
      cluster: "    server: \(server.server)\n    certificate-authority: pki/ca.pem\n"
        + "    proxy-url: http://127.0.0.1:1\n", user: "    token: admin-token\n")
    let error = await kubeError { _ = try await nodes(path) }
    #expect(error?.description.contains("through proxy-url http://127.0.0.1:1") == true)
    #expect(
      error?.description.contains("check that the cluster is up and the kubeconfig's proxy-url")
        == true)
  }

  /// An empty kubeconfig and one that is a YAML list say so, not a decoder's words.
  @Test func emptyAndNonMappingKubeconfigsSaySo() throws {
    let dir = try TemporaryDirectory(prefix: "kk-kubeconfig-odd")
    defer { dir.remove() }
    let empty = dir.path + "/empty"
    try "# nothing yet\n\n".write(toFile: empty, atomically: true, encoding: .utf8)
    #expect(throws: KubeError.kubeconfigInvalid(path: empty, reason: "the file is empty")) {
      _ = try Kubeconfig.load(paths: [empty])
    }
    let list = dir.path + "/list"
    try "- a\n- b\n".write(toFile: list, atomically: true, encoding: .utf8)
    let error = #expect(throws: KubeError.self) { _ = try Kubeconfig.load(paths: [list]) }
    #expect(error?.description.contains("it is not a YAML mapping") == true)
    let twice = dir.path + "/twice"
    try "users:\n- name: u\n  user: {token: a}\n  user: {token: b}\n".write(
      toFile: twice, atomically: true, encoding: .utf8)
    let duplicate = #expect(throws: KubeError.self) { _ = try Kubeconfig.load(paths: [twice]) }
    #expect(
      duplicate?.description.contains("the key 'user' appears twice in one mapping") == true,
      "\(String(describing: duplicate))")
  }
}
