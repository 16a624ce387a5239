import Foundation
import TestSupport
import Testing

/// Operator mistakes around `kk artifact export -o` and layout paths, found by QA: each must
/// either just work or fail at once with one actionable line.
@Suite(.serialized) struct QAExportOutputTests {
  static func manifest(_ registry: TestRegistry, _ image: GeneratedImages.Image, in dir: String)
    throws -> String
  {
    let text = """
      apiVersion: kubekey.kubesphere.io/v1alpha2
      kind: Manifest
      metadata: {name: qa}
      spec:
        arches: [amd64]
        images:
        - \(registry.host)/\(image.ref)
        registry:
          auths:
            "\(registry.host)": {plainHTTP: true}

      """
    let path = dir + "/manifest.yaml"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  /// `-o` into a directory that does not exist yet: the export used to download everything
  /// and then fail with "a.tar.gz.partial: cannot create"; now the directory is created.
  @Test func outputIntoAMissingDirectoryIsCreated() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-qa-export")
    defer { dir.remove() }
    let images = try await TestImages.generate(into: dir.path + "/gen", seed: "qa-out", images: 1)
    try await withTestRegistry(.plain) { registry in
      try await TestImages.push(images, to: registry)
      let manifest = try Self.manifest(registry, images.images[0], in: dir.path)
      let output = dir.path + "/new/sub/dir/a.tar.gz"
      let result = try await KKBinary.run([
        "artifact", "export", "-m", manifest, "-o", output, "--cache-dir", dir.path + "/cache",
      ])
      #expect(result.exitCode == 0, "\(result)")
      #expect(FileManager.default.fileExists(atPath: output))
      let verify = try await KKBinary.run(["artifact", "verify", "-a", output])
      #expect(verify.exitCode == 0, "\(verify)")

      // A parent that is a regular file cannot become a directory: one line, before any
      // download, naming the output.
      try "x".write(toFile: dir.path + "/file", atomically: true, encoding: .utf8)
      let blocked = dir.path + "/file/a.tar.gz"
      let refused = try await KKBinary.run([
        "artifact", "export", "-m", manifest, "-o", blocked, "--cache-dir", dir.path + "/cache2",
      ])
      #expect(refused.exitCode == 1, "\(refused)")
      let errors = refused.stderr.split(separator: "\n").filter { $0.contains("error") }
      #expect(errors.count == 1, "\(refused.stderr)")
      #expect(errors.first?.contains(blocked) == true, "\(refused.stderr)")
      #expect(!refused.stderr.contains("download: started"), "\(refused.stderr)")
    }
  }

  /// A directory that is not a layout: the message used to recommend a Swift API
  /// ("create one with BlobStore.create(at:)").
  @Test func notALayoutDirectoryNamesWhatIsExpected() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-qa-notlayout")
    defer { dir.remove() }
    try FileManager.default.createDirectory(
      atPath: dir.path + "/x", withIntermediateDirectories: true)
    for command in ["verify", "inspect"] {
      let result = try await KKBinary.run(["artifact", command, "-a", dir.path])
      #expect(result.exitCode == 1, "\(result)")
      #expect(result.stderr.contains(dir.path), "\(result.stderr)")
      #expect(result.stderr.contains("oci-layout"), "\(result.stderr)")
      #expect(!result.stderr.contains("BlobStore"), "\(result.stderr)")
      #expect(!result.stderr.contains("(at:)"), "\(result.stderr)")
    }
  }

  /// Manifest diagnostics are printed once as `kk: file:line:col: warning: ...`; the export
  /// used to print "kk: warning: m.yaml:5:12: warning: arch 'arm' ...".
  @Test func manifestWarningsSayWarningOnce() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-qa-warn")
    defer { dir.remove() }
    let path = dir.path + "/m.yaml"
    try """
    apiVersion: kubekey.kubesphere.io/v1alpha2
    kind: Manifest
    metadata: {name: qa}
    spec:
      arches: [arm]
      images: []

    """.write(toFile: path, atomically: true, encoding: .utf8)
    let result = try await KKBinary.run([
      "artifact", "export", "-m", path, "-o", dir.path + "/a.tar", "--cache-dir",
      dir.path + "/cache",
    ])
    let lines = result.stderr.split(separator: "\n").filter { $0.contains("'arm'") }
    #expect(lines.count == 1, "\(result.stderr)")
    for line in lines {
      #expect(line.hasPrefix("kk: \(path):5:"), "\(line)")
      #expect(line.components(separatedBy: "warning").count == 2, "\(line)")
    }
  }

  /// A cache the user cannot write (shared, read-only mount): the export used to resolve
  /// every image and then fail with "open lock .../.ingest/index.lock failed". It now fails
  /// before resolving, naming the cache and the way out. Run as `nobody` (root may write).
  @Test(.enabled(if: getuid() == 0 && ProcessRunner.which("setpriv") != nil))
  func readOnlyCacheFailsBeforeResolving() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-qa-rocache")
    defer { dir.remove() }
    let images = try await TestImages.generate(into: dir.path + "/gen", seed: "qa-ro", images: 1)
    try await withTestRegistry(.plain) { registry in
      try await TestImages.push(images, to: registry)
      let manifest = try Self.manifest(registry, images.images[0], in: dir.path)
      let cache = dir.path + "/cache"
      let warm = try await KKBinary.run([
        "artifact", "export", "-m", manifest, "-o", dir.path + "/warm.tar", "--cache-dir", cache,
      ])
      #expect(warm.exitCode == 0, "\(warm)")
      let out = dir.path + "/out"
      try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
      try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: out)
      try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.path)
      try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: manifest)
      let result = try await ProcessRunner.run(
        "setpriv",
        [
          "--reuid=65534", "--regid=65534", "--clear-groups", KKBinary.path, "artifact",
          "export", "-m", manifest, "-o", out + "/a.tar", "--cache-dir", cache,
        ], environment: ["HOME": out])
      #expect(result.exitCode == 1, "\(result)")
      #expect(result.stderr.contains("the cache \(cache) is not writable"), "\(result.stderr)")
      #expect(result.stderr.contains("--no-cache"), "\(result.stderr)")
      #expect(!result.stderr.contains("resolve: started"), "\(result.stderr)")
      #expect(!FileManager.default.fileExists(atPath: out + "/a.tar"))
    }
  }
}
