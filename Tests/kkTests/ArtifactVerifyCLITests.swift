import Foundation
import OCI
import TestSupport
import Testing

/// `kk artifact verify` and `kk artifact inspect` as a user runs them: on a layout written by
/// `skopeo copy --all docker://... oci:DIR:ref` from a real docker-registry, its archives, and
/// corrupted copies of it.
@Suite(.serialized) struct ArtifactVerifyCLITests {
  /// A skopeo-written layout holding two generated multi-arch images.
  static func skopeoLayout(in scratch: TemporaryDirectory) async throws -> String {
    let images = try await TestImages.generate(into: scratch.path + "/generated", images: 2)
    let layout = scratch.path + "/layout"
    try await withTestRegistry(.plain) { registry in
      try await TestImages.push(images, to: registry)
      for image in images.images {
        try await ProcessRunner.checked(
          "skopeo",
          [
            "copy", "--all", "--src-tls-verify=false", "docker://\(registry.host)/\(image.ref)",
            "oci:\(layout):\(image.ref)",
          ])
      }
    }
    return layout
  }

  static func blobPath(_ layout: String, _ digest: String) -> String {
    layout + "/blobs/" + digest.replacingOccurrences(of: ":", with: "/")
  }

  /// The largest blob of the layout: a layer.
  static func largestBlob(_ layout: String) throws -> String {
    let directory = layout + "/blobs/sha256"
    let names = try FileManager.default.contentsOfDirectory(atPath: directory)
    let sized = try names.map { name -> (String, Int) in
      let size =
        try FileManager.default.attributesOfItem(atPath: directory + "/" + name)[.size] as? Int
      return (name, size ?? 0)
    }
    return try #require(sized.max { $0.1 < $1.1 }).0
  }

  static func copy(_ layout: String, to target: String) throws {
    try FileManager.default.copyItem(atPath: layout, toPath: target)
  }

  @Test func verifiesASkopeoLayoutAndItsArchives() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-cli-verify")
    defer { scratch.remove() }
    let layout = try await Self.skopeoLayout(in: scratch)

