import Foundation
import OCI
import TestSupport
import Testing

/// ISOs given as `localPath`: checked when the plan is made, and a wrong one said as such.
@Suite(.serialized) struct ExportLocalISOCLITests {
  static func manifest(iso: String, checksum: String?, in dir: String) throws -> String {
    var lines = [
      "apiVersion: kubekey.kubesphere.io/v1alpha2", "kind: Manifest", "metadata: {name: iso}",
      "spec:", "  arches: [amd64]", "  operatingSystems:", "  - arch: amd64", "    type: linux",
      "    id: ubuntu", "    version: \"20.04\"", "    repository:", "      iso:",
      "        localPath: \(iso)",
    ]
    if let checksum { lines.append("        checksum: \(checksum)") }
    // Nothing else to bundle: no registry is contacted, no binary downloaded.
    lines += [
      "  kubernetesDistributions: []", "  components:", "    helm: {version: \"\"}",
      "    cni: {version: \"\"}", "    etcd: {version: \"\"}", "    calicoctl: {version: \"\"}",
      "    crictl: {version: \"\"}", "  images:", "  - 127.0.0.1:1/never/contacted:1",
    ]
    let path = dir + "/m.yaml"
    try (lines.joined(separator: "\n") + "\n").write(
      toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  /// A `localPath` that does not exist used to pass `--dry-run` and fail the export only
  /// after the images were downloaded, with no manifest line. Both now refuse it at plan
  /// time, placed at the field.
  @Test func aMissingLocalISOIsRefusedAtPlanTimePlaced() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-export-iso-missing")
    defer { dir.remove() }
    let iso = dir.path + "/nope.iso"
    let manifest = try Self.manifest(iso: iso, checksum: nil, in: dir.path)
    let expected =
      "\(manifest):13:20: spec.operatingSystems[0].repository.iso.localPath \(iso) does not exist"
    for extra in [["--dry-run"], []] {
      let result = try await KKBinary.run(
        [
          "artifact", "export", "-m", manifest, "-o", dir.path + "/a.tar", "--cache-dir",
          dir.path + "/cache",
        ] + extra)
      #expect(result.exitCode == 1, "\(extra) \(result)")
      #expect(result.stderr.contains(expected), "\(extra) \(result.stderr)")
      #expect(!result.stderr.contains("resolve: started"), "\(result.stderr)")
    }
    try FileManager.default.createDirectory(atPath: iso, withIntermediateDirectories: true)
    let directory = try await KKBinary.run([
      "artifact", "export", "-m", manifest, "--dry-run",
    ])
    #expect(directory.exitCode == 1, "\(directory)")
    #expect(directory.stderr.contains("\(iso) is a directory"), "\(directory.stderr)")
  }

  /// A local ISO whose bytes do not match the manifest's checksum was reported with the
  /// store's advice, "fetch the blob again", which cannot help with a local file.
  @Test func aLocalISOWithTheWrongChecksumNamesTheFileAndTheField() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-export-iso-sum")
    defer { dir.remove() }
    let iso = dir.path + "/u.iso"
    try Data("not the iso the manifest pins".utf8).write(to: URL(fileURLWithPath: iso))
    let manifest = try Self.manifest(
      iso: iso, checksum: String(repeating: "0", count: 64), in: dir.path)
    // Without images: the ISO is the whole export.
    let text = try String(contentsOfFile: manifest, encoding: .utf8)
      .replacingOccurrences(of: "  images:\n  - 127.0.0.1:1/never/contacted:1\n", with: "")
    try text.write(toFile: manifest, atomically: true, encoding: .utf8)
    let result = try await KKBinary.run([
      "artifact", "export", "-m", manifest, "-o", dir.path + "/a.tar", "--cache-dir",
      dir.path + "/cache",
    ])
    #expect(result.exitCode == 1, "\(result)")
    #expect(
      result.stderr.contains(
        "but spec.operatingSystems[0].repository.iso.checksum says \(String(repeating: "0", count: 64))"
      ), "\(result.stderr)")
    #expect(result.stderr.contains(iso), "\(result.stderr)")
    #expect(!result.stderr.contains("fetch the blob again"), "\(result.stderr)")
  }

  /// An ISO `url` without `checksum` was refused ("no sha256 known for ubuntu 20.04 (amd64)")
  /// although the checksum is optional in KubeKey and in the template `kk create manifest`
  /// writes. It is fetched, stored under the sha256 of what arrived, and a warning at the url
  /// gives that sha256 to pin.
  @Test func anISOURLWithoutChecksumIsBundledWithAWarningToPinIt() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-export-iso-url")
    defer { dir.remove() }
    let bytes = Data("an ubuntu package ISO".utf8)
    try FileManager.default.createDirectory(
      atPath: dir.path + "/www", withIntermediateDirectories: true)
    try bytes.write(to: URL(fileURLWithPath: dir.path + "/www/u.iso"))
    let hex = SHA256Hasher.digest(bytes).encoded
    try await withScriptServer(
      "slowfiles.py", ["--root", dir.path + "/www"], logDirectory: dir.path
    ) { server in
      let url = "http://\(server.host)/plain/u.iso"
      let manifest = try Self.manifest(iso: "x", checksum: nil, in: dir.path)
      let text = try String(contentsOfFile: manifest, encoding: .utf8)
        .replacingOccurrences(of: "localPath: x", with: "url: \(url)")
        .replacingOccurrences(of: "  images:\n  - 127.0.0.1:1/never/contacted:1\n", with: "")
      try text.write(toFile: manifest, atomically: true, encoding: .utf8)
      let field = "spec.operatingSystems[0].repository.iso.checksum"

      let dryRun = try await KKBinary.run(["artifact", "export", "-m", manifest, "--dry-run"])
      #expect(dryRun.exitCode == 0, "\(dryRun)")
      #expect(
        dryRun.stdout.contains(
          "\(url)  none (not verified: sha256 of the file as downloaded; pin it in \(field))  "
            + "repository/amd64/ubuntu/20.04/ubuntu-20.04-amd64.iso"), "\(dryRun.stdout)")

      let output = dir.path + "/a.tar"
      let result = try await KKBinary.run([
        "artifact", "export", "-m", manifest, "-o", output, "--cache-dir", dir.path + "/cache",
      ])
      #expect(result.exitCode == 0, "\(result)")
      let warnings = result.stderr.split(separator: "\n").filter { $0.contains("not verified") }
      let path = "repository/amd64/ubuntu/20.04/ubuntu-20.04-amd64.iso"
      var expected = "kk: warning: \(manifest):13:14: \(url) (\(path)) was not verified "
      expected += "against a published checksum (the manifest gives none); bundled as "
      expected += "downloaded, sha256 \(hex). To pin it, set \(field): \(hex)"
      #expect(warnings == [Substring(expected)], "\(result.stderr)")
      let inspect = try await KKBinary.run(["artifact", "inspect", "-a", output, "--json"])
      #expect(inspect.stdout.contains("sha256:\(hex)"), "\(inspect.stdout)")
    }
  }
}
