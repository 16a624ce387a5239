import Foundation
import OCI
import Testing

@testable import Artifact
@testable import TestSupport

/// Reads a cluster through kubeconfigs against the HTTPS stand-in API server.
@Suite("Kube client against kube-apiserver.py", .serialized)
struct KubeClientTests {
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

  @Test func clientCertificatesECFilesAndRSAData() async throws {
    let server = try await KubeAPIServer(nodes: "mixed-containerd")
    defer { Task { await server.stop() } }
    // Relative paths resolve against the kubeconfig's directory.
    let ec = try server.kubeconfig(
      "ec.yaml",
      user: "    client-certificate: pki/admin-ec.pem\n    client-key: pki/admin-ec-key.pem\n")
    let list = try await nodes(ec)
    #expect(list.map(\.name) == ["master-1", "worker-1", "worker-arm"])
    let inventory = ClusterInventory(nodes: list)
    #expect(inventory.arches == [.amd64, .arm64])

    func b64(_ file: String) throws -> String {
      try Data(contentsOf: URL(fileURLWithPath: server.pki + "/" + file)).base64EncodedString()
    }
    let rsa = try server.kubeconfig(
      "rsa.yaml",
      cluster:
        "    server: \(server.server)\n    certificate-authority-data: \(try b64("ca.pem"))\n",
      user: "    client-certificate-data: \(try b64("admin-rsa.pem"))\n"
        + "    client-key-data: \(try b64("admin-rsa-key.pem"))\n")
    #expect(try await nodes(rsa).count == 3)
    #expect(server.requests().allSatisfy { $0.hasSuffix("user=admin") })
  }

  @Test func bearerTokenPagedList() async throws {
    let server = try await KubeAPIServer(nodes: "paged", pageSize: 3)
    defer { Task { await server.stop() } }
    let path = try server.kubeconfig("token.yaml", user: "    token: admin-token\n")
    let list = try await nodes(path)
    #expect(list.map(\.name) == (0..<7).map { String(format: "pg-%02d", $0) })
    let requests = server.requests()
    #expect(requests.count == 3)
    #expect(requests.first?.contains("limit=500") == true)
    #expect(requests.dropFirst().allSatisfy { $0.contains("continue=") })

    try "admin-token\n".write(
      toFile: server.scratch.path + "/tok", atomically: true, encoding: .utf8)
    let file = try server.kubeconfig("tokenfile.yaml", user: "    tokenFile: tok\n")
    #expect(try await nodes(file).count == 7)
    let basic = try server.kubeconfig(
      "basic.yaml", user: "    username: admin\n    password: secret\n")
    #expect(try await nodes(basic).count == 7)
  }

