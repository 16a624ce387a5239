import Foundation
import OCI
import Testing

@testable import TestSupport

/// Component files end to end: a local HTTP mirror (`--download-mirror`) serves Kubernetes
/// binaries for two arches; export checks them against the manifest's sha256 values, stores
/// them at KubeKey's work-dir paths, and import lays them out where `kk create cluster` looks.
@Suite(.serialized) struct ExportMirrorCLITests {
  static let version = "v1.23.17"
  static let binaries = ["kubeadm", "kubelet", "kubectl"]
  static let arches = ["amd64", "arm64"]

  /// Deterministic stand-in bytes for one binary (an ELF header, so it looks the part).
  static func bytes(_ binary: String, _ arch: String) -> Data {
    var data = Data([0x7f, 0x45, 0x4c, 0x46])
    let seed = Array("\(binary)/\(arch)".utf8)
    data.append(
      contentsOf: (0..<300_000).map { seed[$0 % seed.count] &+ UInt8(truncatingIfNeeded: $0 / 97) })
    return data
  }

  /// Serves `root` with Python's http.server on a free loopback port until `body` returns.
  static func withMirror(_ root: String, _ body: (String) async throws -> Void) async throws {
    let port = try FreePort.find()
    // GuardedProcess: killed with the test process too, and its signal mask is cleared.
    let process = try GuardedProcess(
      name: "mirror",
      command: [
        TestPaths.python, "-m", "http.server", "--bind", "127.0.0.1", "--directory", root,
        String(port),
      ],
      logPath: root + "/../mirror.log")
    do {
      let url = "http://127.0.0.1:\(port)"
      var ready = false
      for _ in 0..<100 where !ready {
        ready = (try? await HTTPProbe.fetch(url + "/", timeout: .seconds(2)))?.status == 200
        if !ready { try await Task.sleep(for: .milliseconds(100)) }
      }
      try #require(ready, "the mirror did not start on \(url)")
      try await body(url)
    } catch {
      await process.stop()
      throw error
    }
    await process.stop()
  }

  /// ~2.4 MB of stand-in bytes: over the 1 MiB from which binaries are deflated in chunks.
  static func large(_ binary: String, _ arch: String) -> Data {
    var data = bytes(binary, arch)
    for _ in 0..<7 { data.append(bytes(arch, binary)) }
    return data
  }

