import Foundation
import Testing

@testable import Artifact

/// `testdata/manifests/<name>`, found from this source file so tests run from any directory.
func manifestFixture(_ name: String) -> String {
  URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("testdata/manifests").appendingPathComponent(name).path
}

/// The diagnostics a parse threw; records a test failure if it did not throw.
func manifestProblems(
  _ yaml: String, strict: Bool = false, sourceLocation: SourceLocation = #_sourceLocation
) -> [Diagnostic] {
  do {
    let parsed = try KubeKeyManifest.parse(
      yaml: yaml, file: "m.yaml", options: ParseOptions(strict: strict))
    Issue.record(
      "expected the manifest to be refused, got \(parsed.manifest)",
      sourceLocation: sourceLocation)
    return []
  } catch {
    return error.diagnostics
  }
}

/// `line:column: message` for each diagnostic, the form the assertions compare.
func placed(_ diagnostics: [Diagnostic]) -> [String] {
  diagnostics.map { d in
    let place = d.line.map { "\($0):\(d.column ?? 0)" } ?? "-"
    let label =
      switch d.severity {
      case .warning: "W "
      case .note: "N "
      case .error: ""
      }
    return "\(place) \(label)\(d.message)"
  }
}

/// A minimal valid manifest header followed by `spec` lines (each already indented).
func manifestYAML(_ spec: String) -> String {
  """
  apiVersion: kubekey.kubesphere.io/v1alpha2
  kind: Manifest
  metadata:
    name: t
  spec:

  """ + spec
}
