import Foundation
import OCI
import TestSupport
import Testing

/// `kk artifact images push` into the Harbor stand-in: projects created through the API
/// before the push (public, or private with --harbor-private), images landed with the
/// artifact's digests, and a push into a missing project without `type: harbor` explained.
@Suite(.serialized) struct HarborPushCLITests {
  static func config(
    _ harbor: TestHarbor, dir: String, registry: String? = nil, type: String?
  ) throws -> String {
    let path = dir + "/config-\(type ?? "none").yaml"
    var yaml = """
      apiVersion: kubekey.kubesphere.io/v1alpha2
      kind: Cluster
      metadata:
        name: sample
      spec:
        registry:
          privateRegistry: \(registry ?? harbor.host)

      """
    if let type { yaml += "    type: \(type)\n" }
    yaml += """
          auths:
            "\(harbor.host)":
              username: \(TestHarbor.admin.username)
              password: \(TestHarbor.admin.password)

      """
    // Over TLS the test CA goes in a certs.d-style directory, as KubeKey's certsPath.
    if let ca = harbor.caCertPath {
      let certs = dir + "/certs.d"
      try FileManager.default.createDirectory(atPath: certs, withIntermediateDirectories: true)
      if !FileManager.default.fileExists(atPath: certs + "/ca.crt") {
        try FileManager.default.copyItem(atPath: ca, toPath: certs + "/ca.crt")
      }
      yaml += "        certsPath: \(certs)\n"
    } else {
      yaml += "        plainHTTP: true\n"
    }
    try yaml.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  /// Two generated images; with `oneSegment` the second is renamed
  /// `registry.k8s.io/app-01:v1.1.0`, whose target repository has no project segment.
  static func artifact(in dir: String, oneSegment: Bool = false) async throws
    -> (GeneratedImages, String)
  {
    let images = try await TestImages.generate(into: dir + "/layout", images: 2)
    if oneSegment {
      let indexPath = images.layout + "/index.json"
      let index = try String(contentsOfFile: indexPath, encoding: .utf8)
      try index.replacingOccurrences(of: images.refs[1], with: "registry.k8s.io/app-01:v1.1.0")
        .write(toFile: indexPath, atomically: true, encoding: .utf8)
    }
    let archive = dir + "/artifact.tgz"
    try await ProcessRunner.checked(
      "tar", ["czf", archive, "-C", images.layout, "--exclude", ".ingest", "."])
    return (images, archive)
  }

  @Test func typeHarborCreatesProjectsThenPushesByteForByte() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-harbor-cli")
    defer { scratch.remove() }
    let (images, archive) = try await Self.artifact(in: scratch.path, oneSegment: true)
    // Where each image lands: kk-test/app-00, and library/app-01 for the one-segment name.
    let targets = ["kk-test/app-00:v1.0.0", "library/app-01:v1.1.0"]
    try await withTestHarbor { harbor in
      let config = try Self.config(harbor, dir: scratch.path, type: "harbor")
      let dry = try await KKBinary.run(
        ["artifact", "images", "push", "-f", config, "-a", archive, "--dry-run"])
      #expect(dry.exitCode == 0, "\(dry)")
      #expect(
        dry.stdout.contains("would create kk-test (public); existing library"), "\(dry.stdout)")
      #expect(dry.stdout.contains("-> \(harbor.host)/library/app-01:v1.1.0"), "\(dry.stdout)")
      #expect(try await harbor.projects()["kk-test"] == nil, "--dry-run created a project")

      let push = try await KKBinary.run(["artifact", "images", "push", "-f", config, "-a", archive])
      #expect(push.exitCode == 0, "\(push)\n\(harbor.logTail())")
      #expect(push.stdout.contains("projects    1 created (kk-test), 1 existing"), "\(push.stdout)")
      #expect(push.stdout.contains("images      2 pushed, 0 failed"), "\(push.stdout)")
      #expect(try await harbor.projects()["kk-test"] == true)
      for (image, target) in zip(images.images, targets) {
        let raw = try await harbor.rawManifest(target)
        #expect(SHA256Hasher.digest([UInt8](raw)) == image.digest, "\(target)")
      }

      // privateRegistry with a path: that path is the project, created private on request;
      // kk-test (now existing) is not touched.
      let nested = try Self.config(
        harbor, dir: scratch.path, registry: harbor.host + "/mirror", type: "harbor")
      let second = try await KKBinary.run(
        [
          "artifact", "images", "push", "-f", nested, "--images-dir", images.layout,
          "--harbor-private",
        ])
      #expect(second.exitCode == 0, "\(second)")
      #expect(second.stdout.contains("projects    1 created (mirror), 0 existing"), "\(second)")
      let projects = try await harbor.projects()
      #expect(projects["mirror"] == false)
      #expect(projects["kk-test"] == true)
      for (image, target) in zip(images.images, ["kk-test/app-00:v1.0.0", "app-01:v1.1.0"]) {
        let raw = try await harbor.rawManifest("mirror/" + target)
        #expect(SHA256Hasher.digest([UInt8](raw)) == image.digest, "mirror/\(target)")
      }
      let posts = harbor.apiCalls().filter { $0.api == "POST" }.compactMap(\.project)
      #expect(posts == ["kk-test", "mirror"])
    }
  }

  @Test func missingProjectWithoutTypeHarborIsExplained() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-harbor-cli")
    defer { scratch.remove() }
    let (images, archive) = try await Self.artifact(in: scratch.path)
    // Over HTTPS: the API calls, the token realm and the proxied push all verify the test CA.
    try await withTestHarbor(tls: true) { harbor in
      let plain = try Self.config(harbor, dir: scratch.path, type: nil)
      let refused = try await KKBinary.run(
        ["artifact", "images", "push", "-f", plain, "-a", archive])
      #expect(refused.exitCode == 1, "\(refused)")
      #expect(
        refused.stderr.contains(
          "project kk-test does not exist on \(harbor.host) (Harbor answers 401 for unknown projects): create it, or set `type: harbor` in spec.registry so kk creates it"
        ), "\(refused.stderr)")
      // The per-image reason says so too (also in --json), once, without blaming the
      // credentials.
      #expect(
        refused.stderr.contains(
          "(project kk-test not found); the Harbor project does not exist: create it"),
        "\(refused.stderr)")
      #expect(!refused.stderr.contains("not found: project kk-test not found"))
      #expect(try await harbor.projects()["kk-test"] == nil)

      // The --registry form with --registry-type harbor creates it and pushes.
      let flagged = try await KKBinary.run(
        [
          "artifact", "images", "push", "--registry", harbor.host, "--registry-type", "harbor",
          "--dest-creds", TestHarbor.admin.colonSeparated, "--dest-cert-dir",
          scratch.path + "/certs.d", "-a", archive,
        ])
      #expect(flagged.exitCode == 0, "\(flagged)")
      #expect(flagged.stdout.contains("projects    1 created (kk-test)"), "\(flagged.stdout)")
      let raw = try await harbor.rawManifest(images.refs[0])
      #expect(SHA256Hasher.digest([UInt8](raw)) == images.images[0].digest)

      // Again with --json: the project now exists; stdout is the JSON summary alone.
      let again = try await KKBinary.run(
        [
          "artifact", "images", "push", "--registry", harbor.host, "--registry-type", "harbor",
          "--dest-creds", TestHarbor.admin.colonSeparated, "--dest-cert-dir",
          scratch.path + "/certs.d", "-a", archive, "--json",
        ])
      #expect(again.exitCode == 0, "\(again)")
      let summary = try JSONSerialization.jsonObject(with: again.stdoutData) as? [String: Any]
      let projects = summary?["projects"] as? [String: [String]]
      #expect(projects?["created"] == [] && projects?["existing"] == ["kk-test"], "\(again.stdout)")
      #expect(summary?["bytesSent"] as? Int == 0)

      let wrongPassword = try Self.config(harbor, dir: scratch.path, type: "harbor")
      let yaml = try String(contentsOfFile: wrongPassword, encoding: .utf8)
      try yaml.replacingOccurrences(of: TestHarbor.admin.password, with: "wrong")
        .write(toFile: wrongPassword, atomically: true, encoding: .utf8)
      let refusedCreds = try await KKBinary.run(
        ["artifact", "images", "push", "-f", wrongPassword, "-a", archive])
      #expect(refusedCreds.exitCode == 1, "\(refusedCreds)")
      #expect(
        refusedCreds.stderr.contains(
          "Harbor refused the credentials for \(harbor.host): check username/password in \(wrongPassword) (spec.registry.auths)"
        ), "\(refusedCreds.stderr)")
      #expect(!refusedCreds.stdout.contains("pushed"), "\(refusedCreds.stdout)")

      let badType = try await KKBinary.run(
        ["artifact", "images", "push", "-f", plain, "-a", archive, "--registry-type", "quay"])
      #expect(badType.exitCode != 0)
      #expect(badType.stderr.contains("--registry-type takes harbor or registry"), "\(badType)")
    }
  }
}
