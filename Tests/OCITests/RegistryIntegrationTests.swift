import Foundation
import OCI
import Testing

@testable import TestSupport

/// The registry client against real docker-registry instances (plain, TLS + basic, bearer
/// token), with images pushed by skopeo: what we pull must match what skopeo pushed, byte for
/// byte, and what we push must read back identically through skopeo.
@Suite("Registry client against docker-registry", .serialized)
struct RegistryIntegrationTests {
  @Test(
    "pull skopeo-pushed images, push them back, skopeo reads identical bytes",
    arguments: TestRegistry.Mode.allCases)
  func roundTrip(mode: TestRegistry.Mode) async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-regtest")
    defer { scratch.remove() }
    try await withTestRegistry(mode) { registry in
      let images = try await RegistryTestSetup.seed(registry, into: scratch)
      let pool = TransferPool(threads: 4)
      let client = RegistryClient(
        host: registry.host, options: RegistryTestSetup.options(for: registry), pool: pool)
      for image in images.images.prefix(2) {
        let graph = try await client.fetchImageGraph(
          repository: image.repository, reference: image.tag)
        let root = try #require(graph.root)
        #expect(root.digest == image.digest)
        #expect(root.bytes == (try await RegistryTestSetup.skopeoRaw(registry, image.ref)))
        #expect(graph.manifests.count == image.manifests.count + 1)
        let expectedBlobs = Set(image.manifests.flatMap(\.layers))
        #expect(expectedBlobs.isSubset(of: Set(graph.blobs.map(\.digest))))

        // Pull every blob to a file, verified while streaming.
        for blob in graph.blobs {
          let sink = try FileSink(path: scratch.path + "/" + blob.digest.encoded)
          try await client.fetchBlob(repository: image.repository, descriptor: blob, into: sink)
          let size = try FileManager.default.attributesOfItem(atPath: sink.path)[.size] as? Int
          #expect(size.map(Int64.init) == blob.size)
        }

        // Push under a new name: blobs mounted or uploaded, manifests byte-for-byte.
        let target = "kk-copy/" + image.repository.split(separator: "/").last.map(String.init)!
        try await client.pushImageGraph(
          graph, repository: target, tag: "copied", parallel: 3, mountFrom: nil
        ) { blob in
          try FileSource(path: scratch.path + "/" + blob.digest.encoded)
        }
        #expect(try await RegistryTestSetup.skopeoRaw(registry, target + ":copied") == root.bytes)
        let child = try #require(graph.manifests.first)
        let childBack = try await client.manifest(
          repository: target, reference: child.digest.description)
        #expect(childBack.bytes == child.bytes)
        let head = try await client.manifestDescriptor(repository: target, reference: "copied")
        #expect(head?.digest == root.digest)
        #expect(head?.size == root.size)
        // A second push finds everything present.
        let again = try await client.pushBlob(
          repository: target, descriptor: graph.blobs[0]
        ) { try FileSource(path: scratch.path + "/" + graph.blobs[0].digest.encoded) }
        #expect(again == .existed)
      }
    }
  }

  @Test("cross-repository mount, chunked upload, and a platform-filtered index")
  func mountChunkedAndPlatforms() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-regtest")
    defer { scratch.remove() }
    try await withTestRegistry(.token) { registry in
      let images = try await RegistryTestSetup.seed(registry, into: scratch)
      var options = RegistryTestSetup.options(for: registry)
      options.chunkedUploadThreshold = 0
      options.chunkSize = 100_000
      let client = RegistryClient(
        host: registry.host, options: options, pool: TransferPool(threads: 2))
      let image = try #require(images.images.first)
      let graph = try await client.fetchImageGraph(
        repository: image.repository, reference: image.tag)
      let blob = try #require(graph.blobs.max { $0.size < $1.size })
      let file = scratch.path + "/blob"
      try await client.fetchBlob(
        repository: image.repository, descriptor: blob, into: FileSink(path: file))

      let mounted = try await client.pushBlob(
        repository: "kk-mount/target", descriptor: blob, mountFrom: image.repository
      ) { try FileSource(path: file) }
      #expect(mounted == .mounted)

      #expect(blob.size > 3 * 100_000)
      let uploaded = try await client.pushBlob(repository: "kk-chunked/target", descriptor: blob) {
        try FileSource(path: file)
      }
      #expect(uploaded == .uploaded)
      let back = BufferSink()
      try await client.fetchBlob(repository: "kk-chunked/target", descriptor: blob, into: back)
      #expect(SHA256Hasher.digest(back.bytes) == blob.digest)

      let platform = try Platform(parsing: "linux/arm64")
      let filtered = try await client.fetchImageGraph(
        repository: image.repository, reference: image.tag, platforms: [platform])
      let root = try #require(filtered.root)
      #expect(filtered.upstreamDigest == image.digest)
      #expect(root.index?.manifests.count == 1)
      #expect(root.index?.manifests.first?.platform?.architecture == "arm64")
      #expect(filtered.manifests.count == 2)
      let wanted = image.manifests.filter { $0.platform.architecture == "arm64" }.map(\.digest)
      #expect(filtered.manifests.first.map { [$0.digest] } == wanted)

      await #expect(throws: RegistryError.self) {
        _ = try await client.fetchImageGraph(
          repository: image.repository, reference: image.tag,
          platforms: [try Platform(parsing: "linux/s390x")])
      }
    }
  }

  @Test("token mode: concurrent cold requests share one token per scope")
  func oneTokenPerScope() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-regtest")
    defer { scratch.remove() }
    try await withTestRegistry(.token) { registry in
      let images = try await RegistryTestSetup.seed(registry, into: scratch)
      let image = try #require(images.images.first)
      let log = try #require(registry.tokenLogPath)
      func issued() -> Int {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").filter {
          $0.contains("\"repository:\(image.repository):pull\"") && $0.contains("\"access\"")
        }.count
      }
      let before = issued()
      let client = RegistryClient(
        host: registry.host, options: RegistryTestSetup.options(for: registry),
        pool: TransferPool(threads: 4))
      let layers = Array(Set(image.manifests.flatMap(\.layers)))
      #expect(layers.count >= 4)
      try await withThrowingTaskGroup(of: Bool.self) { group in
        for layer in layers {
          group.addTask {
            try await client.blobSize(repository: image.repository, digest: layer) != nil
          }
        }
        for try await found in group { #expect(found) }
      }
      #expect(issued() - before == 1)
    }
  }

  @Test("wrong password, unknown tag, missing repository, TLS without the CA: typed errors")
  func typedErrors() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-regtest")
    defer { scratch.remove() }
    let pool = TransferPool(threads: 2)
    try await withTestRegistry(.tlsBasicAuth) { registry in
      let images = try await RegistryTestSetup.seed(registry, into: scratch)
      let image = try #require(images.images.first)
      let good = RegistryClient(
        host: registry.host, options: RegistryTestSetup.options(for: registry), pool: pool)

      let wrong = RegistryClient(
        host: registry.host,
        options: RegistryTestSetup.options(
          for: registry, credentials: RegistryCredentials(username: "kk", password: "nope")),
        pool: pool)
      do throws(RegistryError) {
        _ = try await wrong.manifest(repository: image.repository, reference: image.tag)
        Issue.record("wrong password was accepted")
      } catch {
        guard case .unauthorized(let host, _, _, _) = error else {
          Issue.record("expected unauthorized, got \(error)")
          return
        }
        #expect(host == registry.host)
        #expect(
          error.description.contains("check the user name and password given for \(registry.host)"))
      }

      do throws(RegistryError) {
        _ = try await good.manifest(repository: image.repository, reference: "no-such-tag")
        Issue.record("unknown tag was found")
      } catch {
        guard case .manifestUnknown(_, let repository, let reference) = error else {
          Issue.record("expected manifestUnknown, got \(error)")
          return
        }
        #expect(repository == image.repository)
        #expect(reference == "no-such-tag")
        #expect(
          error.description
            == "manifest unknown: \(image.repository):no-such-tag does not exist on \(registry.host); check the image name and tag"
        )
      }

      do throws(RegistryError) {
        _ = try await good.manifest(repository: "kk-test/never-pushed", reference: "v1")
        Issue.record("missing repository was found")
      } catch {
        switch error {
        case .nameUnknown(_, let repository), .manifestUnknown(_, let repository, _):
          #expect(repository == "kk-test/never-pushed")
        default: Issue.record("expected nameUnknown/manifestUnknown, got \(error)")
        }
      }

      let missingBlob = try Digest(parsing: "sha256:" + String(repeating: "ab", count: 32))
      await #expect(throws: RegistryError.self) {
        try await good.fetchBlob(
          repository: image.repository,
          descriptor: Descriptor(mediaType: MediaType.ociLayerGzip, digest: missingBlob, size: 3),
          into: BufferSink())
      }

      let noCA = RegistryClient(
        host: registry.host, options: RegistryTestSetup.options(for: registry, useCA: false),
        pool: pool)
      do throws(RegistryError) {
        _ = try await noCA.manifest(repository: image.repository, reference: image.tag)
        Issue.record("TLS without the CA succeeded")
      } catch {
        guard case .tlsVerification = error else {
          Issue.record("expected tlsVerification, got \(error)")
          return
        }
        #expect(error.description.contains("--dest-cert-dir"))
      }

      // The transport negotiates HTTP/2 over TLS and hands headers over case-insensitively.
      let ping = try await pool.send(
        HTTPRequest(
          method: "GET", url: registry.url("/v2/"), tls: TLSOptions(caFile: registry.caCertPath)))
      #expect(ping.httpVersion == 2)
      #expect(ping.status == 401)
      #expect(ping.headers["www-authenticate"]?.hasPrefix("Basic realm=") == true)
      #expect(ping.headers["Docker-Distribution-API-Version"] == "registry/2.0")

      // Verification off reaches it without the CA.
      var insecure = RegistryTestSetup.options(for: registry, useCA: false)
      insecure.tls.verify = false
      let skip = RegistryClient(host: registry.host, options: insecure, pool: pool)
      #expect(
        try await skip.manifest(repository: image.repository, reference: image.tag).digest
          == image.digest)
    }
  }

  @Test("token mode: wrong password and push without push rights are refused")
  func tokenRefusals() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-regtest")
    defer { scratch.remove() }
    try await withTestRegistry(.token) { registry in
      let images = try await RegistryTestSetup.seed(registry, into: scratch)
      let image = try #require(images.images.first)
      let pool = TransferPool(threads: 2)
      let wrong = RegistryClient(
        host: registry.host,
        options: RegistryTestSetup.options(
          for: registry, credentials: RegistryCredentials(username: "kk", password: "nope")),
        pool: pool)
      await #expect(throws: RegistryError.self) {
        _ = try await wrong.manifest(repository: image.repository, reference: image.tag)
      }
      let reader = RegistryClient(
        host: registry.host,
        options: RegistryTestSetup.options(
          for: registry,
          credentials: RegistryCredentials(
            username: TokenPolicy.reader.username, password: TokenPolicy.reader.password)),
        pool: pool)
      let root = try await reader.manifest(repository: image.repository, reference: image.tag)
      #expect(root.digest == image.digest)
      do throws(RegistryError) {
        try await reader.pushManifest(
          repository: image.repository, reference: "by-reader", bytes: root.bytes,
          mediaType: root.mediaType)
        Issue.record("a pull-only account pushed")
      } catch {
        // The password is right; the token lacks push: say so, don't blame the password.
        guard case .denied(_, let repository, let detail) = error else {
          Issue.record("expected denied (insufficient scope), got \(error)")
          return
        }
        #expect(repository == image.repository)
        #expect(detail?.contains("account '\(TokenPolicy.reader.username)'") == true)
        #expect(!error.description.contains("password"))
      }
    }
  }
}
