import Blobstore
import Foundation
import OCI
import TestSupport
import Testing

@testable import Artifact

/// Bytes that do not match their digest never become a blob in the registry: a corrupt
/// layer in the layout or the archive is caught while it is sent (the upload is aborted and
/// its session cancelled), and bytes changed on the way are refused by the registry with
/// DIGEST_INVALID. Either way the blob is named, HEAD of it answers 404 afterwards and no
/// manifest referring to it is pushed; the other images go only with continue-on-error.
@Suite("Push: corrupt blobs", .serialized)
struct PushCorruptTests {
  /// A layer of the first image that no other image uses, so the others can be pushed.
  static func ownLayer(_ images: GeneratedImages) throws -> Digest {
    let first = try #require(images.images.first)
    let others = Set(images.images.dropFirst().flatMap { $0.manifests.flatMap(\.layers) })
    return try #require(first.manifests.flatMap(\.layers).first { !others.contains($0) })
  }

  /// Flips one bit in the middle of a stored blob (same size, wrong digest).
  static func damage(_ digest: Digest, in store: BlobStore) throws {
    let path = store.path(for: digest)
    _ = chmod(path, 0o644)
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    bytes[bytes.count / 2] ^= 0x01
    try Data(bytes).write(to: URL(fileURLWithPath: path))
  }

  static func status(_ registry: TestRegistry, _ path: String) async throws -> Int {
    try await HTTPProbe.fetch(registry.url(path), method: "GET").status
  }

  /// Whether the registry has `repository:tag` (HEAD with the manifest media types; a GET
  /// without them gets 404 from docker-registry for OCI indexes whether or not they exist).
  static func hasTag(_ registry: TestRegistry, _ repository: String, _ tag: String) async throws
    -> Bool
  {
    let client = PushTests.client(for: registry, parallel: 1)
    return try await client.manifestDescriptor(repository: repository, reference: tag) != nil
  }

  /// The blob is not in the repository and no image using it has its tag; the others do.
  static func expectNotLanded(
    _ bad: Digest, _ images: GeneratedImages, in registry: TestRegistry, othersPushed: Bool
  ) async throws {
    for image in images.images {
      let uses = image.manifests.contains { $0.layers.contains(bad) }
      if uses {
        #expect(try await status(registry, "/v2/\(image.repository)/blobs/\(bad)") == 404)
        // Platform manifests go early (as soon as their image's blobs are in): never the one
        // naming the bad blob.
        for manifest in image.manifests where manifest.layers.contains(bad) {
          let there = try await hasTag(registry, image.repository, manifest.digest.description)
          #expect(!there, "\(image.repository)@\(manifest.digest)")
        }
      }
      let tagged = try await hasTag(registry, image.repository, image.tag)
      #expect(tagged == (!uses && othersPushed), "\(image.ref)")
    }
  }

  @Test("corrupt layer in the layout: named, never lands; others only with continue-on-error")
  func corruptLayout() async throws {
    let fixture = try await ImportFixture(filePaths: [])
    let bad = try Self.ownLayer(fixture.images)
    try Self.damage(bad, in: fixture.store)
    for continueOnError in [false, true] {
      try await withTestRegistry(.plain) { registry in
        let plan = try PushTests.plan(fixture.store, target: PushTests.target(registry))
        let pusher = ImagePusher(
          client: PushTests.client(for: registry), plan: plan, parallel: 3,
          continueOnError: continueOnError)
        let report = await pusher.push(from: fixture.store)
        let named = report.failed.filter { $0.reason.contains(bad.description) }
        #expect(!named.isEmpty, "\(report.failed)")
        #expect(named.allSatisfy { $0.reason.contains("is corrupt") }, "\(named)")
        try await Self.expectNotLanded(
          bad, fixture.images, in: registry, othersPushed: continueOnError)
        #expect(report.pushed.count == (continueOnError ? fixture.images.images.count - 1 : 0))
      }
    }
  }

