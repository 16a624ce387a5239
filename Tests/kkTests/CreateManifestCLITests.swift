import Foundation
import Testing

@testable import TestSupport

/// `kk create manifest` as a user runs it, against testdata/fixtures/kube-apiserver.py.
@Suite("kk create manifest CLI", .serialized)
struct CreateManifestCLITests {
  /// Starts the stand-in API server on `nodes` and writes a kubeconfig with bearer `token`.
  func withServer(
    nodes: String, token: String, _ body: (String, TemporaryDirectory) async throws -> Void
  ) async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-create-cli")
    defer { scratch.remove() }
    let log = scratch.path + "/apiserver.log"
    let process = try GuardedProcess(
      name: "kube-apiserver",
      command: [
        TestPaths.python, TestPaths.fixture("kube-apiserver.py"), scratch.path + "/pki",
        TestPaths.testdata + "/kube/\(nodes).json",
      ], logPath: log)
    let port: Int
    do {
      port = try await loggedNumber(process, logPath: log)
    } catch {
      await process.stop()
      throw error
    }
    let kubeconfig = scratch.path + "/config"
    try """
    apiVersion: v1
    kind: Config
    current-context: test
    clusters:
    - name: c1
      cluster:
        server: https://127.0.0.1:\(port)
        certificate-authority: pki/ca.pem
    users:
    - name: u1
      user:
        token: \(token)
    contexts:
    - name: test
      context: {cluster: c1, user: u1}

    """.write(toFile: kubeconfig, atomically: true, encoding: .utf8)
    do {
      try await body(kubeconfig, scratch)
    } catch {
      await process.stop()
      throw error
    }
    await process.stop()
  }

  /// Runs kk in `directory` (the default output goes to the working directory).
  func kk(in directory: String, _ arguments: [String], environment: [String: String] = [:])
    async throws -> ProcessOutput
  {
    let quoted = ([KKBinary.path] + arguments).map { "'\($0)'" }.joined(separator: " ")
    return try await ProcessRunner.run(
      "/bin/sh", ["-c", "cd '\(directory)' && exec \(quoted)"], environment: environment,
      timeout: .seconds(120))
  }

  @Test func liveClusterWritesDefaultFileOnceThenNeedsForce() async throws {
    try await withServer(nodes: "k3s", token: "admin-token") { kubeconfig, scratch in
      let out = scratch.path + "/out"
      try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
      let first = try await kk(in: out, ["create", "manifest", "--kubeconfig", kubeconfig])
      #expect(first.exitCode == 0, "\(first)")
      #expect(first.stdout.contains("read 2 nodes"))
      #expect(first.stderr.contains("kk: warning: node k3s-server: containerd://1.7.11-k3s2"))
      let text = try String(contentsOfFile: out + "/manifest-sample.yaml", encoding: .utf8)
      #expect(text.contains("  - type: k3s\n    version: v1.28.5\n"))
      #expect(text.contains("- docker.io/rancher/mirrored-coredns-coredns:1.10.1"))
      #expect(text.contains("    # docker-registry:"))

      let again = try await kk(in: out, ["create", "manifest", "--kubeconfig", kubeconfig])
      #expect(again.exitCode == 1)
      #expect(again.stderr.contains("manifest-sample.yaml already exists; pass --force"))
      // KUBECONFIG is honoured too, and --force replaces the file.
      let forced = try await kk(
        in: out, ["create", "manifest", "--force", "--name", "sample"],
        environment: ["KUBECONFIG": kubeconfig])
      #expect(forced.exitCode == 0, "\(forced)")
    }
  }

  /// A Windows node (its images have no Linux platform), a distribution-packaged containerd
  /// (`1.7.2-0ubuntu1~22.04.1`, which used to fail the whole command as "a kk defect") and a
  /// bare image ID among the names: the manifest describes the Linux part, with warnings.
  @Test func windowsNodesDistributionRuntimesAndImageIDs() async throws {
    try await withServer(nodes: "windows-ubuntu", token: "admin-token") { kubeconfig, scratch in
      let result = try await kk(
        in: scratch.path, ["create", "manifest", "--kubeconfig", kubeconfig, "-f", "m.yaml"])
      #expect(result.exitCode == 0, "\(result)")
      #expect(
        result.stderr.contains(
          "kk: warning: node win-1 runs windows; KubeKey installs Linux nodes only"))
      #expect(
        result.stderr.contains(
          "node cp-1: containerd://1.7.2-0ubuntu1~22.04.1 is a distribution build; listed as containerd 1.7.2"
        ))
      let text = try String(contentsOfFile: scratch.path + "/m.yaml", encoding: .utf8)
      #expect(text.contains("  - type: kubernetes\n    version: v1.28.5\n"), "\(text)")
      #expect(text.contains("version: 1.7.2\n"))
      #expect(!text.contains("1.6.21"))
      #expect(text.contains("- registry.k8s.io/pause:3.9\n"))
      #expect(!text.contains("nanoserver"))
      #expect(!text.contains("library/sha256"))
      // What it wrote, export accepts.
      let plan = try await kk(
        in: scratch.path, ["artifact", "export", "-m", "m.yaml", "--dry-run"])
      #expect(plan.exitCode == 0, "\(plan)")
    }
  }

  /// A cluster without nodes is one clear error, and no file.
  @Test func aClusterWithoutNodesIsOneClearError() async throws {
    try await withServer(nodes: "empty", token: "admin-token") { kubeconfig, scratch in
      let result = try await kk(
        in: scratch.path, ["create", "manifest", "--kubeconfig", kubeconfig, "-f", "m.yaml"])
      #expect(result.exitCode == 1)
      let lines = result.stderr.split(separator: "\n")
      #expect(lines.count == 1, "\(result.stderr)")
      #expect(lines.first?.hasPrefix("kk: error: the cluster at https://127.0.0.1:") == true)
      #expect(lines.first?.contains("has no nodes; nothing to describe") == true)
      #expect(!FileManager.default.fileExists(atPath: scratch.path + "/m.yaml"))
    }
  }

  @Test func forbiddenIsOneLine() async throws {
    try await withServer(nodes: "mixed-containerd", token: "viewer-token") { kubeconfig, scratch in
      let result = try await kk(
        in: scratch.path, ["create", "manifest", "--kubeconfig", kubeconfig, "-f", "x.yaml"])
      #expect(result.exitCode == 1)
      let lines = result.stderr.split(separator: "\n")
      #expect(lines.count == 1, "\(result.stderr)")
      #expect(lines.first?.hasPrefix("kk: error: user 'u1' may not list nodes") == true)
      #expect(!FileManager.default.fileExists(atPath: scratch.path + "/x.yaml"))
    }
  }

  @Test func plannedClusterInCNZone() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-create-plan")
    defer { scratch.remove() }
    let result = try await kk(
      in: scratch.path,
      [
        "create", "manifest", "--with-kubernetes", "v1.24.17,v1.99.0", "--arch", "amd64,aarch64",
        "--name", "plan",
      ], environment: ["KKZONE": "cn"])
    #expect(result.exitCode == 0, "\(result)")
    #expect(
      result.stderr.contains(
        "kubeadm v1.99.0 (amd64, arm64) is not in the built-in checksum table; export will check it against the upstream .sha256 file"
      )
    )
    #expect(!result.stderr.contains("v1.24.17"))
    let text = try String(contentsOfFile: scratch.path + "/manifest-plan.yaml", encoding: .utf8)
    #expect(text.contains("  - amd64\n  - arm64\n"))
    #expect(text.contains("- registry.cn-beijing.aliyuncs.com/kubesphereio/pause:3.7"))
    #expect(
      text.contains("- registry.cn-beijing.aliyuncs.com/kubesphereio/kube-apiserver:v1.24.17"))
    #expect(!text.contains("docker.io/"))

    let bad = try await kk(in: scratch.path, ["create", "manifest", "--with-kubernetes", "latest"])
    #expect(bad.exitCode == 1)
    #expect(bad.stderr.contains("'latest' is not a Kubernetes version"))
  }
}
