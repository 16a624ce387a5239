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
