import Foundation
import OCI
import TestSupport
import Testing

/// Cache blobs that no longer match their digest are removed with a warning and fetched
/// again (SPEC 3.4), whatever kind of blob they are.
@Suite(.serialized) struct ExportCacheRepairCLITests {
  /// A torn platform manifest in the cache (same size, other bytes, as a power cut leaves
  /// it) used to fail the export: "blob ... cannot be read as a manifest ... run `kk cache
  /// prune`". Layers and configs were already healed.
  @Test func aTornChildManifestIsFetchedAgain() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-export-torn-manifest")
    defer { dir.remove() }
    let images = try await TestImages.generate(
      into: dir.path + "/gen", seed: "torn-manifest", images: 1)
    let image = images.images[0]
    let child = try #require(image.manifests.first { $0.platform.architecture == "amd64" })
    try await withTestRegistry(.plain) { registry in
      try await TestImages.push(images, to: registry)
      let manifest = try QAExportOutputTests.manifest(registry, image, in: dir.path)
      let cache = dir.path + "/cache"
      let first = dir.path + "/first.tar.gz"
      let cold = try await KKBinary.run([
        "artifact", "export", "-m", manifest, "-o", first, "--cache-dir", cache,
      ])
      #expect(cold.exitCode == 0, "\(cold)")

      let blob = cache + "/blobs/sha256/" + child.digest.encoded
      var bytes = try Data(contentsOf: URL(fileURLWithPath: blob))
      bytes[bytes.count / 2] ^= 0x01
      try bytes.write(to: URL(fileURLWithPath: blob))

      let second = dir.path + "/second.tar.gz"
      let healed = try await KKBinary.run([
        "artifact", "export", "-m", manifest, "-o", second, "--cache-dir", cache,
      ])
      #expect(healed.exitCode == 0, "\(healed)")
      #expect(
        healed.stderr.contains("warning: cached blob \(child.digest)")
          && healed.stderr.contains("did not match its digest"), "\(healed.stderr)")
      #expect(!healed.stderr.contains("cache prune"), "\(healed.stderr)")
      let repaired = try Data(contentsOf: URL(fileURLWithPath: blob))
      #expect(SHA256Hasher.digest(repaired) == child.digest)
      let a = try Data(contentsOf: URL(fileURLWithPath: first))
      let b = try Data(contentsOf: URL(fileURLWithPath: second))
      #expect(a == b, "the healed export differs from the cold one")
    }
  }
}
