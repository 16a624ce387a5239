import Blobstore
import Foundation
import OCI
import Testing

@testable import Artifact
@testable import TestSupport

@Suite("kk image copy: registries and OCI layouts")
struct ImageCopyTests {
  @Test func locationsParseLikeSkopeo() throws {
    #expect(
      try ImageLocation(parsing: "docker://127.0.0.1:5000/a/b:v1")
        == .registry(try Reference(parsing: "127.0.0.1:5000/a/b:v1")))
    #expect(
      try ImageLocation(parsing: "oci:/tmp/x:app") == .layout(path: "/tmp/x", reference: "app"))
    #expect(try ImageLocation(parsing: "oci:/tmp/x") == .layout(path: "/tmp/x", reference: nil))
    #expect(
      try ImageLocation(parsing: "oci:rel/dir:v1.0") == .layout(path: "rel/dir", reference: "v1.0"))
    #expect(throws: ImageCopyError.self) { try ImageLocation(parsing: "docker-archive:/x.tar") }
    #expect(throws: ImageCopyError.self) { try ImageLocation(parsing: "docker://Bad Name") }
  }

  @Test("docker -> oci -> docker round trip keeps every digest; skopeo reads both")
  func roundTrip() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-copytest")
    defer { scratch.remove() }
    try await withTestRegistry(.token) { registry in
      let images = try await TestImages.generate(into: scratch.path + "/gen", preset: .small)
      try await TestImages.push(images, to: registry)
      let image = try #require(images.images.first)
      let creds = try #require(registry.credentials)
      var access = RegistryOptions(scheme: .http)
      access.credentials = RegistryCredentials(username: creds.username, password: creds.password)
      let options = ImageCopyOptions(source: access, destination: access, parallel: 3)
      let copier = ImageCopier(pool: TransferPool(threads: 3))

      let layout = scratch.path + "/layout"
      let pulled = try await copier.copy(
        from: .registry(try Reference(parsing: "\(registry.host)/\(image.ref)")),
        to: .layout(path: layout, reference: "app"), options: options)
      #expect(pulled.digest == image.digest)
      let fromLayout = try await ProcessRunner.checked(
        "skopeo", ["inspect", "--raw", "oci:\(layout):app"])
      #expect(SHA256Hasher.digest(Array(fromLayout.stdoutData)) == image.digest)
      let report = try await BlobStore.open(at: layout).verify()
      #expect(report.errors.isEmpty)

      let pushed = try await copier.copy(
        from: .layout(path: layout, reference: "app"),
        to: .registry(try Reference(parsing: "\(registry.host)/kk-copy/app:back")), options: options
      )
      #expect(pushed.digest == image.digest)
      let back = try await RegistryTestSetupCopy.raw(registry, "kk-copy/app:back")
      #expect(SHA256Hasher.digest(back) == image.digest)

      // Same registry, other repository: blobs are mounted, the image is identical.
      let mounted = try await copier.copy(
        from: .registry(try Reference(parsing: "\(registry.host)/\(image.ref)")),
        to: .registry(try Reference(parsing: "\(registry.host)/kk-copy/mounted:v1")),
        options: options)
      #expect(mounted.digest == image.digest)
    }
  }

  /// A layout-to-layout copy used to start only `parallel` blob copies and never the rest
  /// (the slots freed by local copies were not refilled), yet reported success: with
  /// `--parallel 1` one blob of ten arrived.
  @Test("oci -> oci copies every blob whatever the parallelism; skopeo reads the copy")
  func layoutToLayoutCopiesEveryBlob() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-copy-oci")
    defer { scratch.remove() }
    let images = try await TestImages.generate(into: scratch.path + "/gen", preset: .small)
    let image = try #require(images.images.first)
    for parallel in [1, 2] {
      let destination = scratch.path + "/copy-\(parallel)"
      let copier = ImageCopier(pool: TransferPool(threads: 1))
      let copied = try await copier.copy(
        from: .layout(path: images.layout, reference: image.ref),
        to: .layout(path: destination, reference: "x"),
        options: ImageCopyOptions(parallel: parallel))
      #expect(copied.digest == image.digest)
      let report = try await BlobStore.open(at: destination).verify()
      #expect(report.errors.isEmpty, "\(report.errors)")
      // Every layer of every platform is there (configs are checked by verify above).
      let written = Set(
        try FileManager.default.contentsOfDirectory(atPath: destination + "/blobs/sha256"))
      let layers = Set(image.manifests.flatMap(\.layers).map(\.encoded))
      #expect(layers.isSubset(of: written), "missing: \(layers.subtracting(written))")
      // skopeo reads every blob of the copy.
      _ = try await ProcessRunner.checked(
        "skopeo",
        ["copy", "--all", "oci:\(destination):x", "oci:\(scratch.path)/back-\(parallel):x"])
    }
  }

  /// A corrupt blob in a source layout is named with its file and the way to check the
  /// layout (not "fetch the blob again"), and the destination layout the copy would have
  /// created is not left behind half-written.
  @Test("a corrupt blob in a source layout is named; the new destination is removed")
  func corruptLayoutBlobIsNamedAndNothingIsLeft() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-copy-bad")
    defer { scratch.remove() }
    let images = try await TestImages.generate(into: scratch.path + "/gen", preset: .small)
    let image = try #require(images.images.first)
    let layer = try #require(image.manifests.first?.layers.first)
    let file = images.layout + "/blobs/sha256/" + layer.encoded
    let handle = try #require(FileHandle(forUpdatingAtPath: file))
    try handle.seek(toOffset: 10)
    try handle.write(contentsOf: Data([0x42]))
    try handle.close()
    let destination = scratch.path + "/copy"
    let copier = ImageCopier(pool: TransferPool(threads: 1))
    let error = await #expect(throws: ImageCopyError.self) {
      _ = try await copier.copy(
        from: .layout(path: images.layout, reference: image.ref),
        to: .layout(path: destination, reference: "x"), options: ImageCopyOptions(parallel: 2))
    }
    #expect(error?.description.contains("blob \(layer) in \(file) is corrupt") == true)
    #expect(error?.description.contains("run kk artifact verify -a \(images.layout)") == true)
    #expect(!FileManager.default.fileExists(atPath: destination))
  }

  @Test("registry to another registry: blobs staged, verified, uploaded, and the staging emptied")
  func registryToRegistry() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-copytest")
    defer { scratch.remove() }
    try await withTestRegistry(.plain) { registry in
      let images = try await TestImages.generate(into: scratch.path + "/gen", preset: .small)
      try await TestImages.push(images, to: registry)
      let image = try #require(images.images.last)
      let staging = scratch.path + "/staging"
      let options = ImageCopyOptions(
        source: RegistryOptions(scheme: .http), destination: RegistryOptions(scheme: .http),
        parallel: 2, stagingDirectory: staging)
      let copier = ImageCopier(pool: TransferPool(threads: 2))
      // "localhost" is another registry name for the client: no mount, a real transfer.
      let result = try await copier.copy(
        from: .registry(try Reference(parsing: "\(registry.host)/\(image.ref)")),
        to: .registry(try Reference(parsing: "localhost:\(registry.port)/kk-other/img:v1")),
        options: options)
      #expect(result.digest == image.digest)
      let back = try await RegistryTestSetupCopy.raw(registry, "kk-other/img:v1")
      #expect(SHA256Hasher.digest(back) == image.digest)
      let left = try FileManager.default.contentsOfDirectory(atPath: staging + "/blobs/sha256")
      #expect(left.isEmpty)
    }
  }

  @Test("--platform keeps one platform, writes a new index and records the upstream digest")
  func platformFilter() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-copytest")
    defer { scratch.remove() }
    try await withTestRegistry(.plain) { registry in
      let images = try await TestImages.generate(into: scratch.path + "/gen", preset: .small)
      try await TestImages.push(images, to: registry)
      let image = try #require(images.images.first)
      let arm = try #require(image.manifests.first { $0.platform.architecture == "arm64" })
      let options = ImageCopyOptions(
        platforms: [try Platform(parsing: "linux/arm64")],
        source: RegistryOptions(scheme: .http), destination: RegistryOptions(scheme: .http))
      let copier = ImageCopier(pool: TransferPool(threads: 2))
      let layout = scratch.path + "/layout"
      let result = try await copier.copy(
        from: .registry(try Reference(parsing: "\(registry.host)/\(image.ref)")),
        to: .layout(path: layout, reference: nil), options: options)
      #expect(result.upstreamDigest == image.digest)
      #expect(result.digest != image.digest)
      let store = try BlobStore.open(at: layout)
      let entry = try #require(try store.images().first)
      #expect(entry.reference == "\(registry.host)/\(image.ref)")
      #expect(entry.descriptor.digest == result.digest)
      #expect(entry.descriptor.annotation(AnnotationKey.upstreamDigest) == image.digest.description)
      let index = try JSONDecoder().decode(
        ImageIndex.self, from: Data(try store.readJSON(result.digest)))
      #expect(index.manifests.map(\.digest) == [arm.digest])
      for layer in arm.layers { #expect(store.contains(layer)) }
      let amd = try #require(image.manifests.first { $0.platform.architecture == "amd64" })
      #expect(!store.contains(amd.digest))
    }
  }

  @Test("a blob the registry serves with wrong bytes fails the copy, naming it; nothing is stored")
  func corruptRegistryBlobIsRefused() async throws {
    // The layout writer is the only digest check on this path (the client does not hash a
    // DigestVerifyingSink's bytes a second time), so this is what keeps bad bytes out.
    let scratch = try TemporaryDirectory(prefix: "kk-copytest")
    defer { scratch.remove() }
    try await withTestRegistry(.plain) { registry in
      let images = try await TestImages.generate(into: scratch.path + "/gen", preset: .small)
      try await TestImages.push(images, to: registry)
      let image = try #require(images.images.first)
      let layer = try #require(image.manifests.first?.layers.first)
      // Same size, one bit flipped, straight in docker-registry's storage.
      let hex = layer.encoded
      let data =
        "\(registry.storagePath)/docker/registry/v2/blobs/sha256/\(hex.prefix(2))/\(hex)/data"
      var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: data)))
      bytes[bytes.count / 2] ^= 0x10
      try Data(bytes).write(to: URL(fileURLWithPath: data))

      // A layout that existed before the copy: kept, with nothing of the failed copy in it
      // (a layout the copy creates is removed; see corruptLayoutBlobIsNamedAndNothingIsLeft).
      let layout = scratch.path + "/layout"
      _ = try BlobStore.create(at: layout)
      let copier = ImageCopier(pool: TransferPool(threads: 2))
      let options = ImageCopyOptions(source: RegistryOptions(scheme: .http), parallel: 2)
      let source = ImageLocation.registry(try Reference(parsing: "\(registry.host)/\(image.ref)"))
      do throws(ImageCopyError) {
        _ = try await copier.copy(
          from: source, to: .layout(path: layout, reference: "app"), options: options)
        Issue.record("the copy accepted a corrupt blob")
      } catch .registry(.digestMismatch(let what, let expected, let actual)) {
        #expect(expected == layer)
        #expect(actual != layer)
        #expect(what.contains(layer.description) && what.contains(registry.host))
      } catch {
        Issue.record("unexpected error: \(error)")
      }
      let store = try BlobStore.open(at: layout)
      #expect(!store.contains(layer))
      #expect(try store.images().isEmpty, "no index entry for a copy that failed")
      let ingest = try FileManager.default.contentsOfDirectory(atPath: store.ingestDirectory)
      #expect(ingest.filter { $0.hasSuffix(".partial") }.isEmpty)
    }
  }
}

enum RegistryTestSetupCopy {
  static func raw(_ registry: TestRegistry, _ repositoryAndTag: String) async throws -> [UInt8] {
    let output = try await ProcessRunner.checked(
      "skopeo",
      ["inspect", "--raw"] + registry.skopeoFlags(.inspect)
        + [registry.dockerReference(repositoryAndTag)])
    return Array(output.stdoutData)
  }
}
