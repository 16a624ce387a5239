import Foundation
import TestSupport
import Testing

/// `kk artifact export --dry-run`: the plan an operator reviews before a long export, with
/// the zone and mirror choices applied, and nothing fetched or written.
@Suite struct ExportDryRunCLITests {
  static let manifest = """
    apiVersion: kubekey.kubesphere.io/v1alpha2
    kind: Manifest
    metadata:
      name: dry
    spec:
      arches: [amd64, arm64]
      kubernetesDistributions:
      - type: kubernetes
        version: v1.23.17
      components:
        helm: {version: v3.18.5}
        containerRuntimes:
        - {type: containerd, version: 1.7.13}
      images:
      - calico/cni:v3.27.4
      - registry.k8s.io/pause:3.9

    """

  func withManifest(
    _ text: String, _ body: (_ directory: String, _ path: String) async throws -> Void
  ) async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-dry-run")
    defer { scratch.remove() }
    let path = scratch.path + "/manifest.yaml"
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    try await body(scratch.path, path)
  }

  @Test func printsEveryFileAndImageAndWritesNothing() async throws {
    try await withManifest(Self.manifest) { directory, path in
      let output = directory + "/out.tar.gz"
      let result = try await KKBinary.run(
        [
          "artifact", "export", "-m", path, "-o", output, "--dry-run", "--cache-dir",
          directory + "/cache",
        ],
        environment: ["KKZONE": "", "KK_DOWNLOAD_MIRROR": ""])
      #expect(result.exitCode == 0, "\(result)")
      let lines = result.stdout.split(separator: "\n").map(String.init)
      for arch in ["amd64", "arm64"] {
        let kubeadm = "https://dl.k8s.io/release/v1.23.17/bin/linux/\(arch)/kubeadm"
        #expect(
          lines.contains {
            $0.hasPrefix(kubeadm + "  table sha256:")
              && $0.hasSuffix("kube/v1.23.17/\(arch)/kubeadm")
          },
          "\(arch) kubeadm from the embedded table: \(result.stdout)")
        #expect(lines.contains { $0.contains("containerd-1.7.13-linux-\(arch).tar.gz") })
        #expect(lines.contains { $0.contains("runc.\(arch)") })
      }
      #expect(lines.contains("image  docker.io/calico/cni:v3.27.4  linux/amd64, linux/arm64"))
      #expect(lines.contains("image  registry.k8s.io/pause:3.9  linux/amd64, linux/arm64"))
      #expect(!FileManager.default.fileExists(atPath: output))
      #expect(!FileManager.default.fileExists(atPath: output + ".partial"))
      #expect(!FileManager.default.fileExists(atPath: directory + "/cache"), "no cache is made")
    }
  }

  @Test func zoneAndMirrorChooseTheURLs() async throws {
    try await withManifest(Self.manifest) { _, path in
      let cn = try await KKBinary.run(
        ["artifact", "export", "-m", path, "--dry-run"],
        environment: ["KKZONE": "cn", "KK_DOWNLOAD_MIRROR": ""])
      #expect(cn.exitCode == 0, "\(cn)")
      #expect(
        cn.stdout.contains(
          "https://kubernetes-release.pek3b.qingstor.com/release/v1.23.17/bin/linux/amd64/kubeadm"))
      #expect(!cn.stdout.contains("https://dl.k8s.io/"))

      // The flag beats KKZONE and maps the default (non-cn) URL under the mirror.
      let mirrored = try await KKBinary.run(
        [
          "artifact", "export", "-m", path, "--dry-run", "--download-mirror",
          "http://127.0.0.1:9/m",
        ],
        environment: ["KKZONE": "cn"])
      #expect(mirrored.exitCode == 0, "\(mirrored)")
      #expect(
        mirrored.stdout.contains(
          "http://127.0.0.1:9/m/dl.k8s.io/release/v1.23.17/bin/linux/arm64/kubelet"))
      #expect(!mirrored.stdout.contains("qingstor"))
    }
  }

  @Test func aVersionWithNoChecksumIsRefusedNamingTheField() async throws {
    let manifest = Self.manifest.replacingOccurrences(
      of: "{type: containerd, version: 1.7.13}", with: "{type: containerd, version: 1.7.99}")
    try await withManifest(manifest) { _, path in
      let result = try await KKBinary.run(["artifact", "export", "-m", path, "--dry-run"])
      #expect(result.exitCode == 1, "\(result)")
      #expect(
        result.stderr.contains("spec.components.containerRuntimes[0].sha256.amd64"), "\(result)")
      #expect(result.stderr.contains("manifest.yaml:"), "names the file and position: \(result)")
    }
  }
}
