import Foundation
import OCI
import Testing

@testable import Artifact
@testable import TestSupport

/// The nodes of the cluster a kubeconfig file names, read the way `kk create manifest` does.
func listNodes(
  kubeconfig path: String, context: String? = nil, environment: [String: String] = [:],
  pool: TransferPool
) async throws -> [KubeNode] {
  let config = try Kubeconfig.load(paths: [path])
  let connection = try KubeConnection.resolve(config, context: context, environment: environment)
  return try await KubeClient(connection: connection, pool: pool).listNodes()
}

/// The `KubeError` `body` threw, nil when it threw none; any other error is a test failure.
func caughtKubeError(_ body: () async throws -> Void) async -> KubeError? {
  do {
    try await body()
    return nil
  } catch let error as KubeError {
    return error
  } catch {
    Issue.record("unexpected \(error)")
    return nil
  }
}

/// testdata/fixtures/kube-apiserver.py on a free port: HTTPS with the test CA, serving one
/// of the node lists under testdata/kube/, with its PKI and request log in `scratch`.
final class KubeAPIServer: @unchecked Sendable {
  let scratch: TemporaryDirectory
  let logPath: String
  let port: Int
  private let process: GuardedProcess

  /// The CONNECT proxy's port when started with `proxy: true`.
  private(set) var proxyPort: Int?

  /// `extra`: further kube-apiserver.py flags (`--continue-mode same`, `--kind Table`).
  init(nodes: String, pageSize: Int? = nil, proxy: Bool = false, extra: [String] = [])
    async throws
  {
    scratch = try TemporaryDirectory(prefix: "kk-kubeapi")
    logPath = scratch.path + "/apiserver.log"
    var command = [
      TestPaths.python, TestPaths.fixture("kube-apiserver.py"), scratch.path + "/pki",
      TestPaths.testdata + "/kube/\(nodes).json",
    ]
    if let pageSize { command += ["--page-size", String(pageSize)] }
    if proxy { command.append("--proxy") }
    command += extra
    process = try GuardedProcess(name: "kube-apiserver", command: command, logPath: logPath)
    do {
      port = try await loggedNumber(process, logPath: logPath)
      proxyPort = proxy ? try await loggedNumber(process, logPath: logPath, prefix: "PROXY ") : nil
    } catch {
      await process.stop()
      throw error
    }
  }

  var server: String { "https://127.0.0.1:\(port)" }
  var pki: String { scratch.path + "/pki" }

  /// Logged request lines (`REQ <path> user=<user>`).
  func requests() -> [String] { logLines("REQ ") }

  /// Logged lines starting with `prefix` (`CONNECT ` for proxy tunnels).
  func logLines(_ prefix: String) -> [String] {
    let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    return log.split(separator: "\n").filter { $0.hasPrefix(prefix) }.map(String.init)
  }

  /// Writes a one-context kubeconfig into the scratch dir and returns its path.
  /// `cluster` and `user` are the YAML bodies (indented 4) of the cluster and user.
  func kubeconfig(
    _ file: String, cluster: String? = nil, user: String, context: String = "test",
    current: String? = "test"
  ) throws -> String {
    let clusterBody = cluster ?? "    server: \(server)\n    certificate-authority: pki/ca.pem\n"
    var text = """
      apiVersion: v1
      kind: Config
      clusters:
      - name: c1
        cluster:
      \(clusterBody)users:
      - name: u1
        user:
      \(user)contexts:
      - name: \(context)
        context:
          cluster: c1
          user: u1

      """
    if let current { text += "current-context: \(current)\n" }
    let path = scratch.path + "/" + file
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  func stop() async {
    await process.stop()
    scratch.remove()
  }
}
