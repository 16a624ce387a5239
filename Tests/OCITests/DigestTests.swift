import Testing

@testable import OCI

@Suite struct DigestTests {
  @Test func parsesSHA256() throws {
    let digest = try Digest(parsing: "sha256:" + Fixtures.hex("a"))
    #expect(digest.algorithm == .sha256)
    #expect(digest.encoded == Fixtures.hex("a"))
    #expect(digest.description == "sha256:" + Fixtures.hex("a"))
  }

  @Test func parsesSHA512() throws {
    let hex = String(repeating: "0123456789abcdef", count: 8)
    let digest = try Digest(parsing: "sha512:" + hex)
    #expect(digest.algorithm == .sha512)
    #expect(digest.encoded.count == 128)
  }

  @Test(arguments: [
    "md5:d41d8cd98f00b204e9800998ecf8427e",  // unsupported algorithm
    "sha256:" + String(repeating: "A", count: 64),  // upper-case hex
    "sha256:" + String(repeating: "a", count: 63),  // too short
    "sha256:" + String(repeating: "a", count: 65),  // too long
    "sha256:" + String(repeating: "g", count: 64),  // not hex
    "sha512:" + String(repeating: "a", count: 64),  // sha256 length under sha512
    "SHA256:" + String(repeating: "a", count: 64),  // algorithm is case-sensitive
    String(repeating: "a", count: 64),  // no algorithm
    "sha256:",
    "",
  ])
  func rejects(_ input: String) {
    #expect(throws: OCIError.self) { try Digest(parsing: input) }
  }

  @Test func errorNamesTheInput() {
    do {
      _ = try Digest(parsing: "md5:abc")
      Issue.record("md5 accepted")
    } catch {
      #expect(error.description.contains("md5:abc"))
      #expect(error.description.contains("md5"))
    }
  }

  @Test func knownSHA256Vectors() {
    #expect(
      SHA256Hasher.digest([UInt8]()).description
        == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(
      SHA256Hasher.digest("abc".bytes).description
        == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
  }

  @Test func emptyJSONDescriptorMatchesTheSpecConstant() throws {
    #expect(Descriptor.emptyJSON.digest == (try Digest(parsing: Descriptor.emptyJSONDigestString)))
    #expect(Descriptor.emptyJSON.size == 2)
    #expect(Descriptor.emptyJSON.mediaType == "application/vnd.oci.empty.v1+json")
  }
}
