import Foundation
import TestSupport
import Testing

/// Mistakes in where a push goes are named as the user's flag or config, before any
/// artifact or registry is read.
@Suite struct PushTargetCLITests {
  /// A bad `--registry` used to surface as "image reference ... in the artifact is invalid",
  /// blaming the bundle; now it is a usage error naming the flag, on one line.
  @Test(arguments: [
    ("127.0.0.1:5000/MyProj", "the path 'MyProj' must be lower-case"),
    ("127.0.0.1:99999", "has an invalid port '99999'"),
    ("127.0.0.1:5000//x", "the path '/x' must be lower-case"),
    ("http://127.0.0.1:5000", "has a scheme"),
  ])
  func aMalformedRegistryIsAUsageError(_ registry: String, _ needle: String) async throws {
    let result = try await KKBinary.run([
      "artifact", "images", "push", "--registry", registry, "-a", "/nonexistent.tar.gz",
      "--dry-run",
    ])
    #expect(result.exitCode == 64, "\(result)")
    let lines = result.stderr.split(separator: "\n")
    #expect(lines.count == 1, "\(result.stderr)")
    #expect(lines.first?.hasPrefix("kk: error: --registry '\(registry)'") == true, "\(result)")
    #expect(lines.first?.contains(needle) == true, "\(result)")
    #expect(lines.first?.hasSuffix("; see 'kk artifact images push --help'") == true)
  }

  @Test func credentialsWithoutAPasswordAreAUsageError() async throws {
    let result = try await KKBinary.run([
      "artifact", "images", "push", "--registry", "127.0.0.1:5000", "--dest-creds", "admin",
      "-a", "/nonexistent.tar.gz",
    ])
    #expect(result.exitCode == 64, "\(result)")
    #expect(result.stderr.hasPrefix("kk: error: --dest-creds takes USER:PASSWORD"))
  }

  /// `auths` keyed `127.0.0.1` for a registry at `127.0.0.1:5000` is not used; the TLS or
  /// 401 error that follows would name settings the user did write. A warning says so.
  @Test func anAuthsEntryThatMatchesNoRegistryIsWarnedAbout() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-push-auths")
    defer { scratch.remove() }
    let images = try await TestImages.generate(into: scratch.path + "/layout", images: 1)
    let config = scratch.path + "/config-sample.yaml"
    try """
    apiVersion: kubekey.kubesphere.io/v1alpha2
    kind: Cluster
    metadata: {name: sample}
    spec:
      registry:
        privateRegistry: 127.0.0.1:5000/proj
        auths:
          "127.0.0.1": {plainHTTP: true}

    """.write(toFile: config, atomically: true, encoding: .utf8)
    let result = try await KKBinary.run([
      "artifact", "images", "push", "-f", config, "--images-dir", images.layout, "--dry-run",
    ])
    #expect(result.exitCode == 0, "\(result)")
    #expect(
      result.stderr.contains(
        "kk: warning: \(config): spec.registry.auths has no entry for 127.0.0.1:5000 (it has \"127.0.0.1\")"
      ), "\(result.stderr)")
  }

  /// `-a` given an unpacked layout directory points at `--images-dir`.
  @Test func anArtifactThatIsADirectoryPointsAtImagesDir() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-push-adir")
    defer { scratch.remove() }
    let result = try await KKBinary.run([
      "artifact", "images", "push", "--registry", "127.0.0.1:5000", "-a", scratch.path,
    ])
    #expect(result.exitCode == 1, "\(result)")
    #expect(
      result.stderr.contains(
        "-a \(scratch.path) is a directory, not an artifact file; for an OCI layout directory "
          + "(kk artifact import's DIR/images) use --images-dir \(scratch.path)"), "\(result)")
  }

  /// A plain-HTTP registry reached over TLS: no certificate setting helps, and the message
  /// says to use plain HTTP (it listed certsPath and skipTLSVerify, which the user may have
  /// set already).
  @Test func aPlainHTTPRegistryReachedOverTLSSaysSo() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-push-plain-tls")
    defer { scratch.remove() }
    let images = try await TestImages.generate(into: scratch.path + "/layout", images: 1)
    try await withTestRegistry(.plain) { registry in
      let result = try await KKBinary.run([
        "artifact", "images", "push", "--images-dir", images.layout, "--registry", registry.host,
      ])
      #expect(result.exitCode == 1, "\(result)")
      #expect(result.stderr.contains("it speaks plain HTTP on that port"), "\(result.stderr)")
    }
  }
}
