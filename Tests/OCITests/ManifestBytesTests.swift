import Foundation
import Testing

@testable import OCI

@Suite struct ManifestBytesTests {
  static func without(_ field: String, in json: String) throws -> [UInt8] {
    var object = try #require(try JSONSerialization.jsonObject(with: json.data) as? [String: Any])
    object.removeValue(forKey: field)
    return Array(try JSONSerialization.data(withJSONObject: object))
  }

  @Test func keepsReceivedBytesAndDigestsThemAsIs() throws {
    let bytes = Fixtures.dockerManifestList.bytes
    let received = try ManifestBytes(
      bytes: bytes, mediaType: "application/vnd.docker.distribution.manifest.list.v2+json")
    #expect(received.bytes == bytes)
    #expect(received.digest == SHA256Hasher.digest(bytes))
    #expect(received.size == Int64(bytes.count))
    #expect(received.index?.manifests.count == 5)
    #expect(received.manifest == nil)
    // Why the bytes are kept: re-encoding the same value yields another digest.
    let reencoded = try ManifestBytes(encoding: try #require(received.index))
    #expect(reencoded.digest != received.digest)
    #expect(reencoded.index == received.index)
  }

  @Test func resolvesMediaType() throws {
    let cases: [([UInt8], String?, String)] = [
      (
        Fixtures.dockerManifestList.bytes, MediaType.dockerManifestList,
        MediaType.dockerManifestList
      ),
      (Fixtures.dockerManifestList.bytes, nil, MediaType.dockerManifestList),
      (Fixtures.dockerManifestList.bytes, "application/json", MediaType.dockerManifestList),
      (Fixtures.layoutIndex.bytes, nil, MediaType.ociIndex),
      (
        Fixtures.layoutIndex.bytes, "application/vnd.oci.image.index.v1+json; charset=utf-8",
        MediaType.ociIndex
      ),
      (Fixtures.layoutIndex.bytes, "text/plain", MediaType.ociIndex),
      (Fixtures.dockerManifest.bytes, MediaType.dockerManifest, MediaType.dockerManifest),
      (try Self.without("mediaType", in: Fixtures.dockerManifest), nil, MediaType.dockerManifest),
      (
        try Self.without("mediaType", in: Fixtures.ociManifest), "application/octet-stream",
        MediaType.ociManifest
      ),
      (
        try Self.without("mediaType", in: Fixtures.ociManifest), MediaType.ociManifest,
        MediaType.ociManifest
      ),
      (
        try Self.without("mediaType", in: Fixtures.ociIndexWithAttestation), nil, MediaType.ociIndex
      ),
      // The document's own field is covered by the digest; a header a proxy rewrote is not.
      (Fixtures.fileArtifact.bytes, MediaType.dockerManifest, MediaType.ociManifest),
    ]
    for (bytes, header, expected) in cases {
      let parsed = try ManifestBytes(bytes: bytes, mediaType: header)
      #expect(parsed.mediaType == expected, "header \(header ?? "nil")")
      #expect(parsed.descriptor.mediaType == expected)
      #expect(MediaType.isIndex(expected) == (parsed.index != nil))
    }
  }

  @Test func refusesSchema1() {
    let schema1 =
      #"{"schemaVersion":1,"name":"library/busybox","tag":"latest","architecture":"amd64","fsLayers":[]}"#
    for header in [MediaType.dockerManifestSchema1Signed, "application/json", nil] {
      do {
        _ = try ManifestBytes(bytes: schema1.bytes, mediaType: header)
        Issue.record("schema 1 accepted with header \(header ?? "nil")")
      } catch {
        guard case .unsupportedManifestMediaType = error else {
          Issue.record("unexpected \(error)")
          continue
        }
        #expect(error.description.contains("schema 1"))
      }
    }
  }

  @Test(
    arguments: [
      (
        "<html>502 Bad Gateway</html>", "text/html",
        "invalid manifest (text/html): not a JSON object"
      ),
      (
        #"{"schemaVersion":2,"manifests":[]}"#, "text/html", "unsupported manifest type 'text/html'"
      ),
      ("<html>502 Bad Gateway</html>", nil, "not a JSON object"),
      ("[]", "application/json", "not a JSON object"),
      (#"{"schemaVersion":2}"#, nil, "neither 'manifests'"),
      (
        #"{"schemaVersion":2,"mediaType":"application/vnd.example+json"}"#, nil,
        "application/vnd.example+json"
      ),
      (#"{"schemaVersion":3,"manifests":[]}"#, nil, "schemaVersion is 3"),
      (
        #"{"schemaVersion":2,"manifests":[{"mediaType":"x","size":1}]}"#, nil,
        "missing field 'digest' in manifests[0]"
      ),
      (#"{"schemaVersion":2,"config":{}}"#, MediaType.ociManifest, "missing field"),
      (#"{"schemaVersion":2,"manifests":[]}"#, MediaType.ociManifest, "missing field 'config'"),
    ] as [(String, String?, String)])
  func rejects(_ body: String, _ header: String?, _ fragment: String) {
    do {
      _ = try ManifestBytes(bytes: body.bytes, mediaType: header)
      Issue.record("accepted \(body)")
    } catch {
      #expect(error.description.contains(fragment), "message: \(error.description)")
    }
  }

  @Test func verifiesAgainstExpectedDigest() throws {
    let bytes = Fixtures.dockerManifest.bytes
    let good = SHA256Hasher.digest(bytes)
    #expect(try ManifestBytes(bytes: bytes, mediaType: nil, expected: good).digest == good)

    let wrong = try Digest(parsing: "sha256:" + Fixtures.hex("0"))
    do {
      _ = try ManifestBytes(bytes: bytes, mediaType: nil, expected: wrong)
      Issue.record("mismatch accepted")
    } catch {
      #expect(error == .digestMismatch(expected: wrong, actual: good))
      #expect(
        error.description.contains(wrong.description)
          && error.description.contains(good.description))
    }

    let sha512 = try Digest.compute(.sha512, over: bytes)
    try ManifestBytes(bytes: bytes, mediaType: nil).verify(sha512)
    #expect(throws: OCIError.self) {
      try ManifestBytes(bytes: bytes + [0x0a], mediaType: nil).verify(sha512)
    }
  }

  @Test func sha512KnownVector() throws {
    #expect(
      try Digest.compute(.sha512, over: "abc".bytes).description
        == "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        + "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f")
  }

  @Test func encodesDeterministically() throws {
    let layer = Descriptor(
      mediaType: MediaType.octetStream, digest: SHA256Hasher.digest("abc".bytes), size: 3,
      annotations: [AnnotationKey.title: "kubeadm"])
    let manifest = ImageManifest(
      artifactType: MediaType.kubekeyFile, config: .emptyJSON, layers: [layer])
    let encoded = try ManifestBytes(encoding: manifest)
    let expected =
      #"{"artifactType":"application/vnd.kubekey.file.v1","config":{"digest":"#
      + #""\#(Descriptor.emptyJSONDigestString)","#
      + #""mediaType":"application/vnd.oci.empty.v1+json","size":2},"layers":[{"annotations":"#
      + #"{"org.opencontainers.image.title":"kubeadm"},"digest":"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","#
      + #""mediaType":"application/octet-stream","size":3}],"mediaType":"application/vnd.oci.image.manifest.v1+json","#
      + #""schemaVersion":2}"#
    #expect(String(decoding: encoded.bytes, as: UTF8.self) == expected)
    #expect(encoded.digest == SHA256Hasher.digest(expected.bytes))
    #expect(encoded.mediaType == MediaType.ociManifest)
    #expect(encoded.descriptor.artifactType == MediaType.kubekeyFile)
    #expect(encoded.descriptor.size == Int64(expected.utf8.count))
    #expect(try ManifestBytes(encoding: manifest) == encoded)

    // What we write parses back to the same value and digest.
    let reparsed = try ManifestBytes(bytes: encoded.bytes, mediaType: nil)
    #expect(reparsed == encoded)
    #expect(reparsed.children == [.emptyJSON, layer])
  }

  @Test func encodesIndexWithPlatforms() throws {
    let child = try ManifestBytes(bytes: Fixtures.dockerManifest.bytes, mediaType: nil)
    var entry = child.descriptor
    entry.platform = try Platform(parsing: "linux/arm/v7")
    let index = ImageIndex(mediaType: MediaType.dockerManifestList, manifests: [entry])
    let encoded = try ManifestBytes(encoding: index)
    let text = String(decoding: encoded.bytes, as: UTF8.self)
    #expect(text.contains(#""platform":{"architecture":"arm","os":"linux","variant":"v7"}"#))
    #expect(!text.contains("\\/"))
    #expect(encoded.mediaType == MediaType.dockerManifestList)
    #expect(encoded.children.map(\.digest) == [child.digest])
    let (bytes, digest) = try CanonicalJSON.encodeWithDigest(index)
    #expect(bytes == encoded.bytes && digest == encoded.digest)
  }

  @Test func verifiesEmbeddedData() throws {
    let manifest = try #require(
      try ManifestBytes(bytes: Fixtures.fileArtifact.bytes, mediaType: nil).manifest)
    #expect(try manifest.config.verifiedData() == Descriptor.emptyJSONBytes)
    #expect(try manifest.layers[0].verifiedData() == nil)

    var lying = manifest.config
    lying.data = Data("[]".utf8)
    #expect(
      throws: OCIError.digestMismatch(
        expected: lying.digest, actual: SHA256Hasher.digest("[]".bytes))
    ) {
      try lying.verifiedData()
    }
    lying.data = Data("{ }".utf8)
    #expect(throws: OCIError.sizeMismatch(lying.digest, expected: 2, actual: 3)) {
      try lying.verifiedData()
    }
  }
}
