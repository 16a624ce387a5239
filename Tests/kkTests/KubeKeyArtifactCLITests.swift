import Foundation
import TestSupport
import Testing

/// An artifact written by Go KubeKey 3.x (a tarball of its work dir: the images an OCI layout
/// under `images/`, binaries under `kube/`...) handed to kk: every command that reads
/// artifacts says what it is and what to do, instead of "no index.json".
@Suite struct KubeKeyArtifactCLITests {
  @Test func everyReaderNamesAGoKubeKeyArtifact() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-kubekey3")
    defer { scratch.remove() }
    let workDir = scratch.path + "/kubekey"
    _ = try await TestImages.generate(into: workDir + "/images", images: 1)
    let binary = workDir + "/kube/v1.23.10/amd64"
    try FileManager.default.createDirectory(atPath: binary, withIntermediateDirectories: true)
    try "kubeadm".write(toFile: binary + "/kubeadm", atomically: true, encoding: .utf8)
    let gzip = scratch.path + "/kubekey-artifact.tar.gz"
    let plain = scratch.path + "/kubekey-artifact.tar"
    try await ProcessRunner.checked("tar", ["czf", gzip, "-C", workDir, "."])
    try await ProcessRunner.checked("tar", ["cf", plain, "-C", workDir, "."])
    for archive in [gzip, plain] {
      let imported = scratch.path + "/imported"
      let runs: [[String]] = [
        ["artifact", "images", "push", "-a", archive, "--registry", "127.0.0.1:1"],
        ["artifact", "verify", "-a", archive],
        ["artifact", "inspect", "-a", archive],
        ["artifact", "import", "-a", archive, "--dir", imported],
      ]
      for arguments in runs {
        let result = try await KKBinary.run(arguments)
        #expect(result.exitCode == 1, "\(result)")
        #expect(
          result.stderr.contains("\(archive) looks like an artifact of Go KubeKey 3.x"),
          "\(arguments[1]): \(result.stderr)")
      }
      #expect(!FileManager.default.fileExists(atPath: imported))
    }
  }

  /// `tar czf x.tgz lay-oci` (the layout in a directory, not at the root) is the likeliest
  /// mistake with a hand-made archive: every reader says where the layout is and how to
  /// re-create the archive, instead of "no index.json".
  @Test func everyReaderNamesALayoutInADirectory() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-nested-layout")
    defer { scratch.remove() }
    _ = try await TestImages.generate(into: scratch.path + "/tree/lay-oci", images: 1)
    let gzip = scratch.path + "/layout.tgz"
    let plain = scratch.path + "/layout.tar"
    try await ProcessRunner.checked("tar", ["czf", gzip, "-C", scratch.path + "/tree", "lay-oci"])
    try await ProcessRunner.checked("tar", ["cf", plain, "-C", scratch.path + "/tree", "lay-oci"])
    for (archive, flags) in [(gzip, "-czf"), (plain, "-cf")] {
      let imported = scratch.path + "/imported"
      for arguments in [
        ["artifact", "images", "push", "-a", archive, "--registry", "127.0.0.1:1"],
        ["artifact", "verify", "-a", archive],
        ["artifact", "inspect", "-a", archive],
        ["artifact", "import", "-a", archive, "--dir", imported],
      ] {
        let result = try await KKBinary.run(arguments)
        #expect(result.exitCode == 1, "\(result)")
        #expect(
          result.stderr.contains(
            "\(archive) holds its OCI layout under 'lay-oci/', not at the archive's root where "
              + "kk reads it: re-create it with `tar -C lay-oci \(flags) \(archive) .`"),
          "\(arguments[1]): \(result.stderr)")
      }
      #expect(!FileManager.default.fileExists(atPath: imported))
    }
  }
}
