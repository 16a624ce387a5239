import Foundation
import OCI
import Testing

@testable import Artifact

/// `kk artifact inspect` totals (QA, session 2): an artifact with a file entry reported
/// `totalBytes` below `uniqueBytes` (the file's artifact manifest and empty config were stored
/// but not counted per entry), so "saved by deduplication" came out negative.
@Suite struct QA2InspectTotalsTests {
  static func json(_ object: Any) throws -> [UInt8] {
    Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
  }

  @Test func totalNeverBelowUnique() throws {
    let payload = [UInt8](repeating: 7, count: 256)
    let empty = Array("{}".utf8)
    let payloadDigest = SHA256Hasher.digest(payload)
    let emptyDigest = SHA256Hasher.digest(empty)
    let manifest = try Self.json([
      "schemaVersion": 2, "mediaType": MediaType.ociManifest,
      "artifactType": "application/vnd.kubekey.manifest.v1",
      "config": ["mediaType": MediaType.ociEmpty, "digest": emptyDigest.description, "size": 2],
      "layers": [
        [
          "mediaType": "application/yaml", "digest": payloadDigest.description,
          "size": payload.count,
        ]
      ],
    ])
    let manifestDigest = SHA256Hasher.digest(manifest)
    let index = try Self.json([
      "schemaVersion": 2, "mediaType": MediaType.ociIndex,
      "manifests": [
        [
          "mediaType": MediaType.ociManifest, "digest": manifestDigest.description,
          "size": manifest.count,
          "annotations": [
            AnnotationKey.artifactKind: "manifest", AnnotationKey.path: "manifest.yaml",
          ],
        ]
      ],
    ])
    let blobs: [Digest: [UInt8]] = [manifestDigest: manifest, emptyDigest: empty]
    let inspection = try ArtifactInspection(source: "t", indexJSON: index) { blobs[$0] }
    #expect(inspection.files.count == 1)
    #expect(inspection.files.first?.size == 256)  // the file's own bytes
    #expect(inspection.files.first?.digest == payloadDigest.description)
    #expect(inspection.blobCount == 3)
    let stored = Int64(manifest.count + 2 + 256)
    #expect(inspection.uniqueBytes == stored)
    #expect(inspection.totalBytes == stored)
    #expect(inspection.totalBytes >= inspection.uniqueBytes)
  }

  /// A cut index.json: one sentence, no "valid JSON.; run" double punctuation.
  @Test func malformedIndexReadsAsOneSentence() {
    let cut = Array(#"{"schemaVersion":2,"manifests":["#.utf8)
    let error = #expect(throws: ArtifactInspectError.self) {
      try ArtifactInspection(source: "a.tar", indexJSON: cut) { _ in nil }
    }
    let text = error?.description ?? ""
    #expect(text.hasPrefix("a.tar: index.json is malformed: "))
    #expect(text.hasSuffix("; run `kk artifact verify -a a.tar`"))
    #expect(!text.contains(".;"))
  }

  /// `--json` keys are always present (null when they do not apply): scripts written against
  /// SPEC 3.2 index `f["component"]` on every file, the manifest YAML entry included.
  @Test func jsonKeysAreAlwaysPresent() throws {
    let inspection = ArtifactInspection(
      source: "a", topDigest: "sha256:x",
      images: [
        .init(
          reference: "docker.io/library/busybox:1.36", digest: "sha256:a", mediaType: "m",
          platforms: ["linux/amd64"], size: 1, blobs: 1, upstreamDigest: nil)
      ],
      files: [
        .init(
          kind: "manifest", component: nil, version: nil, arch: nil, path: "manifest.yaml",
          digest: nil, size: 2)
      ], blobCount: 2, totalBytes: 3, uniqueBytes: 3)
    let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(inspection))
    let root = try #require(object as? [String: Any])
    let image = try #require((root["images"] as? [[String: Any]])?.first)
    let file = try #require((root["files"] as? [[String: Any]])?.first)
    #expect(
      Set(image.keys)
        == ["reference", "digest", "mediaType", "platforms", "size", "blobs", "upstreamDigest"])
    #expect(image["upstreamDigest"] is NSNull)
    #expect(Set(file.keys) == ["kind", "component", "version", "arch", "path", "digest", "size"])
    #expect(file["component"] is NSNull && file["arch"] is NSNull)
    // And it still decodes back to the same value.
    let decoded = try JSONDecoder().decode(
      ArtifactInspection.self, from: JSONEncoder().encode(inspection))
    #expect(decoded == inspection)
  }
}
