import Foundation
import OCI
import TestSupport
import Testing

/// `kk artifact import` as a user runs it: a `tar czf` of a generated layout imported into a
/// work dir, imported again (a no-op), and a corrupted archive refused with exit 1.
@Suite struct ImportCLITests {
  @Test func importThenReimportThenCorruptArchive() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-import-cli")
    defer { scratch.remove() }
    let images = try await TestImages.generate(into: scratch.path + "/layout", images: 2)
    let archive = scratch.path + "/artifact.tgz"
    try await ProcessRunner.checked(
      "tar", ["czf", archive, "-C", images.layout, "--exclude", ".ingest", "."])
    let dir = scratch.path + "/kubekey"

    let first = try await KKBinary.run(["artifact", "import", "-a", archive, "--dir", dir])
    #expect(first.exitCode == 0, "\(first)")
    #expect(first.stdout.contains("images      2 (+4 per-arch entries)"), "\(first.stdout)")
    let index = try String(contentsOfFile: dir + "/images/index.json", encoding: .utf8)
    for ref in images.refs { #expect(index.contains("\"\(ref)-arm64\""), "\(ref)") }

    // A one-letter relative --dir (Foundation's path helper trapped on it: exit 132).
    let relative = try await ProcessRunner.run(
      "/bin/sh",
      [
        "-c",
        "cd '\(scratch.path)' && exec '\(KKBinary.path)' artifact import -a '\(archive)' --dir W",
      ])
    #expect(relative.exitCode == 0, "\(relative)")
    #expect(FileManager.default.fileExists(atPath: scratch.path + "/W/images/index.json"))

    let second = try await KKBinary.run(["artifact", "import", "-a", archive, "--dir", dir])
    #expect(second.exitCode == 0)
    #expect(second.stdout.contains("already imported"), "\(second.stdout)")

    // Flip a byte inside the largest layer of a plain tar: the blob is named, exit 1.
    let plain = scratch.path + "/artifact.tar"
    try await ProcessRunner.checked("tar", ["cf", plain, "-C", images.layout, "./blobs"])
    let layer = try #require(images.images.first?.manifests.first?.layers.first)
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: plain)))
    let marker = Array("blobs/sha256/\(layer.encoded)".utf8)
    let at = try #require(firstIndex(of: marker, in: bytes))
    bytes[at + 512 + 100] ^= 0x01  // into the entry's data, past its header
    try Data(bytes).write(to: URL(fileURLWithPath: plain))
    try await ProcessRunner.checked(
      "tar", ["rf", plain, "-C", images.layout, "./index.json", "./oci-layout"])
    let created = scratch.path + "/new/kubekey"
    let bad = try await KKBinary.run(["artifact", "import", "-a", plain, "--dir", created])
    #expect(bad.exitCode == 1, "\(bad)")
    #expect(bad.stderr.contains(layer.encoded), "\(bad.stderr)")
    // The failed import removes the directories it created, and only those.
    #expect(!FileManager.default.fileExists(atPath: scratch.path + "/new"))
    let existing = scratch.path + "/existing"
    try FileManager.default.createDirectory(atPath: existing, withIntermediateDirectories: true)
    let again = try await KKBinary.run(["artifact", "import", "-a", plain, "--dir", existing])
    #expect(again.exitCode == 1, "\(again)")
    var isDirectory: ObjCBool = false
    #expect(FileManager.default.fileExists(atPath: existing, isDirectory: &isDirectory))
    #expect(isDirectory.boolValue)
    #expect(!FileManager.default.fileExists(atPath: existing + "/.kk-import-staging"))
  }

  private func firstIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard needle.count <= haystack.count else { return nil }
    for start in 0...(haystack.count - needle.count)
    where haystack[start] == needle[0] && Array(haystack[start..<start + needle.count]) == needle {
      return start
    }
    return nil
  }
}
