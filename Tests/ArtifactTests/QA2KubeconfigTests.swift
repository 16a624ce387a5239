import Foundation
import TestSupport
import Testing

@testable import Artifact

/// Kubeconfig mistakes (QA, session 2): a YAML error had no position ("The given data was not
/// valid YAML."), and a directory passed as --kubeconfig was reported as missing.
@Suite struct QA2KubeconfigTests {
  @Test func yamlSyntaxErrorsCarryTheirPlace() throws {
    let dir = try TemporaryDirectory(prefix: "kk-qa2-kubeconfig")
    defer { dir.remove() }
    let tabbed = dir.path + "/tabbed"
    try "apiVersion: v1\n\tclusters: []\n".write(toFile: tabbed, atomically: true, encoding: .utf8)
    let error = #expect(throws: KubeError.self) { try Kubeconfig.load(paths: [tabbed]) }
    let text = error?.description ?? ""
    #expect(text.hasPrefix("kubeconfig \(tabbed) is not a valid kubeconfig: line 2, column 1: "))
    #expect(text.hasSuffix("(YAML cannot be indented with tabs, use spaces)"))

    let cut = dir.path + "/cut"
    try "apiVersion: v1\nclusters: [\n".write(toFile: cut, atomically: true, encoding: .utf8)
    let cutError = #expect(throws: KubeError.self) { try Kubeconfig.load(paths: [cut]) }
    #expect(
      cutError?.description.hasPrefix("kubeconfig \(cut) is not a valid kubeconfig: line 3") == true
    )
  }

  @Test func aDirectoryIsNotReportedAsMissing() throws {
    let dir = try TemporaryDirectory(prefix: "kk-qa2-kubeconfig")
    defer { dir.remove() }
    let error = #expect(throws: KubeError.self) { try Kubeconfig.load(paths: [dir.path]) }
    #expect(
      error?.description
        == "kubeconfig \(dir.path) is not a valid kubeconfig: it is a directory; give the file itself"
    )
  }
}
