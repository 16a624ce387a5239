import Testing

@testable import OCI

/// A `certsPath` / `--cert-dir` that does not exist: the message used to read "cannot read
/// credentials from DIR: cannot list the certificate directory; fix or remove the file".
@Suite struct QACertsPathTests {
  @Test func missingCertificateDirectoryIsNamedAsSuch() {
    var options = RegistryOptions()
    let missing = "/nonexistent/kk-qa/certs.d/registry.local"
    do {
      try options.loadCertificates(from: missing)
      Issue.record("a missing certificate directory was accepted")
    } catch {
      let text = error.description
      #expect(text.contains(missing), "\(text)")
      #expect(text.contains("certificate directory"), "\(text)")
      #expect(text.contains("certsPath"), "\(text)")
      #expect(!text.contains("credentials"), "\(text)")
      #expect(!text.contains("remove the file"), "\(text)")
    }
  }
}