  @Test("corrupt layer in the archive, without continue-on-error: nothing tagged, blob named")
  func corruptArchiveStops() async throws {
    let fixture = try await ImportFixture(filePaths: [])
    let bad = try Self.ownLayer(fixture.images)
    let archive = try fixture.pack("bad.tar", damaging: bad)
    try await withTestRegistry(.plain) { registry in
      let report = try await PushTests.pushArchive(archive, to: registry, continueOnError: false)
      #expect(report.pushed.isEmpty, "\(report.pushed)")
      #expect(report.failed.contains { $0.reason.contains(bad.description) }, "\(report.failed)")
      try await Self.expectNotLanded(bad, fixture.images, in: registry, othersPushed: false)
    }
  }

  @Test("a damaged gzip artifact read by offset: the layer's crc32 names it, it never lands")
  func damagedMemberInAGzipArtifact() async throws {
    let fixture = try await ImportFixture(filePaths: [])
    let bad = try Self.ownLayer(fixture.images)
    let archive = try fixture.pack("damaged.tar.gz")
    let map = try #require(try ArchiveMap.map(path: archive))
    guard case .members(let spans)? = map.entries["blobs/sha256/\(bad.encoded)"]?.placement,
      let span = spans.first, span.data > 16
    else {
      Issue.record("the layer is not a member of its own")
      return
    }
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: archive)))
    bytes[Int(span.offset) + MemberLengths.headerSize + 5 + Int(span.data) / 2] ^= 0x40
    try Data(bytes).write(to: URL(fileURLWithPath: archive))
    try await withTestRegistry(.plain) { registry in
      let report = try await PushTests.pushArchive(archive, to: registry, continueOnError: true)
      let named = report.failed.filter { $0.reason.contains(bad.description) }
      #expect(!named.isEmpty, "\(report.failed)")
      #expect(named.allSatisfy { $0.reason.contains("crc32") }, "\(named)")
      try await Self.expectNotLanded(bad, fixture.images, in: registry, othersPushed: true)
    }
  }

  @Test(
    "bytes changed on the way: DIGEST_INVALID names the blob, no manifest refers to it",
    .timeLimit(.minutes(2)))
  func digestInvalidFromTheRegistry() async throws {
    let fixture = try await ImportFixture(filePaths: [])
    try await withTestRegistry(.plain) { registry in
      // One request per connection; every 2nd has its byte 20000 flipped on the way in:
      // blob uploads larger than that reach the registry with wrong bytes, small requests
      // (manifests, configs) pass untouched.
      try await withScriptServer(
        "faultproxy.py", ["--upstream", registry.host, "--every", "2", "--flip-at", "20000"],
        logDirectory: fixture.scratch.path
      ) { proxy in
        let client = RegistryClient(
          host: proxy.host, options: RegistryOptions(scheme: .http),
          pool: TransferPool(threads: 2, options: TransportOptions(reuseConnections: false)))
        let plan = try PushTests.plan(fixture.store, target: PushFaultTests.target(proxy.host))
        let report = await ImagePusher(
          client: client, plan: plan, parallel: 2, continueOnError: true
        ).push(from: fixture.store)
        #expect(!proxy.lines(startingWith: "FLIP ").isEmpty)
        #expect(!report.failed.isEmpty, "some upload must have met a flipped byte")
        let sizes = Dictionary(
          plan.blobUses.map { ($0.blob.digest, $0.blob.size) }, uniquingKeysWith: { a, _ in a })
        for failure in report.failed {
          #expect(failure.reason.contains("DIGEST_INVALID"), "\(failure)")
          let named = try #require(sizes.keys.first { failure.reason.contains($0.description) })
          #expect(sizes[named].map { $0 > 19_000 } == true)
          let image = try #require(fixture.images.images.first { failure.image.hasSuffix($0.ref) })
          #expect(
            try await Self.status(registry, "/v2/\(image.repository)/blobs/\(named)") == 404)
          let tagged = try await Self.hasTag(registry, image.repository, image.tag)
          #expect(!tagged, "\(image.ref)")
        }
        #expect(report.pushed.count + report.failed.count == fixture.images.images.count)
        for image in fixture.images.images
        where !report.failed.contains(where: {
          $0.image.hasSuffix(image.ref)
        }) {
          let tagged = try await Self.hasTag(registry, image.repository, image.tag)
          #expect(tagged, "\(image.ref)")
        }
      }
    }
  }
}
