import Foundation
import OCI
import TestSupport
import Testing

/// The platform rules of `kk artifact export` that keep an offline cluster pullable: every
/// requested arch must be served (also by a single-arch image), and an image pinned by
/// digest keeps that digest through export and push.
@Suite(.serialized) struct ExportPlatformRulesCLITests {
  static func manifest(
    in dir: TemporaryDirectory, registry: TestRegistry, arches: String, images: [String]
  ) throws -> String {
    let lines =
      [
        "apiVersion: kubekey.kubesphere.io/v1alpha2", "kind: Manifest", "metadata:",
        "  name: platform-rules", "spec:", "  arches: \(arches)", "  images:",
      ] + images.map { "  - \(registry.host)/\($0)" }
      + ["  registry:", "    auths:", "      \"\(registry.host)\":", "        plainHTTP: true"]
    let path = dir.path + "/manifest-\(UUID().uuidString.prefix(8)).yaml"
    try lines.joined(separator: "\n").appending("\n").write(
      toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  @Test func singleArchImageMustServeEveryRequestedArch() async throws {
    try await withTestRegistry(.plain) { registry in
      let dir = try TemporaryDirectory(prefix: "kk-platform-rules")
      defer { dir.remove() }
      let generated = try await TestImages.generate(into: dir.path + "/g", seed: "rules", images: 1)
      try await TestImages.push(generated, to: registry)
      let image = try #require(generated.images.first)
      let amd64 = try #require(image.manifests.first { $0.platform.architecture == "amd64" })
      // A single image manifest (no index) under its own tag, as many vendors publish.
      try await ProcessRunner.checked(
        "skopeo",
        ["copy", "--quiet"] + registry.skopeoFlags(.source) + registry.skopeoFlags(.destination)
          + [
            registry.dockerReference("\(image.repository)@\(amd64.digest)"),
            registry.dockerReference("single/app:amd64"),
          ])

      let both = try Self.manifest(
        in: dir, registry: registry, arches: "[amd64, arm64]", images: ["single/app:amd64"])
      let out = dir.path + "/a.tar"
      let refused = try await KKBinary.run(["artifact", "export", "-m", both, "-o", out])
      #expect(refused.exitCode == 1, "\(refused.stderr)")
      #expect(refused.stderr.contains("single/app:amd64"))
      #expect(refused.stderr.contains("linux/arm64"))
      #expect(refused.stderr.contains("--skip-missing-platforms"))
      #expect(!FileManager.default.fileExists(atPath: out))

      let skipped = try await KKBinary.run([
        "artifact", "export", "-m", both, "-o", out, "--skip-missing-platforms",
      ])
      #expect(skipped.exitCode == 0, "\(skipped.stderr)")
      // Says what is kept: "left out" alone read as if the image had been dropped.
      #expect(
        skipped.stderr.contains(
          "kk: warning: \(registry.host)/single/app:amd64 has no manifest for linux/arm64 (it is "
            + "linux/amd64): that platform is left out, the image is kept for linux/amd64\n"),
        "\(skipped.stderr)")

      // An index lacking a requested platform: the same words, the kept platforms listed.
      let index = try Self.manifest(
        in: dir, registry: registry, arches: "[amd64, arm/v7]", images: [image.ref])
      let partial = try await KKBinary.run([
        "artifact", "export", "-m", index, "-o", dir.path + "/c.tar", "--skip-missing-platforms",
      ])
      #expect(partial.exitCode == 0, "\(partial.stderr)")
      #expect(
        partial.stderr.contains(
          "kk: warning: \(registry.host)/\(image.ref) has no manifest for linux/arm/v7: that "
            + "platform is left out, the image is kept for linux/amd64\n"),
        "\(partial.stderr)")

      let amd64Only = try Self.manifest(
        in: dir, registry: registry, arches: "[amd64]", images: ["single/app:amd64"])
      let ok = try await KKBinary.run([
        "artifact", "export", "-m", amd64Only, "-o", dir.path + "/b.tar",
      ])
      #expect(ok.exitCode == 0, "\(ok.stderr)")
    }
  }

  /// "N more image(s) failed to resolve" left the user to find the others one run at a time.
  @Test func theOtherImagesThatFailedToResolveAreNamed() async throws {
    try await withTestRegistry(.plain) { registry in
      let dir = try TemporaryDirectory(prefix: "kk-resolve-failures")
      defer { dir.remove() }
      let manifest = try Self.manifest(
        in: dir, registry: registry, arches: "[amd64]",
        images: ["missing/a:1", "missing/b:1", "missing/c:1"])
      let result = try await KKBinary.run([
        "artifact", "export", "-m", manifest, "-o", dir.path + "/a.tar",
      ])
      #expect(result.exitCode == 1, "\(result)")
      #expect(
        result.stderr.contains(
          "kk: warning: 2 more image(s) failed to resolve: \(registry.host)/missing/b:1, "
            + "\(registry.host)/missing/c:1\n"), "\(result.stderr)")
      #expect(result.stderr.contains("missing/a:1"), "\(result.stderr)")
    }
  }

  @Test func imagePinnedByDigestKeepsItsDigestThroughExportAndPush() async throws {
    try await withTestRegistry(.plain) { upstream in
      try await withTestRegistry(.plain) { target in
        let dir = try TemporaryDirectory(prefix: "kk-pinned")
        defer { dir.remove() }
        let generated = try await TestImages.generate(
          into: dir.path + "/g", seed: "pinned", images: 2)
        try await TestImages.push(generated, to: upstream)
        let pinned = try #require(generated.images.first)
        let tagged = try #require(generated.images.last)
        let manifest = try Self.manifest(
          in: dir, registry: upstream, arches: "[arm64]",
          images: ["\(pinned.repository)@\(pinned.digest)", tagged.ref])
        let out = dir.path + "/pinned.tar.gz"
        let export = try await KKBinary.run(["artifact", "export", "-m", manifest, "-o", out])
        #expect(export.exitCode == 0, "\(export.stderr)")
        #expect(export.stderr.contains("pinned by digest"), "\(export.stderr)")

        let push = try await KKBinary.run([
          "artifact", "images", "push", "-a", out, "--registry", target.host,
          "--dest-tls-verify=false",
        ])
        #expect(push.exitCode == 0, "\(push.stderr)")
        // The pinned digest resolves on the private registry, and its sha256-<hex> tag
        // holds exactly that content.
        let byDigest = try await target.rawManifest("\(pinned.repository)@\(pinned.digest)")
        #expect(SHA256Hasher.digest([UInt8](byDigest)) == pinned.digest)
        let byTag = try await target.rawManifest(
          "\(pinned.repository):sha256-\(pinned.digest.encoded)")
        #expect(SHA256Hasher.digest([UInt8](byTag)) == pinned.digest)
        // The tagged image is still filtered to the requested arch (new digest).
        let filtered = try await target.rawManifest(tagged.ref)
        #expect(SHA256Hasher.digest([UInt8](filtered)) != tagged.digest)
        #expect(!String(decoding: filtered, as: UTF8.self).contains("amd64"))
      }
    }
  }
}
