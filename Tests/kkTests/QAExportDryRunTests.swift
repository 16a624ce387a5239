import Foundation
import TestSupport
import Testing

/// `kk artifact export --dry-run` (offline: no registry, no download) and KKZONE=cn: the
/// export used to ignore KKZONE (its catalog had the default zone) and had no --dry-run.
@Suite(.serialized) struct QAExportDryRunTests {
  static let manifest = """
    apiVersion: kubekey.kubesphere.io/v1alpha2
    kind: Manifest
    metadata: {name: qa}
    spec:
      arches: [amd64]
      kubernetesDistributions:
      - {type: kubernetes, version: v1.23.17}
      components:
        helm: {version: v3.18.5}
      images:
      - docker.io/kubesphere/pause:3.6

    """

  @Test func dryRunListsFilesAndImagesAndHonoursKKZONE() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-qa-dryrun")
    defer { dir.remove() }
    let path = dir.path + "/m.yaml"
    try Self.manifest.write(toFile: path, atomically: true, encoding: .utf8)
    let cache = dir.path + "/cache"
    let output = dir.path + "/a.tar.gz"
    let plain = try await KKBinary.run(
      ["artifact", "export", "--dry-run", "-m", path, "-o", output, "--cache-dir", cache],
      environment: ["KKZONE": ""])
    #expect(plain.exitCode == 0, "\(plain)")
    #expect(plain.stdout.contains("https://dl.k8s.io/release/v1.23.17/bin/linux/amd64/kubeadm"))
    #expect(plain.stdout.contains("kube/v1.23.17/amd64/kubeadm"))
    #expect(plain.stdout.contains("docker.io/kubesphere/pause:3.6"))

    let cn = try await KKBinary.run(
      ["artifact", "export", "--dry-run", "-m", path, "-o", output, "--cache-dir", cache],
      environment: ["KKZONE": "cn"])
    #expect(cn.exitCode == 0, "\(cn)")
    #expect(
      cn.stdout.contains(
        "https://kubernetes-release.pek3b.qingstor.com/release/v1.23.17/bin/linux/amd64/kubeadm"),
      "\(cn.stdout)")
    #expect(!cn.stdout.contains("https://dl.k8s.io/"), "\(cn.stdout)")
    // Nothing was written: no artifact, no cache.
    #expect(!FileManager.default.fileExists(atPath: output))
    #expect(!FileManager.default.fileExists(atPath: cache))
  }
}