  @Test func execCredentialPlugin() async throws {
    let server = try await KubeAPIServer(nodes: "k3s")
    defer { Task { await server.stop() } }
    let script = server.scratch.path + "/bin/get-token"
    try FileManager.default.createDirectory(
      atPath: server.scratch.path + "/bin", withIntermediateDirectories: true)
    try """
    #!/bin/sh
    printf '%s' "$KUBERNETES_EXEC_INFO" > "$(dirname "$0")/exec-info.json"
    echo "$1 $PLUGIN_MODE" > "$(dirname "$0")/args.txt"
    printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"admin-token"}}'
    """.write(toFile: script, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
    let path = try server.kubeconfig(
      "exec.yaml",
      user: """
            exec:
              apiVersion: client.authentication.k8s.io/v1
              command: ./bin/get-token
              args: [--cluster-x]
              env:
              - name: PLUGIN_MODE
                value: test
              provideClusterInfo: true

        """)
    #expect(try await nodes(path).count == 2)
    let info = try String(
      contentsOfFile: server.scratch.path + "/bin/exec-info.json", encoding: .utf8)
    #expect(info.contains("\"kind\":\"ExecCredential\""))
    #expect(info.contains(server.server))
    let args = try String(contentsOfFile: server.scratch.path + "/bin/args.txt", encoding: .utf8)
    #expect(args == "--cluster-x test\n")

    let missing = try server.kubeconfig(
      "missing.yaml", user: "    exec:\n      command: kk-no-such-credential-helper\n")
    let error = await kubeError { _ = try await nodes(missing) }
    #expect(error == .execNotFound(command: "kk-no-such-credential-helper"))
    #expect(error?.description.contains("was not found") == true)
  }

  /// A plugin answering with a client certificate (EC key), and one whose credential has
  /// already expired.
  @Test func execCredentialCertificateAndExpiry() async throws {
    let server = try await KubeAPIServer(nodes: "mixed-containerd")
    defer { Task { await server.stop() } }
    func pem(_ file: String) throws -> String {
      let text = try String(contentsOfFile: server.pki + "/" + file, encoding: .utf8)
      let data = try JSONSerialization.data(withJSONObject: [text])
      return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
    }
    let credential = """
      {"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential",\
      "status":{"clientCertificateData":\(try pem("admin-ec.pem")),\
      "clientKeyData":\(try pem("admin-ec-key.pem"))}}
      """
    try credential.write(
      toFile: server.scratch.path + "/cert.json", atomically: true, encoding: .utf8)
    let certPlugin = try server.kubeconfig(
      "exec-cert.yaml",
      user: "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
        + "      command: /bin/cat\n      args: [\(server.scratch.path)/cert.json]\n")
    let connection = try KubeConnection.resolve(try Kubeconfig.load(paths: [certPlugin]))
    #expect(connection.credential == .clientCertificate)
    #expect(try await nodes(certPlugin).count == 3)
    #expect(server.requests().last?.hasSuffix("user=admin") == true)

    try """
    {"kind":"ExecCredential","status":{"token":"admin-token","expirationTimestamp":"2020-01-01T00:00:00Z"}}
    """.write(toFile: server.scratch.path + "/old.json", atomically: true, encoding: .utf8)
    let expired = try server.kubeconfig(
      "exec-old.yaml",
      user: "    exec:\n      command: /bin/cat\n      args: [\(server.scratch.path)/old.json]\n")
    let error = await kubeError { _ = try await nodes(expired) }
    #expect(error == .execExpired(command: "/bin/cat", expiry: "2020-01-01T00:00:00Z"))

    let failing = try server.kubeconfig(
      "exec-fail.yaml",
      user:
        "    exec:\n      command: /bin/sh\n      args: [-c, 'echo login required >&2; exit 3']\n")
    let failed = await kubeError { _ = try await nodes(failing) }
    #expect(failed == .execFailed(command: "/bin/sh", status: 3, stderr: "login required"))
  }

  @Test func authFailuresAreOneClearLine() async throws {
    let server = try await KubeAPIServer(nodes: "unknown-os")
    defer { Task { await server.stop() } }
    let stranger = try server.kubeconfig(
      "stranger.yaml",
      user: "    client-certificate: pki/stranger.pem\n    client-key: pki/stranger-key.pem\n")
    let e401 = await kubeError { _ = try await nodes(stranger) }
    #expect(e401?.description.contains("rejected the client certificate of user 'u1'") == true)
    #expect(e401?.description.contains("401") == true)

    let expired = try server.kubeconfig("expired.yaml", user: "    token: expired-token\n")
    let eToken = await kubeError { _ = try await nodes(expired) }
    #expect(eToken?.description.contains("bearer token of user 'u1': it is expired") == true)

    let viewer = try server.kubeconfig("viewer.yaml", user: "    token: viewer-token\n")
    let e403 = await kubeError { _ = try await nodes(viewer) }
    #expect(e403?.description.contains("may not list nodes") == true)
    #expect(e403?.description.contains("verb 'list' on resource 'nodes'") == true)
    #expect(e403?.description.contains("User \"viewer\" cannot list resource \"nodes\"") == true)

    let viewerCert = try server.kubeconfig(
      "viewer-cert.yaml",
      user: "    client-certificate: pki/viewer.pem\n    client-key: pki/viewer-key.pem\n")
    let e403b = await kubeError { _ = try await nodes(viewerCert) }
    if case .forbidden = e403b {
    } else {
      Issue.record("expected forbidden, got \(String(describing: e403b))")
    }
  }

  @Test func tlsAndConnectionFailures() async throws {
    let server = try await KubeAPIServer(nodes: "docker-short")
    defer { Task { await server.stop() } }
    let user = "    token: admin-token\n"
    let goodName = try server.kubeconfig(
      "sni.yaml",
      cluster: "    server: \(server.server)\n    certificate-authority: pki/ca.pem\n"
        + "    tls-server-name: localhost\n", user: user)
    #expect(try await nodes(goodName).count == 2)

    let badName = try server.kubeconfig(
      "badname.yaml",
      cluster: "    server: \(server.server)\n    certificate-authority: pki/ca.pem\n"
        + "    tls-server-name: api.example.invalid\n", user: user)
    let mismatch = await kubeError { _ = try await nodes(badName) }
    guard case .tlsNameMismatch(_, let name, _) = mismatch else {
      Issue.record("expected a name mismatch, got \(String(describing: mismatch))")
      return
    }
    #expect(name == "api.example.invalid")

    let noCA = try server.kubeconfig(
      "noca.yaml",
      cluster: "    server: \(server.server)\n    certificate-authority: pki/stranger-ca.pem\n",
      user: user)
    let untrusted = await kubeError { _ = try await nodes(noCA) }
    if case .tlsUntrusted = untrusted {
    } else {
      Issue.record("expected untrusted, got \(String(describing: untrusted))")
    }
    let insecure = try server.kubeconfig(
      "insecure.yaml",
      cluster: "    server: \(server.server)\n    insecure-skip-tls-verify: true\n",
      user: user)
    #expect(try await nodes(insecure).count == 2)

    let closed = try server.kubeconfig(
      "closed.yaml",
      cluster: "    server: https://127.0.0.1:1\n    certificate-authority: pki/ca.pem\n",
      user: user)
    let unreachable = await kubeError { _ = try await nodes(closed) }
    #expect(
      unreachable?.description.hasPrefix("cannot reach the Kubernetes API at https://127.0.0.1:1")
        == true)
  }

