import Foundation
import OCI
import TestSupport
import Testing

/// Two blobs torn in the cache, of two kinds a pass checks at different moments (a binary's
/// compressed form, then an image layer while packing): the export used to repair the first,
/// find the second on its one further pass and fail; it now goes on while each pass finds new
/// bad blobs, and the artifact equals the one from an intact cache.
@Suite(.serialized) struct ExportTornTwoKindsCLITests {
  @Test func aTornFormAndATornLayerAreBothFetchedAgain() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-export-torn-two")
    defer { dir.remove() }
    let (_, binariesOnly) = try ExportMirrorCLITests.serve(in: dir.path) {
      ExportMirrorCLITests.large($0, $1)
    }
    let images = try await TestImages.generate(into: dir.path + "/gen", images: 1)
    let image = try #require(images.images.first)
    try await withTestRegistry(.plain) { registry in
      try await TestImages.push(images, to: registry)
      // The binaries' manifest plus one image from the registry.
      let text = try String(contentsOfFile: binariesOnly, encoding: .utf8)
        .replacingOccurrences(
          of: "  images: []",
          with: "  images: [\(registry.host)/\(image.ref)]\n  registry:\n    auths:\n"
            + "      \"\(registry.host)\": {plainHTTP: true}")
      let manifest = dir.path + "/with-image.yaml"
      try text.write(toFile: manifest, atomically: true, encoding: .utf8)
      let cache = dir.path + "/cache"
      try await ExportMirrorCLITests.withMirror(dir.path + "/mirror") { mirror in
        func export(_ name: String) async throws -> ProcessOutput {
          try await KKBinary.run(
            [
              "artifact", "export", "-m", manifest, "-o", dir.path + "/" + name,
              "--download-mirror", mirror, "--cache-dir", cache,
            ], environment: ["KKZONE": ""])
        }
        let cold = try await export("cold.tar.gz")
        #expect(cold.exitCode == 0, "\(cold)")
        // Tear one compressed form (named by its record) and the largest layer.
        let records = try FileManager.default.contentsOfDirectory(atPath: cache + "/kk-compressed")
        let record = try #require(records.first { $0.hasSuffix(".json") })
        let json = try JSONSerialization.jsonObject(
          with: Data(contentsOf: URL(fileURLWithPath: cache + "/kk-compressed/" + record)))
        let form = try #require((json as? [String: Any])?["compressed"] as? String)
        let layer = try #require(image.manifests.first?.layers.max { $0.encoded < $1.encoded })
        for digest in [form, layer.description] {
          let path = cache + "/blobs/sha256/" + digest.replacingOccurrences(of: "sha256:", with: "")
          var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
          bytes[bytes.count / 2] ^= 0xff
          try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        let healed = try await export("healed.tar.gz")
        #expect(healed.exitCode == 0, "\(healed)")
        #expect(
          healed.stderr.components(separatedBy: "did not match its digest").count - 1 >= 2,
          "\(healed.stderr)")
        let a = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/cold.tar.gz"))
        let b = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/healed.tar.gz"))
        #expect(a == b)
      }
    }
  }
}
