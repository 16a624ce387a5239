import Blobstore
import Foundation
import OCI
import TestSupport
import Testing

@testable import Artifact

/// Pushing generated multi-arch images into real docker-registry instances, checked with
/// skopeo (an independent client) for byte-exact digests.
@Suite("ImagePusher", .serialized)
struct PushTests {
  static func client(for registry: TestRegistry, parallel: Int = 4) -> RegistryClient {
    var options = RegistryOptions(scheme: registry.usesTLS ? .https : .http)
    if let credentials = registry.credentials {
      options.credentials = RegistryCredentials(
        username: credentials.username, password: credentials.password)
    }
    if let ca = registry.caCertPath {
      options.tls.caPEM = FileManager.default.contents(atPath: ca).map { [UInt8]($0) }
    }
    return RegistryClient(
      host: registry.host, options: options, pool: TransferPool(threads: parallel))
  }

  static func target(_ registry: TestRegistry) -> (Reference) throws -> Reference? {
    let config = ClusterRegistryConfig(privateRegistry: .init(host: registry.host))
    return { try config.pushTarget(for: $0) }
  }

  static func pushArchive(
    _ path: String, to registry: TestRegistry, continueOnError: Bool = false,
    log: @escaping @Sendable (String) -> Void = { _ in }
  ) async throws -> PushReport {
    let client = client(for: registry)
    let result = try await ImagePusher.pushArchive(
      path: path, target: target(registry), patterns: [], log: log,
      makePusher: { ImagePusher(client: client, plan: $0, continueOnError: continueOnError) })
    return try #require(result.report)
  }

  /// The plan of every image of a layout directory.
  static func plan(_ store: BlobStore, target: (Reference) throws -> Reference?) throws -> PushPlan
  {
    let index = [UInt8](try Data(contentsOf: URL(fileURLWithPath: store.root + "/index.json")))
    let outcome = try PushPlanner.plan(
      indexJSON: index, manifest: { try? store.readJSON($0) }, target: target)
    guard case .complete(let plan) = outcome else {
      throw PushError.source("plan of \(store.root) incomplete")
    }
    return plan
  }

  /// Every image's index and platform manifests, as skopeo reads them, hash to the
  /// generator's digests.
  static func expectDigestsPreserved(_ images: GeneratedImages, in registry: TestRegistry)
    async throws
  {
    for image in images.images {
      let raw = try await registry.rawManifest(image.ref)
      #expect(SHA256Hasher.digest([UInt8](raw)) == image.digest, "\(image.ref)")
      for manifest in image.manifests {
        let child = try await registry.rawManifest("\(image.repository)@\(manifest.digest)")
        #expect(SHA256Hasher.digest([UInt8](child)) == manifest.digest)
      }
    }
  }

  @Test(arguments: [TestRegistry.Mode.plain, .tlsBasicAuth, .token])
  func archivePushKeepsDigestsAndRepushSendsNothing(_ mode: TestRegistry.Mode) async throws {
    let fixture = try await ImportFixture(filePaths: ["kube/v1.22.12/amd64/kubeadm"])
    let archive = try fixture.pack("a.tar.gz")
    try await withTestRegistry(mode) { registry in
      let report = try await Self.pushArchive(archive, to: registry)
      #expect(report.failed.isEmpty, "\(report.failed)")
      #expect(report.pushed.count == fixture.images.images.count)
      #expect(report.secondPassBlobs == 0)
      #expect(report.blobsUploaded > 0)
      #expect(report.blobsMounted > 0, "shared layers should be mounted, not re-sent")
      try await Self.expectDigestsPreserved(fixture.images, in: registry)

      // Re-push from the directory: every blob already there, nothing sent.
      let store = try BlobStore.open(at: fixture.images.layout)
      let index = [UInt8](try Data(contentsOf: URL(fileURLWithPath: store.root + "/index.json")))
      let outcome = try PushPlanner.plan(
        indexJSON: index, manifest: { try? store.readJSON($0) }, target: Self.target(registry))
      guard case .complete(let plan) = outcome else {
        Issue.record("plan incomplete")
        return
      }
      let again = await ImagePusher(client: Self.client(for: registry), plan: plan).push(
        from: store)
      #expect(again.failed.isEmpty, "\(again.failed)")
      #expect(again.bytesSent == 0)
      #expect(again.blobsUploaded == 0)
      // Every manifest is already there with the same digest: none is sent again.
      #expect(again.manifestsPushed == 0)
      #expect(again.manifestsPresent == report.manifestsPushed)
      #expect(again.blobsPresent == plan.blobUses.reduce(0) { $0 + $1.repositories.count })
    }
  }

