import Foundation
import OCI
import Testing

@testable import Artifact
@testable import TestSupport

/// Node lists under testdata/kube/, as a kubelet-fed API server returns them.
func kubeNodes(_ name: String) throws -> [KubeNode] {
  let data = try Data(contentsOf: URL(fileURLWithPath: TestPaths.testdata + "/kube/\(name).json"))
  return try KubeNodeList.decode(Array(data)).items
}

@Suite("Create manifest: node mapping and planned clusters")
struct CreateManifestTests {
  @Test func mixedContainerdCluster() throws {
    let inventory = ClusterInventory(nodes: try kubeNodes("mixed-containerd"))
    #expect(inventory.arches == [.amd64, .arm64])
    #expect(
      inventory.distribution == KubernetesDistribution(type: .kubernetes, version: "v1.23.17"))
    #expect(
      inventory.containerRuntimes == [
        ContainerRuntime(type: .containerd, version: "1.6.4"),
        ContainerRuntime(type: .containerd, version: "1.7.13"),
      ])
    #expect(
      inventory.operatingSystems.map { "\($0.arch) \($0.id) \($0.version)" } == [
        "amd64 ubuntu 20.04", "amd64 ubuntu 22.04", "arm64 rocky 8",
      ])
    let images = inventory.images.map(\.description)
    #expect(
      images == [
        "docker.io/calico/node:v3.27.4", "docker.io/coredns/coredns:1.8.6",
        "docker.io/kubesphere/kube-apiserver:v1.23.17", "docker.io/kubesphere/pause:3.6",
        "quay.io/example/pinned@sha256:" + String(repeating: "d", count: 64),
        "registry.k8s.io/ingress-nginx/controller:v1.9.4",
      ])
    #expect(inventory.warnings.isEmpty)
  }

  @Test func dockerShortNamesAndOS() throws {
    let inventory = ClusterInventory(nodes: try kubeNodes("docker-short"))
    #expect(inventory.containerRuntimes == [ContainerRuntime(type: .docker, version: "20.10.8")])
    #expect(
      inventory.images.map(\.description) == [
        "docker.io/calico/cni:v3.20.0", "docker.io/kubesphere/kube-proxy:v1.21.5",
        "docker.io/library/busybox@sha256:" + String(repeating: "c", count: 64),
        "docker.io/library/nginx:1.25",
      ])
    #expect(
      inventory.operatingSystems.map { "\($0.id) \($0.version)" } == ["centos 7", "debian 11"])
  }

  @Test func k3sCluster() throws {
    let inventory = ClusterInventory(nodes: try kubeNodes("k3s"))
    #expect(inventory.distribution == KubernetesDistribution(type: .k3s, version: "v1.28.5"))
    #expect(inventory.containerRuntimes == [ContainerRuntime(type: .containerd, version: "1.7.11")])
    #expect(inventory.warnings.contains { $0.contains("built into k3s") })
  }

  @Test func unknownOSAndRuntimeAreReported() throws {
    let inventory = ClusterInventory(nodes: try kubeNodes("unknown-os"))
    let warnings = inventory.warnings.joined(separator: "\n")
    #expect(warnings.contains("node odd-1: OS 'Fedora CoreOS 39.20231119.3.0' is not recognised"))
    #expect(warnings.contains("node odd-1: container runtime 'cri-o://1.28.1'"))
    #expect(warnings.contains("node odd-2: architecture 's390x'") == false)
    #expect(warnings.contains("node odd-3: kubelet 'v1.28.2-eks-a5565ad' is a vendor build"))
    #expect(inventory.arches == [.amd64, .s390x])
    #expect(
      inventory.operatingSystems.map { "\($0.arch) \($0.id) \($0.version)" } == [
        "s390x ubuntu 22.04", "amd64 openEuler 22.03",
      ])
  }

  @Test(arguments: [
    ("Ubuntu 20.04.3 LTS", "ubuntu", "20.04"), ("CentOS Linux 7 (Core)", "centos", "7"),
    ("CentOS Stream 9", "centos", "9"), ("Debian GNU/Linux 12 (bookworm)", "debian", "12"),
    ("Red Hat Enterprise Linux 8.6 (Ootpa)", "rhel", "8"),
    ("Rocky Linux 9.3 (Blue Onyx)", "rocky", "9"),
    ("AlmaLinux 8.9 (Midnight Oncilla)", "almalinux", "8"),
    ("openEuler 22.03 (LTS-SP1)", "openEuler", "22.03"),
    ("Kylin Linux Advanced Server V10 (Sword)", "kylin", "V10"),
  ])
  func osImages(osImage: String, id: String, version: String) {
    let mapped = OSImageMapping.map(osImage)
    #expect(mapped?.id == id && mapped?.version == version)
  }

  @Test func osImageUnknown() {
    #expect(OSImageMapping.map("Fedora Linux 39") == nil)
    #expect(OSImageMapping.map("Ubuntu") == nil)
    #expect(
      OSImageMapping.map("Red Hat Enterprise Linux CoreOS 414.92.202402051952-0 (Plow)") == nil)
    #expect(OSImageMapping.map("Flatcar Container Linux by Kinvolk 3815.2.0 (Oklo)") == nil)
  }

  @Test func clusterManifestRoundTrips() throws {
    let created = ManifestCreator.fromCluster(
      ClusterInventory(nodes: try kubeNodes("mixed-containerd")), name: "prod")
    let text = created.yaml
    #expect(text.contains("# docker-registry:"))
    #expect(text.contains("auths: {}"))
    let parsed = try KubeKeyManifest.parse(yaml: text, file: "created.yaml")
    #expect(parsed.manifest == created.manifest)
    #expect(parsed.manifest.components.helm?.version == CatalogDefaults.helm)
    #expect(parsed.manifest.components.dockerRegistry == nil)
    // containerd 1.6.4 and 1.7.13 and Kubernetes v1.23.17 are in KubeKey's table.
    #expect(created.warnings.isEmpty, "\(created.warnings)")
  }

  @Test func plannedManifest() throws {
    let created = try ManifestCreator.planned(
      kubernetes: ["v1.23.17", "1.26.15"], arches: [.amd64, .arm64], name: "plan")
    let manifest = created.manifest
    #expect(manifest.kubernetesDistributions.map(\.version) == ["v1.23.17", "v1.26.15"])
    #expect(
      manifest.components.containerRuntimes == [
        ContainerRuntime(type: .docker, version: "24.0.9"),
        ContainerRuntime(type: .containerd, version: "1.7.13"),
      ])
    let images = Set(manifest.images.map(\.description))
    for expected in [
      "docker.io/kubesphere/pause:3.6", "docker.io/kubesphere/pause:3.9",
      "docker.io/coredns/coredns:1.8.6", "docker.io/coredns/coredns:1.9.3",
      "docker.io/kubesphere/kube-apiserver:v1.26.15", "docker.io/kubesphere/kube-proxy:v1.23.17",
      "docker.io/kubesphere/k8s-dns-node-cache:1.22.20", "docker.io/calico/node:v3.27.4",
      "docker.io/calico/pod2daemon-flexvol:v3.27.4",
    ] {
      #expect(images.contains(expected), "\(expected)")
    }
    #expect(!images.contains { $0.contains("haproxy") || $0.contains("etcd") })
    let parsed = try KubeKeyManifest.parse(yaml: created.yaml, file: "plan.yaml")
    #expect(parsed.manifest == manifest)
  }

  @Test func plannedCNZoneAndUnknownVersion() throws {
    let created = try ManifestCreator.planned(
      kubernetes: ["v1.20.99"], arches: [.arm64], name: "cn",
      images: DefaultImageOptions(zone: .cn))
    #expect(
      created.manifest.images.first?.description
        == "registry.cn-beijing.aliyuncs.com/kubesphereio/pause:3.2")
    #expect(
      created.manifest.images.allSatisfy {
        $0.description.hasPrefix("registry.cn-beijing.aliyuncs.com/kubesphereio/")
      })
    #expect(created.manifest.images.contains { $0.description.hasSuffix("/coredns:1.6.9") })
    #expect(
      created.warnings.contains {
        $0.contains("kubeadm v1.20.99 (arm64) is not in the built-in checksum table")
          && $0.contains("upstream .sha256")
      })
    #expect(throws: CreateManifestError.badKubernetesVersion("1.2")) {
      try ManifestCreator.planned(kubernetes: ["1.2"], arches: [.amd64], name: "x")
    }
  }

  /// A runtime version KubeKey's table lacks: the warning is the export's own refusal,
  /// naming the field to add.
  @Test func unknownRuntimeVersionWarnsWithExportRefusal() throws {
    var inventory = ClusterInventory()
    inventory.arches = [.amd64]
    inventory.distribution = KubernetesDistribution(type: .kubernetes, version: "v1.23.17")
    inventory.containerRuntimes = [ContainerRuntime(type: .docker, version: "20.10.99")]
    let created = ManifestCreator.fromCluster(inventory, name: "x")
    #expect(created.warnings.count == 1, "\(created.warnings)")
    #expect(
      created.warnings.first?.hasPrefix("export will refuse this manifest as written") == true)
    #expect(
      created.warnings.first?.contains("spec.components.containerRuntimes[0].sha256.amd64") == true)
  }

  @Test func writeRefusesToOverwrite() throws {
    let dir = try TemporaryDirectory(prefix: "kk-create")
    defer { dir.remove() }
    let created = try ManifestCreator.planned(kubernetes: ["v1.24.17"], arches: [.amd64], name: "w")
    let path = dir.path + "/manifest-w.yaml"
    try created.write(to: path, force: false)
    #expect(throws: CreateManifestError.exists(path: path)) {
      try created.write(to: path, force: false)
    }
    try "old".write(toFile: path, atomically: false, encoding: .utf8)
    try created.write(to: path, force: true)
    #expect(try String(contentsOfFile: path, encoding: .utf8) == created.yaml)
  }

  /// Runtime versions as distributions and clouds report them become the upstream release
  /// they are built from; one with no version is left out, not written as an empty version.
  @Test func runtimeVersionsMapToUpstreamReleases() {
    var warnings: [String] = []
    func version(_ raw: String) -> String? {
      ClusterInventory.runtime(raw, node: "node n", warnings: &warnings)?.version
    }
    #expect(version("containerd://1.7.2-0ubuntu1~22.04.1") == "1.7.2")
    #expect(version("containerd://1.4.9+azure") == "1.4.9")
    #expect(version("containerd://v1.7.11-k3s2") == "1.7.11")
    #expect(version("docker://24.0.7") == "24.0.7")
    #expect(warnings.count == 3)
    #expect(version("containerd://") == nil)
    #expect(
      warnings.last
        == "node n: container runtime 'containerd://' reports no version kk can download; left out")
    #expect(ClusterInventory.releaseVersion("1.6") == "1.6")
    #expect(ClusterInventory.releaseVersion("1.") == nil)
    #expect(ClusterInventory.releaseVersion("x1.2") == nil)
  }

  /// A directory as the output is named as such (it used to say "already exists; pass
  /// --force", and with --force fail after reading the cluster).
  @Test func aDirectoryIsNotAnOutputFile() throws {
    let dir = try TemporaryDirectory(prefix: "kk-create-dir")
    defer { dir.remove() }
    #expect(
      throws: CreateManifestError.write(
        path: dir.path, reason: "it is a directory; give a file path with -f")
    ) { try CreatedManifest.checkWritable(dir.path, force: true) }
    // A missing directory is found before the cluster is read, not when writing.
    let missing = dir.path + "/sub/x.yaml"
    #expect(
      throws: CreateManifestError.write(
        path: missing, reason: "its directory \(dir.path)/sub does not exist; create it first")
    ) { try CreatedManifest.checkWritable(missing, force: false) }
  }
}
