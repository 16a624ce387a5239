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
      // The failing side is the source: its flags, not the destination's or a config's.
      #expect(
        noCA.stderr.contains(
          "pass its CA with --src-cert-dir DIR (a directory with ca.crt, and client.cert/"
            + "client.key for a registry that requires a client certificate), or "
            + "--src-tls-verify=false"), "\(noCA.stderr)")
      #expect(!noCA.stderr.contains("--dest-") && !noCA.stderr.contains("certsPath"))
      let inspectNoCA = try await KKBinary.run(["image", "inspect", source, "--creds", creds])
      #expect(inspectNoCA.stderr.contains("pass its CA with --cert-dir DIR"), "\(inspectNoCA)")

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
      // Malformed values are usage errors too, each naming the flag or argument.
      for (arguments, needle) in [
        (["image", "copy", "--platform", "linux", source, "oci:x:y"], "--platform 'linux'"),
        (["image", "copy", "--platform", "amd64", source, "oci:x:y"], "--platform 'amd64'"),
        (["image", "copy", "--src-creds", "nocolon", source, "oci:x:y"], "--src-creds takes"),
        (["image", "copy", "docker-archive:x.tar", "oci:x:y"], "source "),
        (["image", "inspect", source, "--creds", "nocolon"], "--creds takes USER:PASSWORD"),
      ] {
        let result = try await KKBinary.run(arguments)
        #expect(result.exitCode == 64, "\(arguments): \(result)")
        #expect(result.stderr.hasPrefix("kk: error: "), "\(result.stderr)")
        #expect(result.stderr.contains(needle), "\(arguments): \(result.stderr)")
      }
    }
  }
}
