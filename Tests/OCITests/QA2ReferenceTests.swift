import Testing

@testable import OCI

/// Image names as users paste them from a browser (QA, session 2).
@Suite struct QA2ReferenceTests {
  @Test(arguments: [
    ("http://docker.io/library/busybox:1.36", "http://", "docker.io/library/busybox:1.36"),
    ("https://quay.io/jetstack/cert-manager:v1", "https://", "quay.io/jetstack/cert-manager:v1"),
    ("oci://registry.example.com/charts/x:1", "oci://", "registry.example.com/charts/x:1"),
  ])
  func aURLSchemeIsNamedWithTheFix(input: String, scheme: String, fixed: String) {
    let error = #expect(throws: OCIError.self) { try Reference(parsing: input) }
    guard case .invalidReference(let text, let reason) = error else {
      Issue.record("expected invalidReference, got \(String(describing: error))")
      return
    }
    #expect(text == input)
    #expect(reason == "'\(scheme)' is a URL scheme; an image name has none: write \(fixed)")
    // The suggested spelling is itself valid.
    #expect(throws: Never.self) { try Reference(parsing: fixed) }
  }
}

/// The 255-character limit counts the normalised name, as Docker, containerd and skopeo 1.9 do
/// ("repository name must not be more than 255 characters"): a 240-character short name is
/// `docker.io/library/` + 240 = 258 characters and was accepted, then refused by every other
/// tool (QA, session 2).
@Suite struct QA2ReferenceLengthTests {
  static func name(_ count: Int) -> String { String(repeating: "a", count: count) }

  @Test(arguments: [
    (name(236), true),  // docker.io/library/ + 236 = 254
    (name(237), true),  // 255
    (name(238), false),  // 256
    (name(240), false),
    ("x.io/" + name(250), true),  // 255
    ("x.io/" + name(251), false),
    ("x.io/" + [name(63), name(63), name(63), name(63)].joined(separator: "/"), false),
  ])
  func normalisedNameLengthIsLimited(input: String, valid: Bool) {
    do {
      let reference = try Reference(parsing: input + ":1")
      #expect(valid, "accepted \(reference.name.utf8.count) characters")
      #expect(reference.name.utf8.count <= 255)
    } catch {
      #expect(!valid, "refused: \(error.description)")
      #expect(error.description.contains("at most 255"))
    }
  }
}
