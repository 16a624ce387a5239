import Foundation
import OCI
import TestSupport
import Testing

/// Pushes where images share blobs and manifests across or within repositories: a refused
/// repository must not take the others down, and a shared child manifest must be in the
/// registry before any index that names it.
@Suite(.serialized) struct PushSharingCLITests {
  /// Rewrites `layout`'s index.json so that the first image appears under each of `names`
  /// (same descriptor): every blob of it is then shared by as many repositories.
  static func aliasFirstImage(in layout: String, as names: [String]) throws {
    let path = layout + "/index.json"
    var index =
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
      as? [String: Any] ?? [:]
    let first = try #require((index["manifests"] as? [[String: Any]])?.first)
    index["manifests"] = names.map { name -> [String: Any] in
      var entry = first
      entry["annotations"] = ["org.opencontainers.image.ref.name": name]
      return entry
    }
    try JSONSerialization.data(withJSONObject: index).write(to: URL(fileURLWithPath: path))
  }

  @Test func aRefusedRepositoryDoesNotFailImagesOfOtherRepositories() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-push-refused")
    defer { scratch.remove() }
    let images = try await TestImages.generate(into: scratch.path + "/layout", images: 1)
    let image = try #require(images.images.first)
    // `app` (pull only) comes first, so the shared blobs are tried there first.
    try Self.aliasFirstImage(
      in: images.layout, as: ["registry.k8s.io/app:v1", "docker.io/library/app:v1"])
    let policy = TokenPolicy(users: [
      TokenPolicy.User(
        TokenPolicy.admin,
        rules: [
          TokenPolicy.Rule(name: "library/*", actions: ["pull", "push"]),
          TokenPolicy.Rule(name: "*", actions: ["pull"]),
        ])
    ])
    try await withTestRegistry(.token, tokenPolicy: policy) { registry in
      let credentials = try #require(registry.credentials)
      let push = try await KKBinary.run([
        "artifact", "images", "push", "--images-dir", images.layout, "--registry", registry.host,
        "--dest-tls-verify=false", "--dest-creds",
        "\(credentials.username):\(credentials.password)",
        "--continue-on-error",
      ])
      #expect(push.exitCode == 2, "\(push)")
      #expect(push.stdout.contains("1 pushed, 1 failed"), "\(push.stdout)")
      #expect(push.stderr.contains("registry.k8s.io/app:v1"), "\(push.stderr)")
      #expect(!push.stderr.contains("docker.io/library/app:v1"), "\(push.stderr)")
      let raw = try await registry.rawManifest("library/app:v1")
      #expect(SHA256Hasher.digest([UInt8](raw)) == image.digest)
      // The same push again: every blob is in library/app already; the refused repository
      // must still fail alone (QA: a re-push failed library/app too, with the refusal of a
      // blob it already had).
      for _ in 0..<2 {
        let again = try await KKBinary.run([
          "artifact", "images", "push", "--images-dir", images.layout, "--registry",
          registry.host, "--dest-tls-verify=false", "--dest-creds",
          "\(credentials.username):\(credentials.password)", "--continue-on-error",
        ])
        #expect(again.exitCode == 2, "\(again)")
        #expect(again.stdout.contains("1 pushed, 1 failed"), "\(again.stdout)")
        #expect(!again.stderr.contains("docker.io/library/app:v1"), "\(again.stderr)")
      }
    }
  }

  /// QA F16: `app:tag` filtered to arm64 and `app@sha256:<index>` kept whole share the arm64
  /// manifest in one repository. Before the fix, about one push in nine PUT the filtered index
  /// before the shared child had landed (400 MANIFEST_BLOB_UNKNOWN).
  @Test func sharedChildManifestLandsBeforeEveryIndexThatNamesIt() async throws {
    try await withTestRegistry(.plain) { upstream in
      try await withTestRegistry(.plain) { target in
        let dir = try TemporaryDirectory(prefix: "kk-push-shared-child")
        defer { dir.remove() }
        let generated = try await TestImages.generate(
          into: dir.path + "/g", seed: "shared-child", images: 1)
        try await TestImages.push(generated, to: upstream)
        let image = try #require(generated.images.first)
        let manifest = try ExportPlatformRulesCLITests.manifest(
          in: dir, registry: upstream, arches: "[arm64]",
          images: [image.ref, "\(image.repository)@\(image.digest)"])
        let artifact = dir.path + "/shared.tar.gz"
        let export = try await KKBinary.run(["artifact", "export", "-m", manifest, "-o", artifact])
        #expect(export.exitCode == 0, "\(export)")
        // Fresh repositories each round (a path prefix), so every round pushes everything.
        for round in 0..<6 {
          let push = try await KKBinary.run([
            "artifact", "images", "push", "-a", artifact, "--registry",
            "\(target.host)/round\(round)", "--dest-tls-verify=false",
          ])
          #expect(push.exitCode == 0, "round \(round): \(push)")
          let pinned = try await target.rawManifest(
            "round\(round)/\(image.repository)@\(image.digest)")
          #expect(SHA256Hasher.digest([UInt8](pinned)) == image.digest)
        }
      }
    }
  }
}
