import Testing

@testable import Artifact

/// URL and path of every catalog component, default and `KKZONE=cn`, for both table arches,
/// written out by hand from kubekey-facts.md's table.
@Suite("Catalog URLs")
struct CatalogURLTests {
  struct Row: Sendable, CustomTestStringConvertible {
    var id: String
    var version: String
    var arch: Arch
    var url: String
    var cn: String
    var path: String
    var testDescription: String { "\(id) \(version) \(arch)" }
  }

  static let q = "https://kubernetes-release.pek3b.qingstor.com"

  static let rows: [Row] = [
    Row(
      id: "kubeadm", version: "v1.22.12", arch: .amd64,
      url: "https://dl.k8s.io/release/v1.22.12/bin/linux/amd64/kubeadm",
      cn: "\(q)/release/v1.22.12/bin/linux/amd64/kubeadm", path: "kube/v1.22.12/amd64/kubeadm"),
    Row(
      id: "kubelet", version: "v1.22.12", arch: .arm64,
      url: "https://dl.k8s.io/release/v1.22.12/bin/linux/arm64/kubelet",
      cn: "\(q)/release/v1.22.12/bin/linux/arm64/kubelet", path: "kube/v1.22.12/arm64/kubelet"),
    Row(
      id: "kubectl", version: "v1.30.2", arch: .amd64,
      url: "https://dl.k8s.io/release/v1.30.2/bin/linux/amd64/kubectl",
      cn: "\(q)/release/v1.30.2/bin/linux/amd64/kubectl", path: "kube/v1.30.2/amd64/kubectl"),
    Row(
      id: "etcd", version: "v3.5.24", arch: .arm64,
      url:
        "https://github.com/coreos/etcd/releases/download/v3.5.24/etcd-v3.5.24-linux-arm64.tar.gz",
      cn: "\(q)/etcd/release/download/v3.5.24/etcd-v3.5.24-linux-arm64.tar.gz",
      path: "etcd/v3.5.24/arm64/etcd-v3.5.24-linux-arm64.tar.gz"),
    Row(
      id: "kubecni", version: "v1.2.0", arch: .amd64,
      url:
        "https://github.com/containernetworking/plugins/releases/download/v1.2.0/cni-plugins-linux-amd64-v1.2.0.tgz",
      cn:
        "https://containernetworking.pek3b.qingstor.com/plugins/releases/download/v1.2.0/cni-plugins-linux-amd64-v1.2.0.tgz",
      path: "cni/v1.2.0/amd64/cni-plugins-linux-amd64-v1.2.0.tgz"),
    Row(
      id: "calicoctl", version: "v3.27.4", arch: .arm64,
      url:
        "https://github.com/projectcalico/calico/releases/download/v3.27.4/calicoctl-linux-arm64",
      cn: "\(q)/projectcalico/calico/releases/download/v3.27.4/calicoctl-linux-arm64",
      path: "cni/v3.27.4/arm64/calicoctl"),
    Row(
      id: "helm", version: "v3.18.5", arch: .amd64,
      url: "https://get.helm.sh/helm-v3.18.5-linux-amd64.tar.gz",
      cn: "https://kubernetes-helm.pek3b.qingstor.com/linux-amd64/v3.18.5/helm",
      path: "helm/v3.18.5/amd64/helm"),
    Row(
      id: "docker", version: "24.0.9", arch: .amd64,
      url: "https://download.docker.com/linux/static/stable/x86_64/docker-24.0.9.tgz",
      cn: "https://mirrors.aliyun.com/docker-ce/linux/static/stable/x86_64/docker-24.0.9.tgz",
      path: "docker/24.0.9/amd64/docker-24.0.9.tgz"),
    Row(
      id: "docker", version: "24.0.9", arch: .arm64,
      url: "https://download.docker.com/linux/static/stable/aarch64/docker-24.0.9.tgz",
      cn: "https://mirrors.aliyun.com/docker-ce/linux/static/stable/aarch64/docker-24.0.9.tgz",
      path: "docker/24.0.9/arm64/docker-24.0.9.tgz"),
    Row(
      id: "containerd", version: "1.7.13", arch: .arm64,
      url:
        "https://github.com/containerd/containerd/releases/download/v1.7.13/containerd-1.7.13-linux-arm64.tar.gz",
      cn:
        "\(q)/containerd/containerd/releases/download/v1.7.13/containerd-1.7.13-linux-arm64.tar.gz",
      path: "containerd/1.7.13/arm64/containerd-1.7.13-linux-arm64.tar.gz"),
    Row(
      id: "runc", version: "v1.1.12", arch: .amd64,
      url: "https://github.com/opencontainers/runc/releases/download/v1.1.12/runc.amd64",
      cn: "\(q)/opencontainers/runc/releases/download/v1.1.12/runc.amd64",
      path: "runc/v1.1.12/amd64/runc.amd64"),
    Row(
      id: "crictl", version: "v1.29.0", arch: .amd64,
      url:
        "https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.29.0/crictl-v1.29.0-linux-amd64.tar.gz",
      cn: "\(q)/cri-tools/releases/download/v1.29.0/crictl-v1.29.0-linux-amd64.tar.gz",
      path: "crictl/v1.29.0/amd64/crictl-v1.29.0-linux-amd64.tar.gz"),
    Row(
      id: "cri-dockerd", version: "0.3.10", arch: .arm64,
      url:
        "https://github.com/Mirantis/cri-dockerd/releases/download/v0.3.10/cri-dockerd-0.3.10.arm64.tgz",
      cn: "\(q)/cri-dockerd/releases/download/v0.3.10/cri-dockerd-0.3.10.arm64.tgz",
      path: "cri-dockerd/0.3.10/arm64/cri-dockerd-0.3.10.tgz"),
    Row(
      id: "k3s", version: "v1.24.7", arch: .amd64,
      url: "https://github.com/k3s-io/k3s/releases/download/v1.24.7+k3s1/k3s",
      cn: "\(q)/k3s/releases/download/v1.24.7+k3s1/linux/amd64/k3s",
      path: "kube/v1.24.7/amd64/k3s"),
    Row(
      id: "k3s", version: "v1.24.7", arch: .arm64,
      url: "https://github.com/k3s-io/k3s/releases/download/v1.24.7+k3s1/k3s-arm64",
      cn: "\(q)/k3s/releases/download/v1.24.7+k3s1/linux/arm64/k3s",
      path: "kube/v1.24.7/arm64/k3s"),
    Row(
      id: "k8e", version: "v1.25.5", arch: .arm64,
      url: "https://github.com/xiaods/k8e/releases/download/v1.25.5+k8e2/k8e-arm64",
      cn: "https://github.com/xiaods/k8e/releases/download/v1.25.5+k8e2/k8e-arm64",
      path: "kube/v1.25.5/arm64/k8e"),
    Row(
      id: "registry", version: "2", arch: .amd64,
      url:
        "https://github.com/kubesphere/kubekey/releases/download/v2.0.0-alpha.1/registry-2-linux-amd64.tar.gz",
      cn: "\(q)/registry/2/registry-2-linux-amd64.tar.gz",
      path: "registry/registry/2/amd64/registry-2-linux-amd64.tar.gz"),
    Row(
      id: "harbor", version: "v2.10.2", arch: .amd64,
      url:
        "https://github.com/goharbor/harbor/releases/download/v2.10.2/harbor-offline-installer-v2.10.2.tgz",
      cn: "\(q)/harbor/releases/download/v2.10.2/harbor-offline-installer-v2.10.2.tgz",
      path: "registry/harbor/v2.10.2/amd64/harbor-offline-installer-v2.10.2.tgz"),
    Row(
      id: "compose", version: "v2.26.1", arch: .arm64,
      url:
        "https://github.com/docker/compose/releases/download/v2.26.1/docker-compose-linux-aarch64",
      cn: "\(q)/docker/compose/releases/download/v2.26.1/docker-compose-linux-aarch64",
      path: "registry/compose/v2.26.1/arm64/docker-compose-linux-aarch64"),
  ]

