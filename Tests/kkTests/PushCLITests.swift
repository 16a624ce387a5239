import Foundation
import OCI
import TestSupport
import Testing

/// `kk artifact images push` as a user runs it, against a real docker-registry, with
/// skopeo and containerd as independent checks of what landed.
@Suite(.serialized) struct PushCLITests {
  static func configSample(host: String, dir: String, namespace: String? = nil) throws -> String {
    let path = dir + "/config-sample.yaml"
    var yaml = """
      apiVersion: kubekey.kubesphere.io/v1alpha2
      kind: Cluster
      metadata:
        name: sample
      spec:
        registry:
          privateRegistry: \(host)

      """
    if let namespace { yaml += "    namespaceOverride: \(namespace)\n" }
    yaml += """
          auths:
            "\(host)":
              plainHTTP: true

      """
    try yaml.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  @Test func pushFromConfigThenRepushThenContainerdPulls() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-push-cli")
    defer { scratch.remove() }
    let images = try await TestImages.generate(into: scratch.path + "/layout", images: 2)
    let archive = scratch.path + "/artifact.tgz"
    try await ProcessRunner.checked(
      "tar", ["czf", archive, "-C", images.layout, "--exclude", ".ingest", "."])
    try await withTestRegistry(.plain) { registry in
      let config = try Self.configSample(host: registry.host, dir: scratch.path)

      let dry = try await KKBinary.run(
        ["artifact", "images", "push", "-f", config, "-a", archive, "--dry-run"])
      #expect(dry.exitCode == 0, "\(dry)")
      #expect(
        dry.stdout.contains("docker.io/\(images.refs[0]) -> \(registry.host)/\(images.refs[0])"))

      let first = try await KKBinary.run(["artifact", "image", "push", "-f", config, "-a", archive])
      #expect(first.exitCode == 0, "\(first)")
      #expect(first.stdout.contains("images      2 pushed, 0 failed"), "\(first.stdout)")
      for image in images.images {
        let raw = try await registry.rawManifest(image.ref)
        #expect(SHA256Hasher.digest([UInt8](raw)) == image.digest)
      }

      let remote = try await KKBinary.run(
        ["artifact", "verify", "--remote", "-f", config, "-a", archive])
      #expect(remote.exitCode == 0, "\(remote)")
      #expect(remote.stdout.contains("manifests   6 checked"), "\(remote.stdout)")

      let again = try await KKBinary.run(
        [
          "artifact", "images", "push", "--registry", registry.host, "--dest-tls-verify=false",
          "--images-dir", images.layout,
        ])
      #expect(again.exitCode == 0, "\(again)")
      #expect(again.stdout.contains("sent        0 B (0 bytes)"), "\(again.stdout)")

      if TestContainerd.isAvailable {
        try await withTestContainerd { containerd in
          for image in images.images {
            try await containerd.ctr([
              "images", "pull", "--plain-http", "--all-platforms", "\(registry.host)/\(image.ref)",
            ])
          }
          let names = try await containerd.imageNames()
          for image in images.images { #expect(names.contains("\(registry.host)/\(image.ref)")) }
        }
      }
    }
  }

  @Test func conflictingTargetsAndUsageErrors() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-push-cli")
    defer { scratch.remove() }
    let images = try await TestImages.generate(into: scratch.path + "/layout", images: 2)
    // Both kk-test/app-NN images land on ns/app-NN: different names, no conflict; the same
    // tag under one namespace is refused. Retag the second image's entry to collide.
    let indexPath = images.layout + "/index.json"
    var index = try String(contentsOfFile: indexPath, encoding: .utf8)
    index = index.replacingOccurrences(of: images.refs[1], with: "other/app-00:v1.0.0")
    try index.write(toFile: indexPath, atomically: true, encoding: .utf8)
    let config = try Self.configSample(host: "127.0.0.1:1", dir: scratch.path, namespace: "ns")
    let refused = try await KKBinary.run(
      ["artifact", "images", "push", "-f", config, "--images-dir", images.layout])
    #expect(refused.exitCode == 1, "\(refused)")
    #expect(refused.stderr.contains("127.0.0.1:1/ns/app-00:v1.0.0"), "\(refused.stderr)")

    try await withTestRegistry(.plain) { empty in
      let missing = try await KKBinary.run(
        [
          "artifact", "verify", "--remote", "--registry", empty.host, "--dest-tls-verify=false",
          "-a", images.layout,
        ])
      #expect(missing.exitCode == 1, "\(missing)")
      #expect(missing.stdout.contains("not in the registry"), "\(missing.stdout)")
    }

    let usage = try await KKBinary.run(["artifact", "images", "push", "--registry", "r.local"])
    #expect(usage.exitCode == 64, "\(usage)")
  }

  @Test func corruptLayerExitsOneOrTwoAndNeverLands() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-push-cli")
    defer { scratch.remove() }
    let images = try await TestImages.generate(into: scratch.path + "/layout", images: 2)
    let others = Set(images.images.dropFirst().flatMap { $0.manifests.flatMap(\.layers) })
    let first = try #require(images.images.first)
    let bad = try #require(first.manifests.flatMap(\.layers).first { !others.contains($0) })
    let path = images.layout + "/blobs/sha256/" + bad.encoded
    _ = chmod(path, 0o644)
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    bytes[bytes.count / 2] ^= 0x01
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    let archive = scratch.path + "/artifact.tgz"
    try await ProcessRunner.checked(
      "tar", ["czf", archive, "-C", images.layout, "--exclude", ".ingest", "."])
    try await withTestRegistry(.plain) { registry in
      let target = ["--registry", registry.host, "--dest-tls-verify=false"]
      func status(_ path: String) async throws -> Int {
        try await HTTPProbe.fetch(registry.url(path), method: "GET").status
      }
      let stopped = try await KKBinary.run(
        ["artifact", "images", "push", "--images-dir", images.layout] + target)
      #expect(stopped.exitCode == 1, "\(stopped)")
      #expect(stopped.stderr.contains(bad.description), "\(stopped.stderr)")
      #expect(stopped.stdout.contains("images      0 pushed"), "\(stopped.stdout)")
      #expect(try await status("/v2/\(first.repository)/blobs/\(bad)") == 404)

      let partial = try await KKBinary.run(
        ["artifact", "images", "push", "-a", archive, "--continue-on-error"] + target)
      #expect(partial.exitCode == 2, "\(partial)")
      #expect(partial.stdout.contains("images      1 pushed, 1 failed"), "\(partial.stdout)")
      #expect(partial.stderr.contains(bad.description), "\(partial.stderr)")
      #expect(try await status("/v2/\(first.repository)/blobs/\(bad)") == 404)
      // skopeo as the independent check: the second image is there, the first is not.
      let second = images.images[1]
      let raw = try await registry.rawManifest(second.ref)
      #expect(SHA256Hasher.digest([UInt8](raw)) == second.digest)
      await #expect(throws: (any Error).self) { try await registry.rawManifest(first.ref) }
    }
  }
}
