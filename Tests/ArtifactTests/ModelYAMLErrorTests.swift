import Testing

@testable import Artifact

/// Problems libyaml finds before our own checks run: each keeps libyaml's position.
@Suite struct ModelYAMLErrorTests {
  static let header = "apiVersion: kubekey.kubesphere.io/v1alpha2\nkind: Manifest\n"

  @Test(arguments: [
    (
      header + "metadata:\n  name: a\u{01}b\n",
      "4:10 invalid YAML text: control characters are not allowed"
    ),
    (
      header + "spec:\n\tarches: [amd64]\n",
      "4:1 invalid YAML: found character that cannot start any token (while scanning for the "
        + "next token at 4:1); YAML cannot be indented with tabs, use spaces"
    ),
    (
      header + "spec:\n  arches: [amd64]\n---\nkind: Manifest\n",
      "5:1 the file holds more than one YAML document ('---'); a manifest is a single document"
    ),
    ("- a\n- b\n", "1:1 the document must be a mapping, found a list"),
    ("just a string\n", "1:1 the document must be a mapping, found a scalar"),
    (
      header + "spec:\n  arches: [amd64]\n  images: [\"busybox]\n",
      "6:1 invalid YAML: found unexpected end of stream (while scanning a quoted scalar at 5:12)"
    ),
  ])
  func positionedYAMLErrors(yaml: String, expected: String) {
    #expect(placed(manifestProblems(yaml)) == [expected])
  }

  @Test func anchorsAndAliasesAreResolved() throws {
    let yaml =
      Self.header
      + "metadata: {name: n}\nspec:\n  arches: &arches [amd64, arm64]\n"
      + "  operatingSystems:\n  - {arch: arm64, id: ubuntu, version: '22.04'}\n"
      + "  images: [busybox]\n"
    let parsed = try KubeKeyManifest.parse(yaml: yaml, file: "a.yaml")
    #expect(parsed.manifest.arches == [.amd64, .arm64])
    // The OS entry has no ISO: kept, with a warning at the entry.
    #expect(placed(parsed.warnings).map { $0.prefix(4) } == ["7:5 "])
  }
}
