import OCI
import Testing

@testable import Artifact

/// `version: ""` is KubeKey's "do not bundle this"; a component left out gets its default.
/// The two must stay apart from the YAML through the model to the plan.
@Suite struct CatalogNotBundledTests {
  static let spec = """
      arches: [amd64]
      kubernetesDistributions:
      - type: kubernetes
        version: v1.23.17
      components:
        helm:
          version: ""
        etcd:
          version: v3.5.24

    """

  @Test func blankVersionIsKeptAsNotBundled() throws {
    let parsed = try KubeKeyManifest.parse(yaml: manifestYAML(Self.spec), file: "manifest.yaml")
    #expect(parsed.manifest.components.helm == nil)
    #expect(parsed.manifest.components.notBundled == ["helm"])
    #expect(parsed.warnings.contains { $0.description.contains("spec.components.helm.version") })

    // The manifest writes it back as a blank version, and reads back equal.
    let yaml = parsed.manifest.yaml()
    #expect(yaml.contains("helm:\n      version: \"\""))
    let again = try KubeKeyManifest.parse(yaml: yaml, file: "again.yaml").manifest
    #expect(again == parsed.manifest)
  }

  @Test func planLeavesOutANotBundledComponentButDefaultsAMissingOne() throws {
    let plan = try catalogPlan(Self.spec)
    #expect(plan.file("helm") == nil, "helm: {version: \"\"} must not be bundled")
    #expect(plan.file("etcd")?.version == "v3.5.24")
    // cni is not listed at all: KubeKey's default comes in.
    #expect(plan.file("kubecni")?.version == CatalogDefaults.cni)
  }
}
