import Testing

@testable import OCI

/// A manifest of the wrong shape: the message used to carry Swift type names ("Expected to
/// decode Dictionary<String, Any> but found a string instead.").
@Suite struct QADecodingErrorTextTests {
  @Test func wrongShapeIsDescribedInJSONTerms() throws {
    let json =
      #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":"oops","layers":[]}"#
    do {
      _ = try ManifestBytes(bytes: Array(json.utf8), mediaType: nil)
      Issue.record("a manifest whose config is a string was accepted")
    } catch {
      let text = error.description
      #expect(text.contains("config"), "\(text)")
      #expect(text.contains("expected an object, found a string"), "\(text)")
      #expect(!text.contains("Dictionary<"), "\(text)")
      #expect(!text.contains("Swift."), "\(text)")
    }
  }

  @Test func kinds() {
    #expect(DecodingErrorText.jsonKind([String: Int].self) == "an object")
    #expect(DecodingErrorText.jsonKind([Int].self) == "an array")
    #expect(DecodingErrorText.jsonKind(String.self) == "a string")
    #expect(DecodingErrorText.jsonKind(Int64.self) == "a number")
    #expect(DecodingErrorText.jsonKind(Bool.self) == "true or false")
  }
}
