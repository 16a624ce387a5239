import Foundation
import OCI
import TestSupport
import Testing

/// `kk artifact export` end to end: generated multi-arch images in two local registries (one
/// behind token auth), the real binary, skopeo as the independent reader.
@Suite(.serialized) struct ExportCLITests {
  /// A scratch directory with a manifest for `images` in `registries`.
  struct Setup {
    let dir: TemporaryDirectory
    let images: [(registry: TestRegistry, image: GeneratedImages.Image)]
    /// The generated layouts (their blobs are the registries' blobs).
    let layouts: [String]

    func manifest(
      arches: String = "[amd64, arm64]", extraImages: [String] = [], password: String? = nil
    )
      throws -> String
    {
      var lines = [
        "apiVersion: kubekey.kubesphere.io/v1alpha2", "kind: Manifest", "metadata:",
        "  name: test", "spec:", "  arches: \(arches)", "  images:",
      ]
      lines += images.map { "  - \($0.registry.host)/\($0.image.ref)" }
      lines += extraImages.map { "  - \($0)" }
      lines += ["  registry:", "    auths:"]
      var seen = Set<String>()
      for (registry, _) in images where seen.insert(registry.host).inserted {
        lines.append("      \"\(registry.host)\":")
        lines.append("        plainHTTP: true")
        if let credentials = registry.credentials {
          lines.append("        username: \(credentials.username)")
          lines.append("        password: \(password ?? credentials.password)")
        }
      }
      let path = dir.path + "/manifest-\(UUID().uuidString.prefix(8)).yaml"
      try lines.joined(separator: "\n").appending("\n").write(
        toFile: path, atomically: true, encoding: .utf8)
      return path
    }
  }

  static func withRegistries<T>(_ body: (Setup) async throws -> T) async throws -> T {
    try await withTestRegistry(.plain) { plain in
      try await withTestRegistry(.token) { token in
        let dir = try TemporaryDirectory(prefix: "kk-export")
        defer { dir.remove() }
        async let first = TestImages.generate(into: dir.path + "/a", seed: "export-a", images: 7)
        async let second = TestImages.generate(into: dir.path + "/b", seed: "export-b", images: 3)
        let (a, b) = try await (first, second)
        try await TestImages.push(a, to: plain)
        try await TestImages.push(b, to: token)
        let setup = Setup(
          dir: dir, images: a.images.map { (plain, $0) } + b.images.map { (token, $0) },
          layouts: [a.layout, b.layout])
        return try await body(setup)
      }
    }
  }

