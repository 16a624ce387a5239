import Blobstore
import Foundation
import OCI
import TestSupport
import Testing

@testable import Artifact

/// The re-push fast path: an image whose tag already names the artifact's root digest is
/// complete in the registry, so the pusher asks nothing about its blobs or manifests. The
/// requests are counted from docker-registry's own access log.
@Suite("Push: re-push fast path", .serialized)
struct PushRepushFastPathTests {
  static func blobHEADs(_ requests: [LoggedRequest]) -> [LoggedRequest] {
    requests.filter { $0.method == "HEAD" && $0.uri.contains("/blobs/") }
  }

  @Test("a re-push (directory and archive) sends no blob HEAD and no manifest PUT")
  func completeImagesAskOnlyForTheirTags() async throws {
    let fixture = try await ImportFixture(filePaths: [])
    let archive = try fixture.pack("a.tar.gz")
    try await withTestRegistry(.plain) { registry in
      let plan = try PushTests.plan(fixture.store, target: PushTests.target(registry))
      let first = await ImagePusher(client: PushTests.client(for: registry), plan: plan).push(
        from: fixture.store)
      #expect(first.failed.isEmpty, "\(first.failed)")
      #expect(first.blobsUploaded > 0)

      for source in ["directory", "archive"] {
        try await registry.settledLog()
        let mark = try registry.logSize()
        let again: PushReport
        if source == "directory" {
          again = await ImagePusher(client: PushTests.client(for: registry), plan: plan).push(
            from: fixture.store)
        } else {
          again = try await PushTests.pushArchive(archive, to: registry)
        }
        try await registry.settledLog()
        let requests = try registry.loggedRequests(after: mark)
        #expect(again.failed.isEmpty, "\(source): \(again.failed)")
        #expect(again.pushed.count == fixture.images.images.count, "\(source)")
        #expect(again.bytesSent == 0 && again.blobsUploaded == 0 && again.manifestsPushed == 0)
        // Counted as before: one per (blob, repository) pair, one per manifest reference.
        #expect(again.blobsPresent == plan.blobUses.reduce(0) { $0 + $1.repositories.count })
        #expect(again.manifestsPresent == first.manifestsPushed, "\(source)")
        #expect(Self.blobHEADs(requests).isEmpty, "\(source): \(Self.blobHEADs(requests))")
        // One HEAD per image tag, and nothing else about manifests or blobs.
        let tags = Set(
          plan.images.flatMap { image in
            image.tags.map { "/v2/\(image.repository)/manifests/\($0)" }
          })
        let asked = requests.filter {
          $0.uri.hasPrefix("/v2/") && $0.uri != "/v2/" && !$0.uri.hasPrefix("/v2/_catalog")
        }
        #expect(asked.allSatisfy { $0.method == "HEAD" && tags.contains($0.uri) }, "\(asked)")
        #expect(Set(asked.map(\.uri)) == tags, "\(source)")
      }
    }
  }

