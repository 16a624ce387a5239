import Foundation
import Testing

@testable import OCI

@Suite struct CodableTests {
  let decoder = JSONDecoder()

  @Test func decodesDockerManifestList() throws {
    let index = try decoder.decode(ImageIndex.self, from: Fixtures.dockerManifestList.data)
    #expect(index.schemaVersion == 2)
    #expect(index.mediaType == MediaType.dockerManifestList)
    #expect(index.isDocker)
    #expect(index.manifests.count == 5)
    #expect(index.manifests.allSatisfy { $0.mediaType == MediaType.dockerManifest })
    #expect(index.manifests[4].platform?.osVersion == "10.0.17763.2114")
    #expect(
      index.manifests[0].digest.description
        == "sha256:907ca53d7e2947e849b839b1cd258c98fd3916c60f2e6e70c30edbf741ab6754")

    let arm64 = index.manifests(for: try Platform(parsing: "linux/arm64"))
    #expect(arm64.map(\.digest.encoded) == [Fixtures.hex("3")])
    let arm = index.manifests(for: try Platform(parsing: "linux/arm"))
    #expect(arm.map(\.digest.encoded) == [Fixtures.hex("2")])
    let amd64 = index.manifests(for: try Platform(parsing: "linux/amd64"))
    #expect(amd64.count == 1)
    let both = index.manifests(matchingAny: [
      try Platform(parsing: "amd64"), try Platform(parsing: "arm64"),
    ])
    #expect(both.count == 2)
  }

  @Test func decodesDockerManifest() throws {
    let manifest = try decoder.decode(ImageManifest.self, from: Fixtures.dockerManifest.data)
    #expect(manifest.isDocker)
    #expect(manifest.config.mediaType == MediaType.dockerConfig)
    #expect(manifest.config.size == 1457)
    #expect(manifest.layers.count == 1)
    #expect(manifest.layers[0].size == 772788)
    #expect(manifest.blobs.count == 2)
    #expect(manifest.subject == nil)
  }

  @Test func decodesOCIManifestIgnoringUnknownFields() throws {
    let manifest = try decoder.decode(ImageManifest.self, from: Fixtures.ociManifest.data)
    #expect(!manifest.isDocker)
    #expect(manifest.layers.map(\.mediaType) == [MediaType.ociLayerZstd, MediaType.ociLayerGzip])
    #expect(manifest.layers[1].annotation(AnnotationKey.title) == "rootfs.tar.gz")
    #expect(manifest.annotations?[AnnotationKey.created] == "2024-01-01T00:00:00Z")
  }

  @Test func decodesAttestationIndex() throws {
    let index = try decoder.decode(ImageIndex.self, from: Fixtures.ociIndexWithAttestation.data)
    #expect(index.manifests.count == 2)
    #expect(index.manifests[1].annotation("vnd.docker.reference.type") == "attestation-manifest")
    #expect(index.manifests(for: Platform(architecture: "arm64")).count == 1)
  }

  @Test func decodesFileArtifactWithInlineData() throws {
    let manifest = try decoder.decode(ImageManifest.self, from: Fixtures.fileArtifact.data)
    #expect(manifest.artifactType == MediaType.kubekeyFile)
    #expect(manifest.config.data.map { Array($0) } == Descriptor.emptyJSONBytes)
    #expect(manifest.config.digest == Descriptor.emptyJSON.digest)
    #expect(manifest.subject?.size == 100)
    #expect(manifest.layers[0].size == 46_678_016)
  }

  @Test func decodesLayoutIndexWithoutMediaType() throws {
    let index = try decoder.decode(ImageIndex.self, from: Fixtures.layoutIndex.data)
    #expect(index.mediaType == nil)
    #expect(index.manifests[0].annotation(AnnotationKey.refName) == "latest")
  }

  @Test(arguments: [
    Fixtures.dockerManifest, Fixtures.ociManifest, Fixtures.fileArtifact,
  ])
  func manifestRoundTrips(_ json: String) throws {
    let manifest = try decoder.decode(ImageManifest.self, from: json.data)
    let again = try decoder.decode(
      ImageManifest.self, from: try JSONEncoder.sorted.encode(manifest))
    #expect(again == manifest)
  }

  @Test(arguments: [
    Fixtures.dockerManifestList, Fixtures.ociIndexWithAttestation, Fixtures.layoutIndex,
  ])
  func indexRoundTrips(_ json: String) throws {
    let index = try decoder.decode(ImageIndex.self, from: json.data)
    let again = try decoder.decode(ImageIndex.self, from: try JSONEncoder.sorted.encode(index))
    #expect(again == index)
  }

  @Test func encodingOmitsNilFields() throws {
    let descriptor = Descriptor(mediaType: MediaType.ociLayerGzip, bytes: "abc".bytes)
    let text = String(decoding: try JSONEncoder.sorted.encode(descriptor), as: UTF8.self)
    #expect(
      text
        == #"{"digest":"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","#
        + #""mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":3}"#)

    let manifest = ImageManifest(config: .emptyJSON, layers: [])
    let manifestText = String(decoding: try JSONEncoder.sorted.encode(manifest), as: UTF8.self)
    #expect(!manifestText.contains("null"))
    #expect(!manifestText.contains("subject"))
    #expect(!manifestText.contains("annotations"))
  }

  @Test func decodesForeignLayerURLs() throws {
    let json =
      #"{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","#
      + #""digest":"sha256:\#(Fixtures.hex("d"))","size":1718332879,"#
      + #""urls":["https://mcr.microsoft.com/v2/windows/servercore/blobs/sha256:\#(Fixtures.hex("d"))"]}"#
    let layer = try decoder.decode(Descriptor.self, from: json.data)
    #expect(layer.urls?.count == 1)
    #expect(layer.size == 1_718_332_879)
    #expect(MediaType.isNondistributable(layer.mediaType))
  }

  @Test func descriptorRejectsNegativeSize() {
    let json = #"{"mediaType":"x","digest":"sha256:\#(Fixtures.hex("a"))","size":-1}"#
    #expect(throws: DecodingError.self) { try decoder.decode(Descriptor.self, from: json.data) }
  }

  @Test func descriptorRejectsBadDigest() {
    let upper =
      #"{"mediaType":"x","digest":"sha256:\#(String(repeating: "A", count: 64))","size":1}"#
    #expect(throws: DecodingError.self) { try decoder.decode(Descriptor.self, from: upper.data) }
    let missing = #"{"mediaType":"x","size":1}"#
    #expect(throws: DecodingError.self) { try decoder.decode(Descriptor.self, from: missing.data) }
  }

  @Test func manifestRequiresConfigAndLayers() {
    #expect(throws: DecodingError.self) {
      try decoder.decode(ImageManifest.self, from: Fixtures.dockerManifestList.data)
    }
    #expect(throws: DecodingError.self) {
      try decoder.decode(ImageIndex.self, from: Fixtures.dockerManifest.data)
    }
  }

  @Test func mediaTypeClassifiers() {
    #expect(MediaType.isIndex(MediaType.ociIndex))
    #expect(
      MediaType.isIndex("application/vnd.docker.distribution.manifest.list.v2+json; charset=utf-8"))
    #expect(MediaType.isManifest("Application/VND.OCI.Image.Manifest.v1+JSON"))
    #expect(MediaType.isManifest(MediaType.dockerManifest))
    #expect(!MediaType.isManifest(MediaType.ociIndex))
    #expect(!MediaType.isIndex(MediaType.ociManifest))
    #expect(!MediaType.isManifestOrIndex(MediaType.dockerManifestSchema1Signed))
    #expect(MediaType.isSchema1(MediaType.dockerManifestSchema1Signed))
    #expect(MediaType.isNondistributable(MediaType.dockerForeignLayerGzip))
    #expect(MediaType.isNondistributable(MediaType.ociLayerNondistributableZstd))
    #expect(!MediaType.isNondistributable(MediaType.ociLayerGzip))
    #expect(MediaType.essence(" application/json ;charset=utf-8") == "application/json")
  }
}