  static func summary(_ output: ProcessOutput) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: output.stdoutData)
    return try #require(object as? [String: Any], "\(output)")
  }

  /// The name of the largest file in a layout's `blobs/sha256` (a layer).
  static func largestBlob(in blobDir: String) throws -> String? {
    func size(_ name: String) -> Int {
      (try? FileManager.default.attributesOfItem(atPath: blobDir + "/" + name)[.size]) as? Int ?? 0
    }
    return try FileManager.default.contentsOfDirectory(atPath: blobDir).max { size($0) < size($1) }
  }

  static func sha256(file: String) throws -> Digest {
    SHA256Hasher.digest(try Data(contentsOf: URL(fileURLWithPath: file)))
  }

  @Test func exportVerifiesIsReadableBySkopeoAndReproducibleFromTheCache() async throws {
    try await Self.withRegistries { setup in
      let manifest = try setup.manifest()
      let cache = setup.dir.path + "/cache"
      let out1 = setup.dir.path + "/one.tar.gz"
      let first = try await KKBinary.run([
        "artifact", "export", "-m", manifest, "-o", out1, "--cache-dir", cache, "--json",
      ])
      #expect(first.exitCode == 0, "\(first)")
      let s1 = try Self.summary(first)
      let images = try #require(s1["images"] as? [[String: Any]])
      #expect(images.count == 10)
      #expect((s1["downloadedBytes"] as? Int ?? 0) > 0)
      #expect((s1["bytesSavedByDedup"] as? Int ?? 0) > 0)
      #expect((s1["platforms"] as? [String])?.sorted() == ["linux/amd64", "linux/arm64/v8"])
      #expect((s1["filteredImages"] as? [String]) == [])
      #expect(s1["verified"] as? Bool == true)
      #expect(s1["sha256"] as? String == (try Self.sha256(file: out1)).description)
      // The stored manifest has no password.
      let raw = try Data(contentsOf: URL(fileURLWithPath: out1))
      #expect(raw.count > 0)

      // skopeo reads every image from the unpacked layout with the upstream digest.
      let layout = setup.dir.path + "/unpacked"
      try FileManager.default.createDirectory(atPath: layout, withIntermediateDirectories: true)
      try await ProcessRunner.checked("tar", ["-xzf", out1, "-C", layout])
      for (registry, image) in setup.images {
        let inspected = try await ProcessRunner.checked(
          "skopeo", ["inspect", "--raw", "oci:\(layout):\(registry.host)/\(image.ref)"])
        #expect(SHA256Hasher.digest(inspected.stdoutData) == image.digest, "\(image.ref)")
      }
      // ... and from the artifact itself, without unpacking it: `oci-archive:` takes the
      // tar.gz as it is (gzip'd tar of one OCI layout).
      for (registry, image) in setup.images.prefix(2) {
        let inspected = try await ProcessRunner.checked(
          "skopeo", ["inspect", "--raw", "oci-archive:\(out1):\(registry.host)/\(image.ref)"])
        #expect(SHA256Hasher.digest(inspected.stdoutData) == image.digest, "\(image.ref)")
      }
      let yaml = try String(
        contentsOfFile: layout + "/index.json", encoding: .utf8)
      #expect(yaml.contains("\"io.kubekey.artifact.kind\":\"manifest\""))
      #expect(!raw.contains(Data(TokenPolicy.admin.password.utf8)))

      // Warm cache: zero blob bytes fetched, byte-identical artifact.
      let out2 = setup.dir.path + "/two.tar.gz"
      let second = try await KKBinary.run([
        "artifact", "export", "-m", manifest, "-o", out2, "--cache-dir", cache, "--json",
      ])
      #expect(second.exitCode == 0, "\(second)")
      let s2 = try Self.summary(second)
      #expect(s2["downloadedBytes"] as? Int == 0)
      #expect(s2["downloadedBlobs"] as? Int == 0)
      #expect(try Self.sha256(file: out2) == (try Self.sha256(file: out1)))

      let blobDir = setup.layouts[0] + "/blobs/sha256"
      let largest = try #require(try Self.largestBlob(in: blobDir))
      let layer = try Data(contentsOf: URL(fileURLWithPath: blobDir + "/" + largest))

      // A cached layer torn after it was stored (same size, other bytes; the cache is not
      // fsynced): found while packing, removed, fetched again; the artifact is the same.
      var torn = layer
      torn[torn.count / 2] ^= 0xff
      try torn.write(to: URL(fileURLWithPath: cache + "/blobs/sha256/" + largest))
      let out5 = setup.dir.path + "/healed.tar.gz"
      let healed = try await KKBinary.run([
        "artifact", "export", "-m", manifest, "-o", out5, "--cache-dir", cache, "--json",
      ])
      #expect(healed.exitCode == 0, "\(healed)")
      #expect(healed.stderr.contains("sha256:\(largest) did not match its digest"), "\(healed)")
      #expect(try Self.summary(healed)["downloadedBytes"] as? Int == layer.count)
      #expect(try Self.sha256(file: out5) == (try Self.sha256(file: out1)))

      // Resume: half of the largest layer left in a new cache's ingest dir by an interrupted
      // run; the export fetches only the rest (Range) and the artifact is the same.
      let half = layer.count / 2
      let resumeCache = setup.dir.path + "/cache-resume"
      try FileManager.default.createDirectory(
        atPath: resumeCache + "/.ingest", withIntermediateDirectories: true)
      try layer.prefix(half).write(
        to: URL(fileURLWithPath: resumeCache + "/.ingest/\(largest).resume"))
      let out4 = setup.dir.path + "/resumed.tar.gz"
      let resumed = try await KKBinary.run([
        "artifact", "export", "-m", manifest, "-o", out4, "--cache-dir", resumeCache, "--json",
      ])
      #expect(resumed.exitCode == 0, "\(resumed)")
      let s4 = try Self.summary(resumed)
      let coldBytes = try #require(s1["downloadedBytes"] as? Int)
      #expect(s4["downloadedBytes"] as? Int == coldBytes - half)
      #expect(try Self.sha256(file: out4) == (try Self.sha256(file: out1)))

      // An existing output is kept without --force.
      let refused = try await KKBinary.run([
        "artifact", "export", "-m", manifest, "-o", out2, "--cache-dir", cache,
      ])
      #expect(refused.exitCode == 1)
      #expect(refused.stderr.contains("--force"))

      // Arch filtering: a new index per image, upstream digest kept in the annotation.
      let amd = try setup.manifest(arches: "[amd64]")
      let out3 = setup.dir.path + "/amd64.tar"
      let third = try await KKBinary.run([
        "artifact", "export", "-m", amd, "-o", out3, "--no-cache", "--json",
      ])
      #expect(third.exitCode == 0, "\(third)")
      let s3 = try Self.summary(third)
      #expect((s3["filteredImages"] as? [String])?.count == 10)
      #expect((s3["platforms"] as? [String]) == ["linux/amd64"])
      let filtered = setup.dir.path + "/filtered"
      try FileManager.default.createDirectory(atPath: filtered, withIntermediateDirectories: true)
      try await ProcessRunner.checked("tar", ["-xf", out3, "-C", filtered])
      let index =
        try JSONSerialization.jsonObject(
          with: Data(contentsOf: URL(fileURLWithPath: filtered + "/index.json"))) as? [String: Any]
      let entries = try #require(index?["manifests"] as? [[String: Any]])
      for (registry, image) in setup.images {
        let entry = try #require(
          entries.first {
            ($0["annotations"] as? [String: String])?["org.opencontainers.image.ref.name"]
              == "\(registry.host)/\(image.ref)"
          })
        let annotations = entry["annotations"] as? [String: String]
        #expect(annotations?["io.kubekey.upstream.digest"] == image.digest.description)
        #expect(entry["digest"] as? String != image.digest.description)
        let inspected = try await ProcessRunner.checked(
          "skopeo", ["inspect", "--raw", "oci:\(filtered):\(registry.host)/\(image.ref)"])
        let text = String(decoding: inspected.stdoutData, as: UTF8.self)
        #expect(text.contains("amd64") && !text.contains("arm64"))
      }
    }
  }

  @Test func badInputsFailWithOneClearMessageAndNoOutput() async throws {
    try await Self.withRegistries { setup in
      let cache = setup.dir.path + "/cache"
      let output = setup.dir.path + "/out.tar.gz"
      let first = setup.images[0]
      let tokenHost = setup.images.last?.registry.host ?? ""
      func export(_ manifest: String, _ extra: [String] = []) async throws -> ProcessOutput {
        try await KKBinary.run(
          ["artifact", "export", "-m", manifest, "-o", output, "--cache-dir", cache] + extra)
      }
      func write(_ text: String) throws -> String {
        let path = setup.dir.path + "/bad-\(UUID().uuidString.prefix(6)).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
      }
      let cases: [(String, [String], [String])] = [
        // Bad YAML: the model's file:line:col.
        (
          try write(
            "apiVersion: kubekey.kubesphere.io/v1alpha2\nkind: Manifest\nspec:\n  arches: [amd64\n"),
          [], [".yaml:5:1:", "invalid YAML"]
        ),
        // Unknown arch.
        (try setup.manifest(arches: "[amd65]"), [], ["amd65"]),
        // Malformed image name.
        (try setup.manifest(extraImages: ["UPPER/Case:bad tag"]), [], ["UPPER"]),
        // 404 tag.
        (
          try setup.manifest(extraImages: ["\(first.registry.host)/kk-test/nope:v9"]), [],
          ["kk-test/nope"]
        ),
        // Unreachable registry.
        (try setup.manifest(extraImages: ["127.0.0.1:9/x/y:1"]), [], ["127.0.0.1:9"]),
        // Wrong credentials on the token registry.
        (try setup.manifest(password: "wrong"), [], [tokenHost]),
        // A platform no image has.
        (try setup.manifest(arches: "[amd64, s390x]"), [], ["s390x", first.image.ref]),
        // Bad output name.
        (try setup.manifest(), ["-o", setup.dir.path + "/x.zip"], [".tar.gz"]),
      ]
      for (manifest, extra, needles) in cases {
        let result = try await export(manifest, extra)
        #expect(result.exitCode == 1 || result.exitCode == 64, "\(result)")
        for needle in needles {
          #expect(result.stderr.contains(needle), "\(needle) not in: \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: output), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: output + ".partial"))
      }
      // --skip-missing-platforms goes on with a warning.
      let skipped = try await export(
        try setup.manifest(arches: "[amd64, s390x]"), ["--skip-missing-platforms", "--json"])
      #expect(skipped.exitCode == 0, "\(skipped)")
      #expect(skipped.stderr.contains("warning"))
      #expect(((try Self.summary(skipped))["filteredImages"] as? [String])?.count == 10)
      // ...but an export left with no image and no file is an error, not an empty artifact.
      let empty = setup.dir.path + "/empty.tar.gz"
      let nothing = try await KKBinary.run([
        "artifact", "export", "-m", try setup.manifest(arches: "[s390x]"), "-o", empty,
        "--cache-dir", cache, "--skip-missing-platforms",
      ])
      #expect(nothing.exitCode == 1, "\(nothing)")
      #expect(nothing.stderr.contains("nothing to export"), "\(nothing.stderr)")
      #expect(nothing.stderr.contains("linux/s390x"), "\(nothing.stderr)")
      #expect(!FileManager.default.fileExists(atPath: empty))

      // A registry serving other bytes for a layer (its storage edited on disk; docker-registry
      // does not re-check): the export names the blob, keeps nothing of it, writes nothing.
      let blobDir = setup.layouts[0] + "/blobs/sha256"
      let layer = try #require(try Self.largestBlob(in: blobDir))
      let stored =
        first.registry.storagePath
        + "/docker/registry/v2/blobs/sha256/\(layer.prefix(2))/\(layer)/data"
      var bytes = try Data(contentsOf: URL(fileURLWithPath: stored))
      bytes[bytes.count / 2] ^= 0xff
      try bytes.write(to: URL(fileURLWithPath: stored))
      let fresh = setup.dir.path + "/fresh-cache"
      let refused = setup.dir.path + "/served.tar.gz"
      let served = try await KKBinary.run([
        "artifact", "export", "-m", try setup.manifest(), "-o", refused, "--cache-dir", fresh,
      ])
      #expect(served.exitCode == 1, "\(served)")
      #expect(served.stderr.contains("digest mismatch for blob sha256:\(layer)"), "\(served)")
      #expect(served.stderr.contains("served different bytes"), "\(served)")
      #expect(!FileManager.default.fileExists(atPath: fresh + "/blobs/sha256/" + layer))
      #expect(!FileManager.default.fileExists(atPath: refused))
      #expect(!FileManager.default.fileExists(atPath: refused + ".partial"))
    }
  }

  @Test func killedExportResumesLeavesNoCorruptBlobAndTwoProcessesShareACache() async throws {
    try await Self.withRegistries { setup in
      let manifest = try setup.manifest()
      let cache = setup.dir.path + "/cache"
      let output = setup.dir.path + "/out.tar.gz"
      for delay in [150, 400] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: KKBinary.path)
        process.arguments = [
          "artifact", "export", "-m", manifest, "-o", output, "--cache-dir", cache, "--force",
          "--parallel", "2",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        try await Task.sleep(for: .milliseconds(delay))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        // Every committed blob is intact.
        let blobs = cache + "/blobs/sha256"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: blobs)) ?? [] {
          #expect(try Self.sha256(file: blobs + "/" + name).encoded == name)
        }
      }
      let rerun = try await KKBinary.run([
        "artifact", "export", "-m", manifest, "-o", output, "--cache-dir", cache, "--force",
        "--json",
      ])
      #expect(rerun.exitCode == 0, "\(rerun)")
      #expect(try Self.summary(rerun)["verified"] as? Bool == true)

      // Two processes sharing one fresh cache at once: both finish with the same artifact.
      let shared = setup.dir.path + "/shared-cache"
      async let left = KKBinary.run([
        "artifact", "export", "-m", manifest, "-o", setup.dir.path + "/left.tar.gz",
        "--cache-dir", shared,
      ])
      async let right = KKBinary.run([
        "artifact", "export", "-m", manifest, "-o", setup.dir.path + "/right.tar.gz",
        "--cache-dir", shared,
      ])
      let (l, r) = try await (left, right)
      #expect(l.exitCode == 0, "\(l)")
      #expect(r.exitCode == 0, "\(r)")
      #expect(
        try Self.sha256(file: setup.dir.path + "/left.tar.gz")
          == (try Self.sha256(file: setup.dir.path + "/right.tar.gz")))
      #expect(
        try Self.sha256(file: setup.dir.path + "/left.tar.gz") == (try Self.sha256(file: output)))
    }
  }

  @Test func catalogFilesBecomeFileArtifactsAndUnknownVersionsAreRefusedEarly() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-export-files")
    defer { dir.remove() }
    let bytes = Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) })
    let manifest = try LocalISOManifest.write(
      in: dir.path, name: "files", iso: "ubuntu.iso", bytes: bytes)
    let output = dir.path + "/files.tar"
    let result = try await KKBinary.run([
      "artifact", "export", "-m", manifest, "-o", output, "--no-cache", "--json",
    ])
    #expect(result.exitCode == 0, "\(result)")
    let inspected = try await KKBinary.run(["artifact", "inspect", "-a", output, "--json"])
    let object = try JSONSerialization.jsonObject(with: inspected.stdoutData) as? [String: Any]
    let files = try #require(object?["files"] as? [[String: Any]], "\(inspected)")
    let entry = try #require(files.first { $0["kind"] as? String == "iso" }, "\(files)")
    #expect(entry["path"] as? String == "repository/amd64/ubuntu/20.04/ubuntu-20.04-amd64.iso")
    #expect(entry["digest"] as? String == SHA256Hasher.digest(bytes).description)
    #expect(files.contains { $0["kind"] as? String == "manifest" })

    // A Kubernetes version no checksum source covers: refused before any download, with
    // the manifest position.
    let unknown = dir.path + "/unknown.yaml"
    try """
    apiVersion: kubekey.kubesphere.io/v1alpha2
    kind: Manifest
    metadata:
      name: unknown
    spec:
      arches: [amd64]
      kubernetesDistributions:
      - type: kubernetes
        version: v1.0.99
      images: []

    """.write(toFile: unknown, atomically: true, encoding: .utf8)
    let refused = try await KKBinary.run([
      "artifact", "export", "-m", unknown, "-o", dir.path + "/unknown.tar", "--no-cache",
    ])
    #expect(refused.exitCode == 1, "\(refused)")
    #expect(refused.stderr.contains("v1.0.99"), "\(refused)")
    #expect(!FileManager.default.fileExists(atPath: dir.path + "/unknown.tar"))
  }
}