  @Test("a first push into an empty registry asks the catalog once instead of a HEAD each")
  func firstPushAsksTheCatalog() async throws {
    let fixture = try await ImportFixture(filePaths: [])
    try await withTestRegistry(.plain) { registry in
      let plan = try PushTests.plan(fixture.store, target: PushTests.target(registry))
      let report = await ImagePusher(client: PushTests.client(for: registry), plan: plan).push(
        from: fixture.store)
      #expect(report.failed.isEmpty, "\(report.failed)")
      #expect(report.blobsPresent == 0)
      try await registry.settledLog()
      let requests = try registry.loggedRequests(after: 0)
      #expect(requests.filter { $0.uri.hasPrefix("/v2/_catalog") }.count == 1)
      #expect(
        !requests.contains { $0.method == "HEAD" }, "\(requests.filter { $0.method == "HEAD" })")
      try await PushTests.expectDigestsPreserved(fixture.images, in: registry)

      // Now every repository is listed: the re-push asks about tags as before and sends
      // nothing.
      let again = await ImagePusher(client: PushTests.client(for: registry), plan: plan).push(
        from: fixture.store)
      #expect(again.failed.isEmpty && again.blobsUploaded == 0)
    }
  }

  @Test("a digest-only image is found complete by its sha256-<hex> tag")
  func digestOnlyImageIsFoundByItsDigestTag() async throws {
    let fixture = try await ImportFixture(filePaths: [])
    // Name the first image by its digest alone, as an export of `repo@sha256:...` does.
    let path = fixture.store.root + "/index.json"
    var index = try JSONDecoder().decode(
      ImageIndex.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    let position = try #require(
      index.manifests.firstIndex {
        $0.annotation(AnnotationKey.refName) != nil && $0.annotation(AnnotationKey.path) == nil
          && MediaType.isManifestOrIndex($0.mediaType)
      })
    var entry = index.manifests[position]
    let source = try Reference(parsing: try #require(entry.annotation(AnnotationKey.refName)))
    let pinned = "\(source.registry)/\(source.repository)@\(entry.digest)"
    entry.annotations?[AnnotationKey.refName] = pinned
    entry.annotations?[AnnotationKey.containerdImageName] = nil
    index.manifests[position] = entry
    try JSONEncoder().encode(index).write(to: URL(fileURLWithPath: path))

    try await withTestRegistry(.plain) { registry in
      let plan = try PushTests.plan(fixture.store, target: PushTests.target(registry))
      let image = try #require(plan.images.first { $0.root.digest == entry.digest })
      #expect(image.tags == ["sha256-\(entry.digest.encoded)"])
      let first = await ImagePusher(client: PushTests.client(for: registry), plan: plan).push(
        from: fixture.store)
      #expect(first.failed.isEmpty, "\(first.failed)")

      try await registry.settledLog()
      let mark = try registry.logSize()
      let again = await ImagePusher(client: PushTests.client(for: registry), plan: plan).push(
        from: fixture.store)
      try await registry.settledLog()
      let requests = try registry.loggedRequests(after: mark)
      #expect(again.failed.isEmpty && again.manifestsPushed == 0 && again.bytesSent == 0)
      #expect(Self.blobHEADs(requests).isEmpty, "\(Self.blobHEADs(requests))")
      let tag = "/v2/\(image.repository)/manifests/sha256-\(entry.digest.encoded)"
      #expect(requests.contains { $0.method == "HEAD" && $0.uri == tag }, "\(requests)")
    }
  }

  @Test("a tag pointing at another digest is pushed the normal way and set back")
  func movedTagIsPushedNormally() async throws {
    let fixture = try await ImportFixture(filePaths: [])
    try await withTestRegistry(.plain) { registry in
      let plan = try PushTests.plan(fixture.store, target: PushTests.target(registry))
      let client = PushTests.client(for: registry)
      let first = await ImagePusher(client: client, plan: plan).push(from: fixture.store)
      #expect(first.failed.isEmpty, "\(first.failed)")

      // Point one image's tag at one of its platform manifests (already in the repository,
      // so the registry takes it): the tag now names a different digest.
      let moved = try #require(plan.images.first { $0.manifests.count > 1 })
      let tag = try #require(moved.tags.first)
      let child = try #require(moved.manifests.first { $0.digest != moved.root.digest })
      let childBytes = try fixture.store.readJSON(child.digest)
      try await client.pushManifest(
        repository: moved.repository, reference: tag, bytes: childBytes,
        mediaType: child.mediaType)
      #expect(
        try await client.manifestDescriptor(repository: moved.repository, reference: tag)?.digest
          == child.digest)

      try await registry.settledLog()
      let mark = try registry.logSize()
      let again = await ImagePusher(client: client, plan: plan).push(from: fixture.store)
      try await registry.settledLog()
      let requests = try registry.loggedRequests(after: mark)
      #expect(again.failed.isEmpty, "\(again.failed)")
      #expect(again.bytesSent == 0)
      // Only the moved tag is sent again; its children are found by their own HEADs.
      #expect(again.manifestsPushed == 1)
      let heads = Self.blobHEADs(requests)
      #expect(!heads.isEmpty, "the moved image's blobs must be asked about")
      #expect(
        heads.allSatisfy { $0.uri.hasPrefix("/v2/\(moved.repository)/blobs/") }, "\(heads)")
      #expect(
        requests.contains {
          $0.method == "PUT" && $0.uri == "/v2/\(moved.repository)/manifests/\(tag)"
        })
      #expect(
        try await client.manifestDescriptor(repository: moved.repository, reference: tag)?.digest
          == moved.root.digest)
    }
  }
}
