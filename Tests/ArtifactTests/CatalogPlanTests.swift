import Foundation
import OCI
import Testing

@testable import Artifact

/// Parses `spec` (indented under `spec:`) and plans it.
func catalogPlan(
  _ spec: String, options: CatalogOptions = CatalogOptions(), table: ChecksumTable = .embedded
) throws -> ExportPlan {
  let yaml = manifestYAML(spec)
  let manifest = try KubeKeyManifest.parse(yaml: yaml, file: "manifest.yaml").manifest
  return try Catalog(options: options, table: table).plan(
    manifest, locator: ManifestLocator(yaml: yaml, file: "manifest.yaml"))
}

/// The refusals planning `spec` throws; records an issue if it plans.
func catalogRefusals(
  _ spec: String, table: ChecksumTable = .embedded,
  sourceLocation: SourceLocation = #_sourceLocation
) throws -> [MissingChecksum] {
  do {
    let plan = try catalogPlan(spec, table: table)
    Issue.record(
      "expected a refusal, planned \(plan.files.map(\.path))", sourceLocation: sourceLocation)
    return []
  } catch let error as CatalogError {
    guard case .missingChecksums(let missing) = error else {
      Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
      return []
    }
    return missing
  }
}

extension ExportPlan {
  func paths(_ arch: Arch? = nil) -> [String] {
    files.filter { arch == nil || $0.arch == arch }.map(\.path)
  }

  func file(_ id: String, _ arch: Arch = .amd64) -> FilePlan? {
    files.first { $0.component == id && $0.arch == arch }
  }
}

