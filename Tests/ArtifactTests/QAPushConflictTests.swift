import OCI
import Testing

@testable import Artifact

/// One image exported from two source registries (a mirror and the original) maps to one
/// target tag with the same digest: that is no conflict. Different digests still are.
@Suite struct QAPushConflictTests {
  static func image(_ source: String, digest: Digest) throws -> PlannedImage {
    let reference = try Reference(parsing: source)
    let target = try reference.moved(toRegistry: "10.0.0.5:5000")
    return PlannedImage(
      source: reference, target: target, tags: [reference.tag ?? "latest"],
      root: Descriptor(mediaType: MediaType.ociIndex, digest: digest, size: 100),
      manifests: [], blobs: [])
  }

  @Test func sameContentFromTwoRegistriesIsNoConflict() throws {
    let one = SHA256Hasher.digest(Array("one".utf8))
    let two = SHA256Hasher.digest(Array("two".utf8))
    let a = try Self.image("registry-a.example/kk/app:v1", digest: one)
    let b = try Self.image("registry-b.example/kk/app:v1", digest: one)
    try PushPlanner.checkConflicts([a, b])

    let c = try Self.image("registry-c.example/kk/app:v1", digest: two)
    do {
      try PushPlanner.checkConflicts([a, c])
      Issue.record("different content under one target tag was accepted")
    } catch {
      #expect("\(error)".contains("registry-a.example/kk/app:v1"))
      #expect("\(error)".contains("registry-c.example/kk/app:v1"))
      #expect("\(error)".contains("10.0.0.5:5000/kk/app:v1"))
    }
  }
}
