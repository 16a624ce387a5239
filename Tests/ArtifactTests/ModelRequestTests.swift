import OCI
import Testing

@testable import Artifact

/// What a parsed manifest or config asks the export and push code to do.
@Suite struct ModelRequestTests {
  @Test func requestedBinariesUseCatalogIDsForEveryArch() throws {
    let m = try KubeKeyManifest.load(path: manifestFixture("sample.yaml")).manifest
    let binaries = m.requestedBinaries
    // 3 kube binaries + helm, cni, etcd, calicoctl, 2 runtimes, crictl, 3 registry parts = 13,
    // for each of the 2 arches.
    #expect(binaries.count == 26)
    #expect(
      binaries.filter { $0.arch == .amd64 }.map(\.description) == [
        "kubeadm v1.21.5 amd64", "kubelet v1.21.5 amd64", "kubectl v1.21.5 amd64",
        "helm v3.6.3 amd64", "kubecni v0.9.1 amd64", "etcd v3.4.13 amd64",
        "calicoctl v3.23.2 amd64", "docker 20.10.8 amd64", "containerd 1.6.4 amd64",
        "crictl v1.22.0 amd64", "registry 2 amd64", "harbor v2.4.1 amd64",
        "compose v2.2.2 amd64",
      ])
    #expect(binaries.allSatisfy { $0.pinnedSHA256 == nil })
  }

  @Test func pinnedChecksumsFollowTheirBinaryAndArch() throws {
    let m = try KubeKeyManifest.load(path: manifestFixture("sha256.yaml")).manifest
    let pinned = Dictionary(
      uniqueKeysWithValues: m.requestedBinaries.map { ("\($0.id)/\($0.arch)", $0.pinnedSHA256) })
    #expect(
      pinned["kubeadm/arm64"]??.encoded
        == "7a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9")
    // Every binary/arch pair is listed once, pinned or not.
    #expect(pinned.count == m.requestedBinaries.count)
    #expect(pinned.keys.contains("kubelet/arm64") && pinned.keys.contains("containerd/arm64"))
    let pinnedKeys = Set(pinned.filter { $0.value != nil }.keys)
    #expect(
      pinnedKeys == [
        "kubeadm/amd64", "kubeadm/arm64", "kubelet/amd64", "kubectl/amd64", "helm/amd64",
        "helm/arm64", "crictl/amd64", "containerd/amd64",
      ])
  }

  @Test func k3sAndImagesOnlyManifests() throws {
    let k3s = try KubeKeyManifest.load(path: manifestFixture("k3s.yaml")).manifest
    #expect(
      k3s.requestedBinaries.map(\.description) == [
        "k3s v1.27.9 amd64", "k3s v1.27.9 arm64", "helm v3.18.5 amd64", "helm v3.18.5 arm64",
        "etcd v3.5.24 amd64", "etcd v3.5.24 arm64", "containerd 1.7.13 amd64",
        "containerd 1.7.13 arm64",
      ])
    let images = try KubeKeyManifest.load(path: manifestFixture("images-only.yaml")).manifest
    #expect(images.requestedBinaries.isEmpty)
  }

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