  /// `proxy-url`: the request tunnels through the proxy, TLS still checks the API server.
  @Test func proxyURL() async throws {
    let server = try await KubeAPIServer(nodes: "docker-short", proxy: true)
    defer { Task { await server.stop() } }
    let proxyPort = try #require(server.proxyPort)
    let path = try server.kubeconfig(
      "proxy.yaml",
      cluster: "    server: \(server.server)\n    certificate-authority: pki/ca.pem\n"
        + "    proxy-url: http://127.0.0.1:\(proxyPort)\n", user: "    token: admin-token\n")
    #expect(try await nodes(path).count == 2)
    #expect(server.logLines("CONNECT ") == ["CONNECT 127.0.0.1:\(server.port)"])
  }

  @Test func kubeconfigContextsAndMerge() throws {
    let dir = try TemporaryDirectory(prefix: "kk-kubeconfig")
    defer { dir.remove() }
    let first = dir.path + "/a.yaml"
    let second = dir.path + "/b.yaml"
    try """
    clusters:
    - name: shared
      cluster: {server: "https://first:6443"}
    users:
    - name: me
      user: {token: first-token}
    contexts:
    - name: one
      context: {cluster: shared, user: me}

    """.write(toFile: first, atomically: true, encoding: .utf8)
    try """
    current-context: two
    clusters:
    - name: shared
      cluster: {server: "https://second:6443"}
    - name: other
      cluster: {server: "https://other:6443", certificate-authority: certs/ca.pem}
    users:
    - name: me
      user: {token: second-token}
    contexts:
    - name: two
      context: {cluster: other, user: me}

    """.write(toFile: second, atomically: true, encoding: .utf8)
    let paths = Kubeconfig.paths(explicit: nil, environment: ["KUBECONFIG": "\(first)::\(second)"])
    #expect(paths == [first, second])
    let merged = try Kubeconfig.load(paths: paths)
    #expect(merged.currentContext == "two")
    #expect(merged.clusters["shared"]?.value.server == "https://first:6443")
    // The CA of `other` is relative to b.yaml's directory; it does not exist.
    #expect(
      throws: KubeError.credentialFile(
        field: "certificate-authority", path: dir.path + "/certs/ca.pem", reason: "no such file")
    ) {
      _ = try KubeConnection.resolve(merged)
    }
    let one = try KubeConnection.resolve(merged, context: "one")
    #expect(one.server == "https://first:6443")
    #expect(one.credential == .bearer("first-token"))
    #expect(throws: KubeError.contextNotFound(name: "nope", available: ["one", "two"])) {
      _ = try KubeConnection.resolve(merged, context: "nope")
    }
    let onlyFirst = try Kubeconfig.load(paths: [first])
    #expect(throws: KubeError.noCurrentContext(files: [first])) {
      _ = try KubeConnection.resolve(onlyFirst)
    }
    #expect(
      Kubeconfig.paths(explicit: nil, environment: ["HOME": "/home/x"]) == ["/home/x/.kube/config"])
    #expect(throws: KubeError.kubeconfigNotFound(path: dir.path + "/none")) {
      _ = try Kubeconfig.load(paths: [dir.path + "/none"])
    }
  }
}