  @Test("default and cn URL, work-dir path", arguments: rows)
  func urls(row: Row) throws {
    let component = try #require(CatalogComponent.named(row.id))
    #expect(component.defaultURL(version: row.version, arch: row.arch) == row.url)
    #expect(component.path(version: row.version, arch: row.arch) == row.path)
    let upstream = CatalogOptions()
    let cn = CatalogOptions(zone: .cn)
    let cnURL = component.cnURL(version: row.version, arch: row.arch)
    #expect(upstream.resolve(defaultURL: row.url, cnURL: cnURL) == row.url)
    #expect(cn.resolve(defaultURL: row.url, cnURL: cnURL) == row.cn)
  }

  @Test("every catalog component has a row, and every table id but buildx is a component")
  func coverage() {
    let covered = Set(Self.rows.map(\.id))
    #expect(Set(CatalogComponent.all.map(\.id)) == covered)
    let tableIDs = Set(ChecksumTable.embedded.entries.keys).subtracting(["buildx"])
    #expect(tableIDs.isSubset(of: covered))
  }

  @Test("%a is the OCI architecture and %A the uname spelling, also for arm/v7")
  func templateTokens() {
    #expect(
      CatalogComponent.expand("%v-%a-%A%S", version: "v1", arch: .armV7) == "v1-arm-armv7-armhf")
    #expect(CatalogComponent.expand("%v-%a-%A%S", version: "v1", arch: .amd64) == "v1-amd64-x86_64")
    #expect(CatalogComponent.expand("100%% %x", version: "v", arch: .s390x) == "100%% %x")
    #expect(
      CatalogComponent.kubeadm.path(version: "v1.30.2", arch: .armV7)
        == "kube/v1.30.2/arm/v7/kubeadm")
  }
}