@Suite("Catalog plan")
struct CatalogPlanTests {
  @Test("a kubernetes manifest plans the distribution, the tools and both runtimes per arch")
  func fullManifest() throws {
    let plan = try catalogPlan(
      """
        arches: [amd64, arm64]
        kubernetesDistributions:
        - {type: kubernetes, version: v1.22.12}
        components:
          helm: {version: v3.14.3}
          cni: {version: v1.1.1}
          etcd: {version: v3.5.13}
          calicoctl: {version: v3.26.1}
          crictl: {version: v1.24.0}
          containerRuntimes:
          - {type: docker, version: 24.0.9}
          - {type: containerd, version: 1.6.4}
        images:
        - docker.io/calico/cni:v3.23.2
      """)
    #expect(
      plan.paths(.arm64) == [
        "kube/v1.22.12/arm64/kubeadm", "kube/v1.22.12/arm64/kubelet",
        "kube/v1.22.12/arm64/kubectl", "etcd/v3.5.13/arm64/etcd-v3.5.13-linux-arm64.tar.gz",
        "cni/v1.1.1/arm64/cni-plugins-linux-arm64-v1.1.1.tgz", "cni/v3.26.1/arm64/calicoctl",
        "helm/v3.14.3/arm64/helm", "crictl/v1.24.0/arm64/crictl-v1.24.0-linux-arm64.tar.gz",
        "docker/24.0.9/arm64/docker-24.0.9.tgz",
        "containerd/1.6.4/arm64/containerd-1.6.4-linux-arm64.tar.gz",
        "runc/v1.1.12/arm64/runc.arm64",
      ])
    #expect(plan.paths(.amd64).count == 11)
    #expect(plan.files.allSatisfy { if case .table = $0.checksum { true } else { false } })
    #expect(plan.images.map(\.description) == ["docker.io/calico/cni:v3.23.2"])
    #expect(plan.notes.isEmpty)
  }

  @Test("docker brings cri-dockerd only when a kubernetes version is v1.24 or newer")
  func criDockerd() throws {
    func ids(_ version: String, _ type: String = "kubernetes") throws -> [String] {
      try catalogPlan(
        """
          arches: [amd64]
          kubernetesDistributions:
          - {type: \(type), version: \(version)}
          components:
            containerRuntimes:
            - {type: docker, version: 24.0.9}
        """
      ).files.map(\.component)
    }
    #expect(try !ids("v1.23.17").contains("cri-dockerd"))
    #expect(try ids("v1.24.0").contains("cri-dockerd"))
    #expect(try ids("v1.30.2").contains("cri-dockerd"))
    #expect(try !ids("v1.24.7", "k3s").contains("cri-dockerd"))
    let plan = try catalogPlan(
      """
        arches: [amd64]
        kubernetesDistributions: [{type: kubernetes, version: v1.28.0}]
        components:
          containerRuntimes: [{type: docker, version: 24.0.9}]
      """)
    let file = try #require(plan.file("cri-dockerd"))
    #expect(file.version == CatalogDefaults.criDockerd)
    #expect(file.path == "cri-dockerd/0.3.10/amd64/cri-dockerd-0.3.10.tgz")
  }

  @Test("registry packages come at the manifest's version, only when listed")
  func registryPackages() throws {
    let plan = try catalogPlan(
      """
        arches: [amd64]
        components:
          docker-registry: {version: "2"}
          harbor: {version: v2.5.3}
          docker-compose: {version: v2.2.2}
      """)
    #expect(
      plan.paths() == [
        "registry/registry/2/amd64/registry-2-linux-amd64.tar.gz",
        "registry/harbor/v2.5.3/amd64/harbor-offline-installer-v2.5.3.tgz",
        "registry/compose/v2.2.2/amd64/docker-compose-linux-x86_64",
      ])
    let table = ChecksumTable.embedded
    #expect(
      plan.file("harbor")?.checksum
        == .table(try #require(table.digest(id: "harbor", arch: .amd64, version: "v2.5.3"))))
    #expect(plan.file("compose")?.url?.contains("/v2.2.2/") == true)
    let none = try catalogPlan(
      "  arches: [amd64]\n  kubernetesDistributions: [{type: kubernetes, version: v1.22.12}]\n")
    #expect(!none.files.contains { ["registry", "harbor", "compose"].contains($0.component) })
  }

  @Test("harbor is amd64 only upstream: arm64 gets a warning, not a download that cannot verify")
  func harborAmd64Only() throws {
    let plan = try catalogPlan(
      """
        arches: [amd64, arm64]
        components:
          harbor: {version: v2.10.2}
          docker-compose: {version: v2.26.1}
      """)
    #expect(plan.file("harbor", .amd64) != nil)
    #expect(plan.file("harbor", .arm64) == nil, "the arm64 entry would fetch the amd64 file")
    #expect(plan.file("compose", .arm64) != nil, "compose has arm64 builds")
    #expect(plan.warnings == ["harbor v2.10.2 has no arm64 build upstream; bundled for amd64 only"])
    #expect(
      plan.dryRunText().contains(
        "# warning: harbor v2.10.2 has no arm64 build upstream; bundled for amd64 only\n"))

    let armOnly = try catalogPlan(
      "  arches: [arm64]\n  components:\n    harbor: {version: v2.10.2}\n")
    #expect(armOnly.files.isEmpty)
    #expect(
      armOnly.warnings == [
        "harbor v2.10.2 has no arm64 build upstream; not bundled (upstream builds it for amd64 only)"
      ])
  }

  @Test("defaults fill tools the manifest leaves out, and say so")
  func defaults() throws {
    let plan = try catalogPlan(
      """
        arches: [amd64]
        kubernetesDistributions: [{type: kubernetes, version: v1.23.17}]
        components:
          containerRuntimes: [{type: containerd, version: 1.7.13}]
      """)
    let versions = Dictionary(plan.files.map { ($0.component, $0.version) }) { a, _ in a }
    #expect(versions["etcd"] == "v3.5.24")
    #expect(versions["kubecni"] == "v1.2.0")
    #expect(versions["calicoctl"] == "v3.27.4")
    #expect(versions["helm"] == "v3.18.5")
    #expect(versions["crictl"] == "v1.29.0")
    #expect(versions["runc"] == "v1.1.12")
    #expect(plan.notes.contains { $0.hasPrefix("etcd v3.5.24: default version") })
    // k3s ships crictl; an images-only manifest implies nothing.
    let k3s = try catalogPlan(
      "  arches: [amd64]\n  kubernetesDistributions: [{type: k3s, version: v1.24.7}]\n")
    #expect(k3s.files.map(\.component) == ["k3s", "etcd", "kubecni", "calicoctl", "helm"])
    let imagesOnly = try catalogPlan("  arches: [amd64]\n  images: [busybox:1.36]\n")
    #expect(imagesOnly.files.isEmpty)
  }

  @Test("arm/v7 gets images only without pinned sha256, and its pinned files with them")
  func otherArches() throws {
    let spec = """
        arches: [amd64, arm/v7]
        kubernetesDistributions: [{type: kubernetes, version: v1.22.12}]
        components:
          helm: {version: v3.18.5}
      """
    let plain = try catalogPlan(spec)
    #expect(plain.paths(.armV7).isEmpty)
    #expect(!plain.paths(.amd64).isEmpty)
    #expect(plain.notes.contains { $0.hasPrefix("arm/v7: images only for kubeadm v1.22.12") })

    let hex = String(repeating: "ab", count: 32)
    let pinned = try catalogPlan(
      """
        arches: [amd64, arm/v7]
        kubernetesDistributions:
        - type: kubernetes
          version: v1.22.12
          sha256:
            kubelet: {arm/v7: \(hex)}
      """)
    let kubelet = try #require(pinned.file("kubelet", .armV7))
    #expect(pinned.paths(.armV7) == ["kube/v1.22.12/arm/v7/kubelet"])
    #expect(kubelet.url == "https://dl.k8s.io/release/v1.22.12/bin/linux/arm/kubelet")
    #expect(
      kubelet.checksum
        == .manifest(
          try Digest(parsing: "sha256:\(hex)"),
          field: "spec.kubernetesDistributions[0].sha256.kubelet.arm/v7"))
  }

  @Test(
    "helm: the default and mirror URLs are the tarball, extract linux-<arch>/helm; cn is the binary"
  )
  func helmExtraction() throws {
    let spec = "  arches: [arm64]\n  components:\n    helm: {version: v3.18.5}\n"
    let table = try #require(
      ChecksumTable.embedded.digest(id: "helm", arch: .arm64, version: "v3.18.5"))
    let upstream = try #require(try catalogPlan(spec).file("helm", .arm64))
    #expect(upstream.url == "https://get.helm.sh/helm-v3.18.5-linux-arm64.tar.gz")
    #expect(upstream.extract == "linux-arm64/helm")
    #expect(upstream.checksum == .table(table))
    #expect(upstream.fileName == "helm" && !upstream.alreadyCompressed)
    let cn = try #require(
      try catalogPlan(spec, options: CatalogOptions(zone: .cn)).file("helm", .arm64))
    #expect(cn.url == "https://kubernetes-helm.pek3b.qingstor.com/linux-arm64/v3.18.5/helm")
    #expect(cn.extract == nil)
    #expect(cn.checksum == .table(table))
    let mirrored = try #require(
      try catalogPlan(spec, options: CatalogOptions(zone: .cn, mirror: "http://m.local")).file(
        "helm", .arm64))
    #expect(mirrored.url == "http://m.local/get.helm.sh/helm-v3.18.5-linux-arm64.tar.gz")
    #expect(mirrored.extract == "linux-arm64/helm")
  }

  @Test("ISOs: local path or URL, manifest checksum, KubeKey repository path")
  func isos() throws {
    let hex = String(repeating: "cd", count: 32)
    // The plan checks that a local ISO is a readable file.
    let iso = NSTemporaryDirectory() + "/kk-plan-\(UUID().uuidString).iso"
    try Data("iso".utf8).write(to: URL(fileURLWithPath: iso))
    defer { try? FileManager.default.removeItem(atPath: iso) }
    let plan = try catalogPlan(
      """
        arches: [amd64, arm64]
        operatingSystems:
        - arch: amd64
          id: ubuntu
          version: "20.04"
          repository:
            iso: {localPath: \(iso)}
        - arch: arm64
          id: ubuntu
          version: "20.04"
          repository:
            iso: {url: "https://example.invalid/u.iso", checksum: \(hex)}
      """, options: try CatalogOptions(mirror: "http://m.local"))
    let local = try #require(plan.file("ubuntu", .amd64))
    #expect(local.kind == .iso && local.origin == .localFile(iso))
    #expect(local.checksum == .localFile)
    #expect(local.path == "repository/amd64/ubuntu/20.04/ubuntu-20.04-amd64.iso")
    let remote = try #require(plan.file("ubuntu", .arm64))
    // A URL the user wrote is used as written, mirror or not.
    #expect(remote.url == "https://example.invalid/u.iso")
    #expect(remote.path == "repository/arm64/ubuntu/20.04/ubuntu-20.04-arm64.iso")
    #expect(
      remote.checksum
        == .manifest(
          try Digest(parsing: "sha256:\(hex)"),
          field: "spec.operatingSystems[1].repository.iso.checksum"))
    #expect(remote.artifactType == MediaType.kubekeyISO && remote.alreadyCompressed)
  }

  @Test("each file names the manifest field that pins its sha256; implied ones have none")
  func pinFields() throws {
    let plan = try catalogPlan(
      """
        arches: [amd64, arm64]
        kubernetesDistributions: [{type: kubernetes, version: v1.28.0}]
        components:
          containerRuntimes: [{type: containerd, version: 1.7.13}]
      """)
    #expect(
      plan.file("kubeadm", .arm64)?.pinField
        == "spec.kubernetesDistributions[0].sha256.kubeadm.arm64")
    #expect(plan.file("etcd")?.pinField == "spec.components.etcd.sha256.amd64")
    #expect(
      plan.file("containerd")?.pinField == "spec.components.containerRuntimes[0].sha256.amd64")
    #expect(plan.file("runc") != nil && plan.file("runc")?.pinField == nil)
  }

  @Test("an ISO url without checksum is planned unverified, placed at the url")
  func isoURLWithoutChecksum() throws {
    let plan = try catalogPlan(
      """
        arches: [amd64]
        operatingSystems:
        - arch: amd64
          id: ubuntu
          version: "20.04"
          repository:
            iso: {url: "https://example.invalid/u.iso"}
      """)
    let iso = try #require(plan.file("ubuntu"))
    #expect(
      iso.checksum
        == .unverified(
          field: "spec.operatingSystems[0].repository.iso.checksum",
          location: "manifest.yaml:12:18"))
    #expect(iso.checksum.digest == nil && iso.checksum.sourceName == "none")
    #expect(iso.pinField == "spec.operatingSystems[0].repository.iso.checksum")
  }

  @Test("annotations follow SPEC.md 1.2 and 1.3")
  func annotations() throws {
    let plan = try catalogPlan(
      "  arches: [amd64]\n  kubernetesDistributions: [{type: kubernetes, version: v1.22.12}]\n")
    let kubeadm = try #require(plan.file("kubeadm"))
    let digest = try #require(kubeadm.checksum.digest)
    #expect(
      kubeadm.indexAnnotations(digest: digest) == [
        "io.kubekey.artifact.kind": "file", "io.kubekey.component": "kubeadm",
        "io.kubekey.version": "v1.22.12", "io.kubekey.arch": "amd64",
        "io.kubekey.path": "kube/v1.22.12/amd64/kubeadm",
        "io.kubekey.upstream.digest": digest.description,
      ])
    #expect(kubeadm.layerAnnotations == ["org.opencontainers.image.title": "kubeadm"])
    #expect(kubeadm.artifactType == MediaType.kubekeyFile && !kubeadm.alreadyCompressed)
    #expect(try #require(plan.file("etcd")).alreadyCompressed)
  }

  @Test("dry-run: one line per file with URL, checksum source and path, then notes")
  func dryRun() throws {
    let plan = try catalogPlan(
      """
        arches: [amd64]
        kubernetesDistributions: [{type: kubernetes, version: v1.99.0}]
        components:
          helm: {version: v3.18.5}
      """)
    let lines = plan.dryRunText().split(separator: "\n").map(String.init)
    #expect(lines.count == plan.files.count + 1 + plan.notes.count)
    let url = "https://dl.k8s.io/release/v1.99.0/bin/linux/amd64/kubeadm"
    #expect(lines[0] == "\(url)  upstream \(url).sha256  kube/v1.99.0/amd64/kubeadm")
    let helm = try #require(lines.first { $0.contains("helm/v3.18.5") })
    let digest = try #require(plan.file("helm")?.checksum.digest)
    #expect(
      helm
        == "https://get.helm.sh/helm-v3.18.5-linux-amd64.tar.gz  table \(digest) (of linux-amd64/helm)  helm/v3.18.5/amd64/helm"
    )
    #expect(lines[plan.files.count] == "# \(plan.files.count) files for amd64; 0 images")
    #expect(lines.last?.hasPrefix("# ") == true)
  }
}
