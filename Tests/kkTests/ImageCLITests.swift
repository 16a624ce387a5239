import Foundation
import OCI
import Testing

@testable import TestSupport

/// `kk image copy` / `kk image inspect` as a user runs them, against the TLS + basic-auth
/// registry: certificate directory, credentials, verification off, and the errors.
@Suite("kk image CLI")
struct ImageCLITests {
  @Test("copy and inspect with --*-cert-dir and --*-creds; clear errors without them")
  func copyAndInspect() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-imagecli")
    defer { scratch.remove() }
    try await withTestRegistry(.tlsBasicAuth) { registry in
      let images = try await TestImages.generate(into: scratch.path + "/gen", preset: .small)
      try await TestImages.push(images, to: registry)
      let image = try #require(images.images.first)
      let creds = try #require(registry.credentials).colonSeparated
      let certs = scratch.path + "/certs.d"
      try FileManager.default.createDirectory(atPath: certs, withIntermediateDirectories: true)
      try FileManager.default.copyItem(
        atPath: try #require(registry.caCertPath), toPath: certs + "/ca.crt")
      let source = "docker://\(registry.host)/\(image.ref)"
      let layout = scratch.path + "/layout"

      let copied = try await KKBinary.run([
        "image", "copy", source, "oci:\(layout):app", "--src-creds", creds, "--src-cert-dir", certs,
      ])
      #expect(copied.exitCode == 0, "\(copied)")
      #expect(copied.stdout.contains(image.digest.description))
      let fromLayout = try await ProcessRunner.checked(
        "skopeo", ["inspect", "--raw", "oci:\(layout):app"])
      #expect(SHA256Hasher.digest(Array(fromLayout.stdoutData)) == image.digest)

      let raw = try await KKBinary.run([
        "image", "inspect", "--raw", source, "--creds", creds, "--cert-dir", certs,
      ])
      #expect(raw.exitCode == 0, "\(raw)")
      #expect(SHA256Hasher.digest(Array(raw.stdoutData)) == image.digest)
      let summary = try await KKBinary.run(["image", "inspect", "oci:\(layout):app"])
      #expect(summary.stdout.contains("linux/amd64"))

      // Back to the registry without the CA: --dest-tls-verify=false skips verification.
      let pushed = try await KKBinary.run([
        "image", "copy", "--platform", "linux/amd64", "oci:\(layout):app",
        "docker://\(registry.host)/kk-cli/amd64:v1", "--dest-creds", creds,
        "--dest-tls-verify=false",
      ])
      #expect(pushed.exitCode == 0, "\(pushed)")
      #expect(pushed.stdout.contains("upstream index \(image.digest)"))

      let noCA = try await KKBinary.run([
        "image", "copy", source, "oci:\(scratch.path)/other:x", "--src-creds", creds,
      ])
      #expect(noCA.exitCode == 1)
      #expect(noCA.stderr.contains("did not verify"))
      #expect(noCA.stderr.contains("cert-dir"))

      let wrong = try await KKBinary.run([
        "image", "copy", source, "oci:\(scratch.path)/other:x", "--src-creds", "kk:wrong",
        "--src-cert-dir", certs,
      ])
      #expect(wrong.exitCode == 1)
      #expect(wrong.stderr.contains("unauthorized"))
      #expect(wrong.stderr.contains(registry.host))

      let missing = try await KKBinary.run([
        "image", "inspect", "docker://\(registry.host)/kk-test/app-00:nope", "--creds", creds,
        "--cert-dir", certs,
      ])
      #expect(missing.exitCode == 1)
      #expect(missing.stderr.contains("manifest unknown: kk-test/app-00:nope does not exist"))

      let usage = try await KKBinary.run([
        "image", "copy", "--all", "--platform", "linux/amd64", source, "oci:\(layout):y",
      ])
      #expect(usage.exitCode == 64)
    }
  }
}
