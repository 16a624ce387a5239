import Foundation
import OCI
import Testing

@testable import TestSupport

/// `-o` claimed before the first download: two exports to one output, an output that is a
/// directory, a directory that takes no files.
@Suite(.serialized) struct ExportOutputLockCLITests {
  /// Two exports to one `-o` at once used to both write `OUT.partial`: one failed renaming
  /// it, the other printed the sha256 of bytes that were not what ended up under `OUT`. Now
  /// the second stops before downloading, and the winner's sha256 is the file's. A stale
  /// `OUT.partial` (a crashed run's) is in place and must not block either.
  @Test func twoExportsToOneOutputOneWinsAndItsSha256IsTheFiles() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-export-lock")
    defer { dir.remove() }
    let (_, manifest) = try ExportMirrorCLITests.serve(in: dir.path) {
      ExportMirrorCLITests.bytes($0, $1)
    }
    try await withScriptServer(
      "slowfiles.py", ["--root", dir.path + "/mirror", "--delay", "0.2"],
      logDirectory: dir.path
    ) { server in
      let output = dir.path + "/out/a.tar.gz"
      try FileManager.default.createDirectory(
        atPath: dir.path + "/out", withIntermediateDirectories: true)
      try Data("left by a crashed export".utf8).write(
        to: URL(fileURLWithPath: output + ".partial"))
      let arguments = [
        "artifact", "export", "-m", manifest, "-o", output, "--cache-dir", dir.path + "/cache",
        "--download-mirror", "http://\(server.host)/slow",
      ]
      async let first = KKBinary.run(arguments, environment: ["KKZONE": ""])
      async let second = KKBinary.run(arguments, environment: ["KKZONE": ""])
      let results = try await [first, second]
      let winners = results.filter { $0.exitCode == 0 }
      let losers = results.filter { $0.exitCode != 0 }
      try #require(winners.count == 1 && losers.count == 1, "\(results)")
      let loser = losers[0]
      #expect(loser.exitCode == 1, "\(loser)")
      #expect(
        loser.stderr.contains(
          "another kk export is writing \(output) (\(output).partial is locked); wait for it or "
            + "choose another -o"), "\(loser.stderr)")
      #expect(!loser.stderr.contains("files: started"), "\(loser.stderr)")
      #expect(!loser.stderr.contains("cannot rename"), "\(loser.stderr)")

      let printed = try #require(
        winners[0].stdout.split(separator: "\n").first { $0.hasPrefix("sha256") }?
          .split(separator: " ").last.map(String.init), "\(winners[0])")
      let bytes = try Data(contentsOf: URL(fileURLWithPath: output))
      #expect(SHA256Hasher.digest(bytes).encoded == printed)
      #expect(!FileManager.default.fileExists(atPath: output + ".partial"))
      let verify = try await KKBinary.run(["artifact", "verify", "-a", output])
      #expect(verify.exitCode == 0, "\(verify)")
    }
  }

  /// `-o` naming an existing directory used to be found out only after downloading and
  /// packing (with `--force`); now it is refused at once, naming it.
  @Test func anOutputThatIsADirectoryIsRefusedUpFront() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-export-odir")
    defer { dir.remove() }
    let manifest = dir.path + "/m.yaml"
    try """
    apiVersion: kubekey.kubesphere.io/v1alpha2
    kind: Manifest
    metadata: {name: odir}
    spec:
      arches: [amd64]
      images:
      - 127.0.0.1:1/never/contacted:1

    """.write(toFile: manifest, atomically: true, encoding: .utf8)
    let output = dir.path + "/x.tar.gz"
    try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
    for force in [[], ["--force"]] {
      let result = try await KKBinary.run(
        ["artifact", "export", "-m", manifest, "-o", output, "--cache-dir", dir.path + "/c"]
          + force)
      #expect(result.exitCode == 64 || result.exitCode == 1, "\(result)")
      #expect(result.stderr.contains("\(output) is a directory"), "\(result.stderr)")
      #expect(!result.stderr.contains("resolve: started"), "\(result.stderr)")
    }
  }

  /// A directory that takes no new files (`/proc`) used to be reported as "not enough free
  /// space" (statvfs says 0 bytes free there); it is now called not writable, up front.
  @Test func anUnwritableOutputDirectoryIsCalledThat() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-export-proc")
    defer { dir.remove() }
    let manifest = dir.path + "/m.yaml"
    try """
    apiVersion: kubekey.kubesphere.io/v1alpha2
    kind: Manifest
    metadata: {name: proc}
    spec:
      arches: [amd64]
      images:
      - 127.0.0.1:1/never/contacted:1

    """.write(toFile: manifest, atomically: true, encoding: .utf8)
    let result = try await KKBinary.run([
      "artifact", "export", "-m", manifest, "-o", "/proc/x.tar.gz", "--cache-dir", dir.path + "/c",
    ])
    #expect(result.exitCode == 1, "\(result)")
    #expect(
      result.stderr.contains("the output directory /proc is not writable"), "\(result.stderr)")
    #expect(!result.stderr.contains("free space"), "\(result.stderr)")
    #expect(!result.stderr.contains("resolve: started"), "\(result.stderr)")
  }

  /// QA nits: `-o` takes `.tgz` and any letter case (as ArchiveCompression always did; SPEC
  /// now says so), and a manifest with nothing to bundle is refused by `--dry-run` as by
  /// the export (the dry run said exit 0).
  @Test func outputNamesAndAnEmptyManifestAgreeBetweenDryRunAndExport() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-export-nits")
    defer { dir.remove() }
    let empty = dir.path + "/empty.yaml"
    try """
    apiVersion: kubekey.kubesphere.io/v1alpha2
    kind: Manifest
    metadata: {name: empty}
    spec:
      arches: [amd64]
      kubernetesDistributions: []
      components:
        helm: {version: ""}
        cni: {version: ""}
        etcd: {version: ""}
        calicoctl: {version: ""}
        crictl: {version: ""}
      images: []

    """.write(toFile: empty, atomically: true, encoding: .utf8)
    let cache = dir.path + "/c"
    for extra in [["--dry-run"], []] {
      let result = try await KKBinary.run(
        ["artifact", "export", "-m", empty, "-o", dir.path + "/a.tar", "--cache-dir", cache]
          + extra)
      #expect(result.exitCode == 1, "\(extra) \(result)")
      #expect(result.stderr.contains("nothing to export"), "\(extra) \(result.stderr)")
    }
    for (name, code) in [("x.tgz", 1), ("X.TAR.GZ", 1), ("x.Tar.Zst", 1), ("x.zip", 64)] {
      // 1: accepted, then refused for the empty manifest; 64: the name is a usage error.
      let result = try await KKBinary.run([
        "artifact", "export", "-m", empty, "-o", dir.path + "/" + name, "--dry-run",
      ])
      #expect(result.exitCode == Int32(code), "\(name) \(result)")
    }
  }
}