    let direct = try await KKBinary.run(["artifact", "verify", "-a", layout])
    #expect(direct.exitCode == 0, "\(direct)")
    #expect(direct.stdout.contains("result      OK"))
    #expect(direct.stdout.contains("linux/amd64"))
    #expect(direct.stdout.contains("linux/arm64"))
    let top = try #require(
      direct.stdout.split(separator: "\n").first { $0.hasPrefix("top digest") })

    // The same layout as plain tar, gzip and zstd, named so that the extension lies:
    // the format must come from the magic bytes.
    let archives = [
      ("plain.tar.gz", ["-cf"]), ("gzip.tar", ["-czf"]), ("zstd.tgz", ["--zstd", "-cf"]),
    ]
    for (name, flags) in archives {
      let archive = scratch.path + "/" + name
      try await ProcessRunner.checked("tar", flags + [archive, "-C", layout, "."])
      let result = try await KKBinary.run(["artifact", "verify", "-a", archive])
      #expect(result.exitCode == 0, "\(name): \(result)")
      #expect(result.stdout.contains(String(top)), "\(name) must name the same top digest")
    }
  }

  @Test func namesEveryBadBlobAndExitsOne() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-cli-corrupt")
    defer { scratch.remove() }
    let layout = try await Self.skopeoLayout(in: scratch)
    let victim = try Self.largestBlob(layout)

    // One flipped byte in a layer.
    let flipped = scratch.path + "/flipped"
    try Self.copy(layout, to: flipped)
    let handle = try #require(FileHandle(forUpdatingAtPath: flipped + "/blobs/sha256/" + victim))
    try handle.seek(toOffset: 100)
    let byte = try #require(try handle.read(upToCount: 1)).first ?? 0
    try handle.seek(toOffset: 100)
    try handle.write(contentsOf: Data([byte ^ 0xff]))
    try handle.close()

    // The same layer truncated, and another copy with it missing.
    let truncated = scratch.path + "/truncated"
    try Self.copy(layout, to: truncated)
    try FileHandle(forUpdatingAtPath: truncated + "/blobs/sha256/" + victim)?.truncate(atOffset: 10)
    let missing = scratch.path + "/missing"
    try Self.copy(layout, to: missing)
    try FileManager.default.removeItem(atPath: missing + "/blobs/sha256/" + victim)

    for (layoutPath, word) in [
      (flipped, "corrupt"), (truncated, "truncated"), (missing, "missing"),
    ] {
      let result = try await KKBinary.run(["artifact", "verify", "-a", layoutPath])
      #expect(result.exitCode == 1, "\(result)")
      let named = result.stdout.split(separator: "\n").filter { $0.contains(victim) }
      #expect(
        named.contains { $0.contains(word) }, "expected '\(word)' naming \(victim): \(result)")
      #expect(result.stdout.contains("FAILED"))
    }

    // The flipped layout packed into a .tar.gz: the archive path reports the same blob.
    let archive = scratch.path + "/flipped.tar.gz"
    try await ProcessRunner.checked("tar", ["-czf", archive, "-C", flipped, "."])
    let packed = try await KKBinary.run(["artifact", "verify", "-a", archive])
    #expect(packed.exitCode == 1)
    #expect(packed.stdout.contains(victim), "\(packed)")

    // index.json that is not JSON.
    let badIndex = scratch.path + "/bad-index"
    try Self.copy(layout, to: badIndex)
    try Data("not json".utf8).write(to: URL(fileURLWithPath: badIndex + "/index.json"))
    let result = try await KKBinary.run(["artifact", "verify", "-a", badIndex])
    #expect(result.exitCode == 1)
    #expect(result.stdout.contains("index.json"), "\(result)")
  }

  @Test func unreadableInputsAreOneClearLine() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-cli-inputs")
    defer { scratch.remove() }
    let empty = scratch.path + "/empty.tar.gz"
    _ = FileManager.default.createFile(atPath: empty, contents: Data())
    let garbage = scratch.path + "/garbage.tar"
    _ = FileManager.default.createFile(
      atPath: garbage, contents: Data((0..<4096).map { UInt8($0 % 251) }))
    for path in [empty, garbage, scratch.path + "/does-not-exist"] {
      for command in ["verify", "inspect"] {
        let result = try await KKBinary.run(["artifact", command, "-a", path])
        #expect(result.exitCode == 1, "\(command) \(path): \(result)")
        #expect(result.stderr.hasPrefix("kk: error: "), "\(result)")
        #expect(result.stderr.contains(path))
        #expect(result.stderr.split(separator: "\n").count == 1, "one line: \(result.stderr)")
      }
    }
    let usage = try await KKBinary.run(["artifact", "verify"])
    #expect(usage.exitCode == 64, "a missing -a is a usage error: \(usage)")
  }

  @Test func inspectListsImagesPlatformsAndDeduplication() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-cli-inspect")
    defer { scratch.remove() }
    let layout = try await Self.skopeoLayout(in: scratch)
    let archive = scratch.path + "/layout.tar.gz"
    try await ProcessRunner.checked("tar", ["-czf", archive, "-C", layout, "."])

    struct Inspection: Decodable {
      struct Image: Decodable {
        let reference: String
        let digest: String
        let platforms: [String]
        let size: Int64
        let blobs: Int
      }
      let images: [Image]
      let blobCount: Int
      let totalBytes: Int64
      let uniqueBytes: Int64
      let topDigest: String
    }
    var seen: [Inspection] = []
    for path in [layout, archive] {
      let result = try await KKBinary.run(["artifact", "inspect", "-a", path, "--json"])
      #expect(result.exitCode == 0, "\(result)")
      let inspection = try JSONDecoder().decode(Inspection.self, from: result.stdoutData)
      #expect(inspection.images.count == 2)
      for image in inspection.images {
        #expect(image.platforms.contains("linux/amd64"))
        #expect(image.platforms.contains { $0.hasPrefix("linux/arm64") })
        // index + 2 × (manifest + config + ≥1 layer)
        #expect(image.blobs >= 7)
      }
      let blobFiles = try FileManager.default.contentsOfDirectory(atPath: layout + "/blobs/sha256")
      #expect(inspection.blobCount == blobFiles.count)
      #expect(inspection.uniqueBytes <= inspection.totalBytes)
      #expect(inspection.totalBytes == inspection.images.reduce(0) { $0 + $1.size })
      seen.append(inspection)
    }
    #expect(seen[0].topDigest == seen[1].topDigest)
    #expect(seen[0].uniqueBytes == seen[1].uniqueBytes)

    let table = try await KKBinary.run(["artifact", "inspect", "-a", layout])
    #expect(table.exitCode == 0)
    #expect(table.stdout.contains("IMAGE"))
    #expect(table.stdout.contains("stored"))
  }
}
