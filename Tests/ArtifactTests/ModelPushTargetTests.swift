import OCI
import Testing

@testable import Artifact

/// Where a cluster config sends each image on push.
@Suite struct ModelPushTargetTests {
  @Test(
    arguments: [
      // privateRegistry, namespaceOverride, image, expected target
      (
        "dockerhub.kubekey.local", nil, "calico/cni:v3.23.2",
        "dockerhub.kubekey.local/calico/cni:v3.23.2"
      ),
      (
        "dockerhub.kubekey.local", "kubesphereio", "calico/cni:v3.23.2",
        "dockerhub.kubekey.local/kubesphereio/cni:v3.23.2"
      ),
      (
        "dockerhub.kubekey.local/proj", nil, "busybox",
        "dockerhub.kubekey.local/proj/library/busybox:latest"
      ),
      (
        "reg.local:5000/proj", "ks", "registry.k8s.io/ingress-nginx/controller:v1.10.0",
        "reg.local:5000/proj/ks/controller:v1.10.0"
      ),
      (
        "reg.local", nil,
        "quay.io/x/y:v1@sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b",
        "reg.local/x/y:v1@sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b"
      ),
    ] as [(String, String?, String, String)])
  func pushTargets(registry: String, namespace: String?, image: String, expected: String) throws {
    var yaml = """
      apiVersion: kubekey.kubesphere.io/v1alpha2
      kind: Cluster
      spec:
        registry:
          privateRegistry: \(registry)

      """
    if let namespace { yaml += "    namespaceOverride: \(namespace)\n" }
    let config = try ClusterRegistryConfig.parse(yaml: yaml, file: "c.yaml").config
    let target = try config.pushTarget(for: try Reference(parsing: image))
    #expect(target?.description == expected)
  }

  @Test func noPrivateRegistryMeansNoPushTarget() throws {
    let config = ClusterRegistryConfig()
    #expect(try config.pushTarget(for: try Reference(parsing: "busybox")) == nil)
  }
}