  /// A re-push learns from HEADs that the registry has every blob and stops reading the
  /// archive after the manifests: an archive read as a stream (gzip'd by another tool, so
  /// not mapped) and cut off in its blobs still re-pushes, while a first push of it fails
  /// (so the test would notice a re-push that reads on). A mapped archive cut short is
  /// refused when it is mapped (ArchiveMapTests).
  @Test func archiveRepushStopsReadingOnceEverythingIsThere() async throws {
    let fixture = try await ImportFixture(filePaths: [])
    let tar = try fixture.pack("a.tar")
    let archive = fixture.scratch.path + "/a-gzip.tar.gz"
    try await ProcessRunner.checked("/bin/sh", ["-c", "gzip -1 -c '\(tar)' > '\(archive)'"])
    let size = try #require(
      try FileManager.default.attributesOfItem(atPath: archive)[.size] as? Int)
    let handle = try #require(FileHandle(forWritingAtPath: archive))
    try handle.truncate(atOffset: UInt64(size * 6 / 10))
    try handle.close()
    try await withTestRegistry(.plain) { registry in
      await #expect(throws: (any Error).self) {
        let report = try await Self.pushArchive(archive, to: registry)
        if !report.failed.isEmpty { throw PushError.source("\(report.failed)") }
      }
    }
    try await withTestRegistry(.plain) { registry in
      let plan = try Self.plan(fixture.store, target: Self.target(registry))
      let first = await ImagePusher(client: Self.client(for: registry), plan: plan).push(
        from: fixture.store)
      #expect(first.failed.isEmpty, "\(first.failed)")
      let again = try await Self.pushArchive(archive, to: registry)
      #expect(again.failed.isEmpty, "\(again.failed)")
      #expect(again.bytesSent == 0)
      #expect(again.blobsPresent == plan.blobUses.reduce(0) { $0 + $1.repositories.count })
      #expect(again.pushed.count == fixture.images.images.count)
    }
  }

  @Test func tarOfLayoutInAnyOrderIsPushedWithASecondPass() async throws {
    let fixture = try await ImportFixture(filePaths: [])
    let archive = try fixture.systemTar("layout.tgz")
    try await withTestRegistry(.plain) { registry in
      let lines = LogLines()
      let report = try await Self.pushArchive(archive, to: registry, log: lines.append)
      #expect(report.failed.isEmpty, "\(report.failed)")
      try await Self.expectDigestsPreserved(fixture.images, in: registry)
      if report.secondPassBlobs > 0 {
        #expect(lines.all.contains { $0.contains("pass 2") })
      }
    }
  }

  @Test func corruptBlobNeverLandsAndIsNamed() async throws {
    let fixture = try await ImportFixture(filePaths: [])
    let image = try #require(fixture.images.images.first)
    let bad = try #require(image.manifests.first?.layers.last)
    let archive = try fixture.pack("bad.tar", damaging: bad)
    try await withTestRegistry(.plain) { registry in
      let report = try await Self.pushArchive(archive, to: registry, continueOnError: true)
      let failure = try #require(report.failed.first { $0.image.hasSuffix(image.ref) })
      #expect(failure.reason.contains(bad.description), "\(failure)")
      let blob = try await HTTPProbe.fetch(
        registry.url("/v2/\(image.repository)/blobs/\(bad)"), method: "GET")
      #expect(blob.status == 404)
      let tagged = try await PushCorruptTests.hasTag(registry, image.repository, image.tag)
      #expect(!tagged)
      // The images not using the bad blob are pushed.
      let using = Set(
        fixture.images.images.filter { $0.manifests.contains { $0.layers.contains(bad) } }.map(
          \.ref))
      #expect(report.pushed.count == fixture.images.images.count - using.count)
    }
  }
}

/// Collects log lines from the pusher's log callback.
final class LogLines: @unchecked Sendable {
  private let lock = NSLock()
  private var lines: [String] = []
  var all: [String] { lock.withLock { lines } }
  @Sendable func append(_ line: String) { lock.withLock { lines.append(line) } }
}
