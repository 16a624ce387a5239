import OCI
import Testing

@testable import Artifact

@Suite struct ModelManifestTests {
  @Test func decodesEveryFieldOfTheFactsExample() throws {
    let parsed = try KubeKeyManifest.load(path: manifestFixture("sample.yaml"))
    #expect(parsed.warnings.isEmpty)
    let m = parsed.manifest
    #expect(m.name == "sample")
    #expect(m.arches == [.amd64, .arm64])
    #expect(m.operatingSystems.count == 1)
    let os = try #require(m.operatingSystems.first)
    #expect(os.arch == .amd64 && os.type == "linux" && os.id == "ubuntu")
    #expect(os.version == "20.04")
    #expect(os.osImage == "Ubuntu 20.04.3 LTS")
    #expect(os.iso?.localPath == "./ubuntu.iso")
    #expect(os.iso?.url == "https://example.invalid/ubuntu-20.04-amd64-debs.iso")
    #expect(
      os.iso?.checksum?.description
        == "sha256:5e0a5a1a64e0ae1f0ed6e4c0c1f4fd3c1d1b3c5a4e3f2b1a0c9d8e7f6a5b4c3d")
    #expect(
      m.kubernetesDistributions == [
        KubernetesDistribution(type: .kubernetes, version: "v1.21.5")
      ])
    let c = m.components
    #expect(c.helm?.version == "v3.6.3")
    #expect(c.cni?.version == "v0.9.1")
    #expect(c.etcd?.version == "v3.4.13")
    #expect(c.calicoctl?.version == "v3.23.2")
    #expect(c.crictl?.version == "v1.22.0")
    #expect(c.dockerRegistry?.version == "2")
    #expect(c.harbor?.version == "v2.4.1")
    #expect(c.dockerCompose?.version == "v2.2.2")
    #expect(
      c.containerRuntimes == [
        ContainerRuntime(type: .docker, version: "20.10.8"),
        ContainerRuntime(type: .containerd, version: "1.6.4"),
      ])
    #expect(
      m.images.map(\.description) == [
        "docker.io/calico/cni:v3.23.2", "docker.io/kubesphere/pause:3.4.1",
      ])
    let auth = try #require(m.registry.auth(forHost: "DockerHub.KubeKey.local"))
    #expect(auth.username == "xxx" && auth.password == "***")
    #expect(!auth.skipTLSVerify && !auth.plainHTTP)
    #expect(auth.certsPath == "/etc/docker/certs.d/dockerhub.kubekey.local")
  }

  @Test func imagesOnlyManifestIsValidAndImagesAreNormalisedAndMerged() throws {
    let parsed = try KubeKeyManifest.load(path: manifestFixture("images-only.yaml"))
    let m = parsed.manifest
    #expect(m.kubernetesDistributions.isEmpty && m.components.isEmpty)
    #expect(
      m.images.map(\.description) == [
        "docker.io/library/busybox:latest",
        "docker.io/calico/node:v3.27.4",
        "quay.io/jetstack/cert-manager-controller:v1.14.4",
        "registry.k8s.io/ingress-nginx/controller:v1.10.0",
        "ghcr.io/fluxcd/source-controller:v1.2.4",
        "localhost:5000/team/app:1.0",
        "registry.cn-beijing.aliyuncs.com/kubesphereio/pause:3.9",
        "docker.io/library/alpine@sha256:"
          + "c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b",
      ])
    #expect(
      placed(parsed.warnings) == [
        "16:5 W duplicate image: 'docker.io/library/busybox:latest' and 'busybox' on line 10 "
          + "are both docker.io/library/busybox:latest; listed once"
      ])
    // plainHTTP implies skipTLSVerify, even though the file does not say so.
    let auth = try #require(m.registry.auths["localhost:5000"])
    #expect(auth.plainHTTP && auth.skipTLSVerify)
  }

  @Test func k3sManifestWithArchAliasesIsNormalisedWithWarnings() throws {
    let parsed = try KubeKeyManifest.load(path: manifestFixture("k3s.yaml"))
    #expect(parsed.manifest.arches == [.amd64, .arm64])
    #expect(parsed.manifest.kubernetesDistributions.map(\.type) == [.k3s])
    #expect(parsed.manifest.components.containerRuntimes.map(\.type) == [.containerd])
    #expect(
      placed(parsed.warnings) == [
        "7:5 W arch 'x86_64' is written 'amd64'; normalised",
        "8:5 W arch 'aarch64' is written 'arm64'; normalised",
      ])
    // Under strict the same aliases refuse the file, at the same places.
    let strict = #expect(throws: ModelError.self) {
      try KubeKeyManifest.load(
        path: manifestFixture("k3s.yaml"), options: .init(strict: true))
    }
    #expect(strict?.errors.map { "\($0.line ?? 0):\($0.column ?? 0)" } == ["7:5", "8:5"])
  }

  @Test func pinnedChecksumsAreParsedAndNormalised() throws {
    let m = try KubeKeyManifest.load(path: manifestFixture("sha256.yaml")).manifest
    let k8s = try #require(m.kubernetesDistributions.first)
    #expect(Set(k8s.sha256.keys) == ["kubeadm", "kubelet", "kubectl"])
    #expect(
      k8s.sha256["kubeadm"]?[.arm64]?.encoded
        == "7a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9")
    // `sha256:` prefix accepted, stored as a digest.
    #expect(
      k8s.sha256["kubectl"]?[.amd64]?.description
        == "sha256:9c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b")
    // Upper-case hex is lower-cased.
    #expect(
      m.components.helm?.sha256[.amd64]?.encoded
        == "a0b1c2d3e4f5061728394a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9")
    #expect(m.components.crictl?.sha256.count == 1)
    #expect(m.components.containerRuntimes.first?.sha256[.amd64] != nil)
  }

  @Test func redactionRemovesEveryPasswordAndKeepsTheRest() throws {
    let m = try KubeKeyManifest.load(path: manifestFixture("sample.yaml")).manifest
    var two = m
    two.registry.auths["10.0.0.1:5000"] = RegistryAuth(username: "u", password: "s3cret!")
    let yaml = two.redactedYAML()
    #expect(!yaml.contains("password"))
    #expect(!yaml.contains("***") && !yaml.contains("s3cret"))
    let back = try KubeKeyManifest.parse(yaml: yaml, file: "redacted.yaml").manifest
    #expect(back.registry.auths.count == 2)
    #expect(back.registry.auths.values.allSatisfy { $0.password == nil })
    #expect(back.registry.auths["dockerhub.kubekey.local"]?.username == "xxx")
    #expect(back.registry.auths["10.0.0.1:5000"]?.username == "u")
    var expected = two
    for host in expected.registry.auths.keys { expected.registry.auths[host]?.password = nil }
    #expect(back == expected)
    // The original is untouched.
    #expect(two.registry.auths["10.0.0.1:5000"]?.password == "s3cret!")
  }

  @Test func osEntryWithoutISOSourceIsKeptWithAWarning() throws {
    let yaml = manifestYAML(
      """
        arches: [amd64]
        operatingSystems:
        - arch: amd64
          type: linux
          id: centos
          version: 7
          repository:
            iso:
              localPath:
              url:
      """)
    let parsed = try KubeKeyManifest.parse(yaml: yaml, file: "m.yaml")
    #expect(parsed.manifest.operatingSystems.first?.version == "7")
    #expect(parsed.manifest.operatingSystems.first?.iso == nil)
    #expect(
      placed(parsed.warnings) == [
        "14:9 W spec.operatingSystems[0].repository.iso has neither localPath nor url; "
          + "no OS packages will be bundled for it"
      ])
  }
}