  /// Writes each binary's bytes under `dir/mirror` at its dl.k8s.io path and a manifest
  /// pinning them; returns the pins (binary -> arch -> hex) and the manifest's path.
  static func serve(in dir: String, _ bytes: (String, String) -> Data) throws
    -> (pins: [String: [String: String]], manifest: String)
  {
    var pins: [String: [String: String]] = [:]
    for binary in binaries {
      for arch in arches {
        let data = bytes(binary, arch)
        let path = "\(dir)/mirror/dl.k8s.io/release/\(version)/bin/linux/\(arch)/\(binary)"
        try FileManager.default.createDirectory(
          atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: path))
        pins[binary, default: [:]][arch] = SHA256Hasher.digest(data).encoded
      }
    }
    let manifest = dir + "/manifest.yaml"
    try Self.manifest(pins: pins).write(toFile: manifest, atomically: true, encoding: .utf8)
    return (pins, manifest)
  }

  static func manifest(pins: [String: [String: String]]) -> String {
    var lines = [
      "apiVersion: kubekey.kubesphere.io/v1alpha2", "kind: Manifest", "metadata:", "  name: mirror",
      "spec:", "  arches: [amd64, arm64]", "  kubernetesDistributions:", "  - type: kubernetes",
      "    version: \(version)", "    sha256:",
    ]
    for binary in binaries {
      lines.append("      \(binary):")
      for arch in arches { lines.append("        \(arch): \(pins[binary]?[arch] ?? "")") }
    }
    // version "" = do not bundle: keeps this test to the three binaries it serves.
    lines.append("  components:")
    for key in ["helm", "cni", "etcd", "calicoctl", "crictl"] {
      lines.append("    \(key): {version: \"\"}")
    }
    lines.append("  images: []")
    return lines.joined(separator: "\n") + "\n"
  }

  @Test func filesFromAMirrorLandAtKubeKeyPathsAndWrongBytesAreRefused() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-export-mirror")
    defer { dir.remove() }
    let (pins, manifest) = try Self.serve(in: dir.path) { Self.bytes($0, $1) }

    try await Self.withMirror(dir.path + "/mirror") { mirror in
      let output = dir.path + "/files.tar.gz"
      let export = try await KKBinary.run(
        [
          "artifact", "export", "-m", manifest, "-o", output, "--cache-dir", dir.path + "/cache",
          "--download-mirror", mirror,
        ], environment: ["KKZONE": ""])
      #expect(export.exitCode == 0, "\(export)")
      // The summary counts the files (this manifest has no images).
      let expectedFiles = Self.binaries.count * Self.arches.count
      #expect(export.stdout.contains("files       \(expectedFiles) ("), "\(export.stdout)")
      // inspect lists the manifest YAML among the files; the summary says it is extra.
      #expect(export.stdout.contains("binaries and ISOs, plus manifest.yaml"), "\(export.stdout)")
      #expect(export.stdout.contains("platforms   -"), "\(export.stdout)")

      let inspected = try await KKBinary.run(["artifact", "inspect", "-a", output, "--json"])
      let object = try JSONSerialization.jsonObject(with: inspected.stdoutData) as? [String: Any]
      let files = try #require(object?["files"] as? [[String: Any]], "\(inspected)")
      for binary in Self.binaries {
        for arch in Self.arches {
          let path = "kube/\(Self.version)/\(arch)/\(binary)"
          let entry = files.first { $0["path"] as? String == path }
          #expect(entry?["digest"] as? String == "sha256:" + (pins[binary]?[arch] ?? ""), "\(path)")
          #expect(entry?["component"] as? String == binary)
          #expect(entry?["arch"] as? String == arch)
        }
      }

      // A push of a files-only artifact sends nothing, says why, and succeeds (no registry
      // is asked: there is nothing to check it for).
      let pushed = try await KKBinary.run(
        ["artifact", "images", "push", "-a", output, "--registry", "127.0.0.1:1"])
      #expect(pushed.exitCode == 0, "\(pushed)")
      #expect(
        pushed.stdout.contains("nothing to push: \(output) holds no images, only files"),
        "\(pushed.stdout)")

      // Import puts each file where KubeKey's node-side commands look for it.
      let work = dir.path + "/kubekey"
      let imported = try await KKBinary.run(["artifact", "import", "-a", output, "--dir", work])
      #expect(imported.exitCode == 0, "\(imported)")
      for binary in Self.binaries {
        for arch in Self.arches {
          let path = "\(work)/kube/\(Self.version)/\(arch)/\(binary)"
          #expect(FileManager.default.contents(atPath: path) == Self.bytes(binary, arch), "\(path)")
          #expect(FileManager.default.isExecutableFile(atPath: path), "\(path) is executable")
        }
      }

      // The mirror serves other bytes than the manifest vouches for: refused, naming the
      // URL and both digests, and no artifact is left under the output name.
      var wrong = pins
      wrong["kubectl"]?["arm64"] = SHA256Hasher.digest(Array("not kubectl".utf8)).encoded
      let badManifest = dir.path + "/bad.yaml"
      try Self.manifest(pins: wrong).write(toFile: badManifest, atomically: true, encoding: .utf8)
      let badOutput = dir.path + "/bad.tar.gz"
      let refused = try await KKBinary.run(
        [
          "artifact", "export", "-m", badManifest, "-o", badOutput, "--no-cache",
          "--download-mirror", mirror,
        ], environment: ["KKZONE": ""])
      #expect(refused.exitCode == 1, "\(refused)")
      #expect(refused.stderr.contains("/linux/arm64/kubectl"), "names the URL: \(refused)")
      #expect(
        refused.stderr.contains(wrong["kubectl"]?["arm64"] ?? "?"), "expected digest: \(refused)")
      #expect(
        refused.stderr.contains(pins["kubectl"]?["arm64"] ?? "?"), "actual digest: \(refused)")
      #expect(!FileManager.default.fileExists(atPath: badOutput))
      #expect(!FileManager.default.fileExists(atPath: badOutput + ".partial"))
    }
  }

  /// Binaries of 1 MiB or more, into a `.tar.gz` with a cache: only their gzip members are
  /// cached (made while they downloaded), the artifact equals a `--no-cache` export's (which
  /// deflates them while packing), and a warm export fetches nothing and gives the same bytes.
  @Test func largeBinariesAreCachedOnlyAsTheirMembers() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-export-forms")
    defer { dir.remove() }
    let (pins, manifest) = try Self.serve(in: dir.path) { Self.large($0, $1) }
    let cache = dir.path + "/cache"
    try await Self.withMirror(dir.path + "/mirror") { mirror in
      func export(_ name: String, _ extra: [String]) async throws -> [UInt8] {
        let output = dir.path + "/" + name
        let result = try await KKBinary.run(
          ["artifact", "export", "-m", manifest, "-o", output, "--download-mirror", mirror]
            + extra, environment: ["KKZONE": ""])
        #expect(result.exitCode == 0, "\(result)")
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: output)))
      }
      let cold = try await export("cold.tar.gz", ["--cache-dir", cache])
      let log = dir.path + "/mirror.log"
      let requests = {
        (try? String(contentsOfFile: log, encoding: .utf8))?.components(
          separatedBy: "GET /dl.k8s.io/"
        ).count ?? 0
      }
      let afterCold = requests()
      for digests in pins.values {
        for hex in digests.values {
          #expect(!FileManager.default.fileExists(atPath: "\(cache)/blobs/sha256/\(hex)"), "\(hex)")
        }
      }
      let records = try FileManager.default.contentsOfDirectory(atPath: cache + "/kk-compressed")
      #expect(
        records.filter { $0.hasSuffix(".json") }.count == pins.values.map(\.count).reduce(0, +))
      let uncached = try await export("nocache.tar.gz", ["--no-cache"])
      #expect(cold == uncached, "download-time and pack-time deflate give the same artifact")
      let warm = try await export("warm.tar.gz", ["--cache-dir", cache])
      #expect(warm == cold)
      #expect(
        requests() == afterCold + Self.binaries.count * Self.arches.count, "only --no-cache fetched"
      )
      let work = dir.path + "/kubekey"
      let imported = try await KKBinary.run([
        "artifact", "import", "-a", dir.path + "/warm.tar.gz", "--dir", work,
      ])
      #expect(imported.exitCode == 0, "\(imported)")
      let path = "\(work)/kube/\(Self.version)/arm64/kubelet"
      #expect(FileManager.default.contents(atPath: path) == Self.large("kubelet", "arm64"))
    }
  }
}
