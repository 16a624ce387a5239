import Foundation
import TestSupport
import Testing

/// The default cache `~/.cache/kk` on an account that has no `~/.cache` yet (a fresh
/// machine, a new CI user): the export creates it instead of failing with "cannot open the
/// cache ... No such file or directory".
@Suite struct ExportDefaultCacheCLITests {
  @Test func theDefaultCacheIsCreatedWithItsParents() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-default-cache")
    defer { dir.remove() }
    let manifest = try LocalISOManifest.write(in: dir.path, name: "fresh")
    let home = dir.path + "/home"
    try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
    let result = try await KKBinary.run(
      ["artifact", "export", "-m", manifest, "-o", dir.path + "/out.tar.gz"],
      environment: ["HOME": home, "XDG_CACHE_HOME": ""])
    #expect(result.exitCode == 0, "\(result)")
    #expect(FileManager.default.fileExists(atPath: home + "/.cache/kk/kk-cache.json"))
  }
}
