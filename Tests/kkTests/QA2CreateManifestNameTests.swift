import TestSupport
import Testing

/// `kk create manifest --name` (QA, session 2): an empty name was written and then reported as
/// "a kk defect, please report it"; a name with '/' gave "cannot write manifest-a/b.yaml".
/// Both are usage errors now, caught before anything is read or written.
@Suite struct QA2CreateManifestNameTests {
  @Test(arguments: ["", "  ", "a/b", "../up", "My Cluster", "-x", "prod_1"])
  func badNamesAreUsageErrors(name: String) async throws {
    let result = try await KKBinary.run([
      "create", "manifest", "--with-kubernetes", "v1.23.17", "--name", name,
    ])
    #expect(result.exitCode == 64, "\(result)")
    #expect(result.stderr.contains("--name"), "\(result)")
    #expect(!result.stderr.contains("kk defect"), "\(result)")
  }
}
