import Foundation
import Testing

@testable import OCI

/// Checks against bytes and digests that skopeo and docker-registry produced (see
/// ``RegistryFixtures``): kk must compute the same digest and media type they did.
@Suite struct RegistryFixtureTests {
  static let all: [RegistryFixtures.Captured] = [
    RegistryFixtures.dockerManifest, RegistryFixtures.ociManifest, RegistryFixtures.ociIndex,
    RegistryFixtures.dockerManifestList,
  ]

  @Test(arguments: all.map(\.name))
  func digestAndMediaTypeMatchTheRegistry(_ name: String) throws {
    let captured = try #require(Self.all.first { $0.name == name })
    let expected = try Digest(parsing: captured.digest)
    let received = try ManifestBytes(
      bytes: captured.bytes, mediaType: captured.contentType, expected: expected)
    #expect(received.digest == expected)
    #expect(received.mediaType == captured.contentType)
    #expect(received.bytes == captured.bytes)
    // Without the header the document still says what it is.
    #expect(
      try ManifestBytes(bytes: captured.bytes, mediaType: nil).mediaType == captured.contentType)
    #expect(
      try ManifestBytes(bytes: captured.bytes, mediaType: "application/json").digest == expected)
  }

  @Test func reencodingThePrettyPrintedManifestWouldChangeItsDigest() throws {
    let captured = RegistryFixtures.dockerManifest
    let received = try ManifestBytes(bytes: captured.bytes, mediaType: captured.contentType)
    let reencoded = try ManifestBytes(encoding: try #require(received.manifest))
    #expect(reencoded.manifest == received.manifest)
    #expect(reencoded.digest != received.digest)
  }

  @Test func skopeoConversionKeptTheLayer() throws {
    let docker = try #require(
      try ManifestBytes(bytes: RegistryFixtures.dockerManifest.bytes, mediaType: nil).manifest)
    let oci = try #require(
      try ManifestBytes(bytes: RegistryFixtures.ociManifest.bytes, mediaType: nil).manifest)
    #expect(docker.isDocker && !oci.isDocker)
    #expect(docker.config.mediaType == MediaType.dockerConfig)
    #expect(oci.config.mediaType == MediaType.ociConfig)
    #expect(docker.layers.map(\.digest) == oci.layers.map(\.digest))
    #expect(docker.layers[0].mediaType == MediaType.dockerLayerGzip)
    #expect(oci.layers[0].mediaType == MediaType.ociLayerGzip)
  }

  @Test func selectsPlatformsFromTheConvertedList() throws {
    let list = try #require(
      try ManifestBytes(
        bytes: RegistryFixtures.dockerManifestList.bytes,
        mediaType: RegistryFixtures.dockerManifestList.contentType
      ).index)
    let oci = try #require(
      try ManifestBytes(bytes: RegistryFixtures.ociIndex.bytes, mediaType: nil).index)
    #expect(list.isDocker && !oci.isDocker)
    #expect(list.manifests.count == 2 && oci.manifests.count == 2)
    for spelling in ["linux/arm64", "arm64", "linux/aarch64", "linux/arm64/v8"] {
      let platform = try Platform(parsing: spelling)
      #expect(list.manifests(for: platform).map(\.platform?.variant) == ["v8"], "\(spelling)")
      #expect(oci.manifests(for: platform).count == 1)
    }
    #expect(list.manifests(for: try Platform(parsing: "x86_64")).count == 1)
    #expect(list.manifests(for: try Platform(parsing: "linux/arm")).isEmpty)
    // The OCI index points at the OCI manifest captured above.
    let amd64 = oci.manifests(for: try Platform(parsing: "linux/amd64"))
    #expect(amd64.map(\.digest.description) == [RegistryFixtures.ociManifest.digest])
  }

  @Test func readsSkopeoLayoutIndex() throws {
    let captured = RegistryFixtures.skopeoLayoutIndex
    #expect(SHA256Hasher.digest(captured.bytes).description == captured.digest)
    let layout = try ManifestBytes(bytes: captured.bytes, mediaType: nil)
    #expect(layout.mediaType == MediaType.ociIndex)
    let index = try #require(layout.index)
    #expect(index.mediaType == nil)
    #expect(
      index.manifests.compactMap { $0.annotation(AnnotationKey.refName) } == ["amd64", "arm64"])
    #expect(index.manifests[0].digest.description == RegistryFixtures.ociManifest.digest)
  }
}
