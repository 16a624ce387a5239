import Foundation
import TestSupport
import Testing

/// QA F9: `kk cache info|prune --cache-dir DIR` must not write into, or wipe, a directory that
/// is not kk's export cache.
@Suite struct CacheCLITests {
  /// Every path under `directory` with its size: what must not change.
  func tree(_ directory: String) throws -> [String: Int] {
    var result: [String: Int] = [:]
    let enumerator = FileManager.default.enumerator(atPath: directory)
    while let path = enumerator?.nextObject() as? String {
      let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/" + path)
      result[path] = (attributes[.size] as? Int) ?? -1
    }
    return result
  }

  @Test func infoIsReadOnly() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-cache-info")
    defer { scratch.remove() }
    let missing = scratch.path + "/nothing"
    let none = try await KKBinary.run(["cache", "info", "--cache-dir", missing])
    #expect(none.exitCode == 0, "\(none)")
    #expect(none.stdout.contains("no cache at \(missing)"), "\(none.stdout)")
    #expect(!FileManager.default.fileExists(atPath: missing))

    let etc = scratch.path + "/etc"
    try FileManager.default.createDirectory(atPath: etc, withIntermediateDirectories: true)
    try "root:x:0:0\n".write(toFile: etc + "/passwd", atomically: true, encoding: .utf8)
    let before = try tree(etc)
    let info = try await KKBinary.run(["cache", "info", "--cache-dir", etc])
    #expect(info.exitCode == 0, "\(info)")
    #expect(info.stdout.contains("not a kk cache"), "\(info.stdout)")
    #expect(try tree(etc) == before, "info wrote into \(etc)")
  }

  @Test func pruneRefusesLayoutsThatAreNotTheCache() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-cache-prune")
    defer { scratch.remove() }
    let images = try await TestImages.generate(into: scratch.path + "/layout", images: 2)
    let archive = scratch.path + "/artifact.tgz"
    try await ProcessRunner.checked(
      "tar", ["czf", archive, "-C", images.layout, "--exclude", ".ingest", "."])
    let work = scratch.path + "/kubekey"
    let imported = try await KKBinary.run(["artifact", "import", "-a", archive, "--dir", work])
    #expect(imported.exitCode == 0, "\(imported)")
    // An imported work dir from before QA F4 still had an empty .ingest/.
    try FileManager.default.createDirectory(
      atPath: work + "/images/.ingest", withIntermediateDirectories: true)

    let unrelated = scratch.path + "/unrelated"
    try FileManager.default.createDirectory(atPath: unrelated, withIntermediateDirectories: true)
    try #"{"name":"my app","version":3}"#.write(
      toFile: unrelated + "/index.json", atomically: true, encoding: .utf8)

    for directory in [work + "/images", images.layout, unrelated] {
      let before = try tree(directory)
      let prune = try await KKBinary.run(["cache", "prune", "--cache-dir", directory])
      #expect(prune.exitCode == 1, "\(prune)")
      #expect(
        prune.stderr.contains("\(directory) is not a kk cache; refusing to delete its blobs"),
        "\(prune.stderr)")
      #expect(try tree(directory) == before, "prune changed \(directory)")
    }
  }

  @Test func pruneAcceptsACacheMadeBeforeTheMarkerAndMarksIt() async throws {
    // What export left before kk-cache.json existed: a layout, .ingest/index.lock, and
    // index.json entries with both ref-name annotations set to a full reference.
    let scratch = try TemporaryDirectory(prefix: "kk-cache-legacy")
    defer { scratch.remove() }
    let images = try await TestImages.generate(into: scratch.path + "/cache", images: 1)
    let cache = images.layout
    try FileManager.default.createDirectory(
      atPath: cache + "/.ingest", withIntermediateDirectories: true)
    FileManager.default.createFile(atPath: cache + "/.ingest/index.lock", contents: Data())
    let indexURL = URL(fileURLWithPath: cache + "/index.json")
    var index = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: indexURL)) as? [String: Any])
    let entries = try #require(index["manifests"] as? [[String: Any]])
    index["manifests"] = entries.enumerated().map { number, entry in
      var entry = entry
      let reference = "127.0.0.1:5000/kk-test/app-\(number):v1"
      entry["annotations"] = [
        "org.opencontainers.image.ref.name": reference, "io.containerd.image.name": reference,
      ]
      return entry
    }
    try JSONSerialization.data(withJSONObject: index).write(to: indexURL)
    let blobs = try FileManager.default.contentsOfDirectory(atPath: cache + "/blobs/sha256")

    let prune = try await KKBinary.run(["cache", "prune", "--cache-dir", cache])
    #expect(prune.exitCode == 0, "\(prune)")
    #expect(prune.stdout.contains("removed \(blobs.count) blobs"), "\(prune.stdout)")
    #expect(FileManager.default.fileExists(atPath: cache + "/kk-cache.json"))
    #expect(try FileManager.default.contentsOfDirectory(atPath: cache + "/blobs/sha256").isEmpty)

    // Marked now: an emptied cache is still a cache.
    let again = try await KKBinary.run(["cache", "prune", "--cache-dir", cache])
    #expect(again.exitCode == 0, "\(again)")
    let missing = scratch.path + "/none"
    let none = try await KKBinary.run(["cache", "prune", "--cache-dir", missing])
    #expect(none.exitCode == 0 && none.stdout.contains("no cache at \(missing)"), "\(none)")
    #expect(!FileManager.default.fileExists(atPath: missing))
  }
}
