import Foundation
import TestSupport
import Testing

/// `--strict` turns model warnings into errors on the command line, so that a CI job fails on
/// a misspelt field instead of exporting (or pushing with) less than the file says.
@Suite struct StrictFlagCLITests {
  static let manifestWithTypo = """
    apiVersion: kubekey.kubesphere.io/v1alpha2
    kind: Manifest
    metadata:
      name: typo
    spec:
      arches: [amd64]
      imgaes:
      - docker.io/calico/cni:v3.23.2
      images:
      - docker.io/calico/node:v3.23.2

    """

  @Test func exportStrictRefusesAnUnknownFieldBeforeAnyDownload() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-strict")
    defer { dir.remove() }
    let manifest = dir.path + "/manifest.yaml"
    try Self.manifestWithTypo.write(toFile: manifest, atomically: true, encoding: .utf8)
    let output = dir.path + "/out.tar.gz"

    let strict = try await KKBinary.run([
      "artifact", "export", "-m", manifest, "-o", output, "--strict", "--no-cache",
    ])
    #expect(strict.exitCode == 1, "\(strict)")
    #expect(strict.stderr.contains("manifest.yaml:7:3"), "\(strict.stderr)")
    #expect(strict.stderr.contains("imgaes"), "\(strict.stderr)")
    #expect(!FileManager.default.fileExists(atPath: output))

    // Without --strict the same file is only warned about (the dry run fetches nothing).
    let lenient = try await KKBinary.run([
      "artifact", "export", "-m", manifest, "--dry-run",
    ])
    #expect(lenient.exitCode == 0, "\(lenient)")
    #expect(lenient.stderr.contains("warning"), "\(lenient.stderr)")
    #expect(lenient.stderr.contains("imgaes"), "\(lenient.stderr)")
  }

  @Test func pushStrictRefusesAConfigWarningAndLenientPrintsIt() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-strict-push")
    defer { dir.remove() }
    let config = dir.path + "/cluster.yaml"
    try """
    apiVersion: kubekey.kubesphere.io/v1alpha2
    kind: Cluster
    metadata:
      name: typo
    spec:
      registry:
        privateRegistry: dockerhub.kubekey.local
        auths:
          "dockerhub.kubekey.local":
            username: admin
            pasword: Harbor12345

    """.write(toFile: config, atomically: true, encoding: .utf8)
    let arguments = [
      "artifact", "images", "push", "-f", config, "--images-dir", dir.path, "--dry-run",
    ]
    let strict = try await KKBinary.run(arguments + ["--strict"])
    #expect(strict.exitCode == 1, "\(strict)")
    #expect(strict.stderr.contains("cluster.yaml:11:9"), "\(strict.stderr)")
    #expect(strict.stderr.contains("pasword"), "\(strict.stderr)")
    let lenient = try await KKBinary.run(arguments)
    #expect(lenient.stderr.contains("warning"), "\(lenient.stderr)")
    #expect(lenient.stderr.contains("pasword"), "\(lenient.stderr)")
  }
}

/// An error listing several problems gives one `kk: error:` line per problem (the second
/// and later lines came without the prefix, so `grep 'kk: error:'` missed them).
@Suite struct ErrorLinesCLITests {
  @Test func everyProblemOfAManifestIsItsOwnErrorLine() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-error-lines")
    defer { dir.remove() }
    let manifest = dir.path + "/m.yaml"
    try """
    apiVersion: kubekey.kubesphere.io/v1alpha2
    kind: Manifest
    metadata: {name: x}
    spec:
      arches: [amd64]
      imgaes: [a]
      images: [b/c:1, b/c:1]

    """.write(toFile: manifest, atomically: true, encoding: .utf8)
    let result = try await KKBinary.run([
      "artifact", "export", "-m", manifest, "--strict", "--dry-run",
    ])
    #expect(result.exitCode == 1, "\(result)")
    let lines = result.stderr.split(separator: "\n")
    #expect(lines.count == 2, "\(result.stderr)")
    #expect(lines.allSatisfy { $0.hasPrefix("kk: error: \(manifest):") }, "\(result.stderr)")
  }
}
