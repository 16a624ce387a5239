import OCI
import Testing

@testable import Artifact

@Suite struct ModelEncodingTests {
  static let goodFixtures = ["sample.yaml", "images-only.yaml", "k3s.yaml", "sha256.yaml"]

  @Test(arguments: goodFixtures)
  func encodingRoundTrips(fixture: String) throws {
    let manifest = try KubeKeyManifest.load(path: manifestFixture(fixture)).manifest
    for template in [false, true] {
      let yaml = manifest.yaml(template: template)
      let back = try KubeKeyManifest.parse(yaml: yaml, file: "out.yaml")
      #expect(back.manifest == manifest, "template: \(template)\n\(yaml)")
      // Output is canonical: encoding again gives the same text.
      #expect(back.manifest.yaml(template: template) == yaml)
    }
  }

  @Test func fieldsComeInKubeKeysOrder() throws {
    let yaml = try KubeKeyManifest.load(path: manifestFixture("sample.yaml")).manifest.yaml()
    let lines = yaml.split(separator: "\n").map(String.init)
    let order = [
      "apiVersion:", "kind:", "metadata:", "  name:", "spec:", "  arches:",
      "  operatingSystems:", "  kubernetesDistributions:", "  components:", "    helm:",
      "    cni:", "    etcd:", "    calicoctl:", "    containerRuntimes:", "    crictl:",
      "    docker-registry:", "    harbor:", "    docker-compose:", "  images:",
      "  registry:", "    auths:",
    ]
    let positions = order.map { key in lines.firstIndex { $0.hasPrefix(key) } }
    #expect(!positions.contains(nil))
    let found = positions.compactMap { $0 }
    #expect(found == found.sorted())
    #expect(lines.contains("    version: \"20.04\""))
    #expect(lines.contains("      version: \"2\""))
    #expect(lines.contains("  - docker.io/calico/cni:v3.23.2"))
  }

  @Test func templateCommentsOutMissingRegistryComponents() throws {
    let manifest = KubeKeyManifest(
      name: "sample", arches: [.amd64],
      operatingSystems: [OperatingSystem(arch: .amd64, id: "ubuntu", version: "22.04")],
      kubernetesDistributions: [
        KubernetesDistribution(type: .kubernetes, version: "v1.23.17")
      ],
      components: Components(
        helm: Component(version: "v3.18.5"),
        containerRuntimes: [ContainerRuntime(type: .containerd, version: "1.7.13")],
        harbor: Component(version: "v2.10.2")),
      images: [try Reference(parsing: "kubesphere/pause:3.6")])
    let yaml = manifest.yaml(template: true)
    #expect(yaml.contains("    # docker-registry:\n    #   version: \"2\"\n"))
    #expect(yaml.contains("    # docker-compose:\n    #   version: v2.26.1\n"))
    // A registry component that is set is written, not commented.
    #expect(yaml.contains("    harbor:\n      version: v2.10.2\n"))
    #expect(!yaml.contains("# harbor"))
    #expect(yaml.hasSuffix("  registry:\n    auths: {}\n"))
    #expect(yaml.contains("        localPath:\n        url:\n"))
    // The template reads back (the blank ISO is a warning, not an error).
    let back = try KubeKeyManifest.parse(yaml: yaml, file: "manifest-sample.yaml")
    #expect(back.manifest == manifest)
    #expect(back.warnings.count == 1)
    // The compact form leaves the blank parts out entirely.
    let compact = manifest.yaml()
    #expect(!compact.contains("#") && !compact.contains("auths") && !compact.contains("iso"))
  }

  @Test(arguments: [
    ("v1.21.5", "v1.21.5"), ("20.10.8", "20.10.8"), ("20.04", "\"20.04\""), ("2", "\"2\""),
    ("true", "\"true\""), ("no", "\"no\""), ("On", "\"On\""), ("y", "\"y\""),
    ("N", "\"N\""), ("2001-12-14", "\"2001-12-14\""), (".inf", "\".inf\""), ("null", "\"null\""),
    ("~", "\"~\""),
    ("", "\"\""), ("a: b", "\"a: b\""), ("#x", "\"#x\""), ("x #y", "\"x #y\""),
    ("*ref", "\"*ref\""), ("- x", "\"- x\""), ("end:", "\"end:\""),
    ("Ubuntu 20.04.3 LTS", "Ubuntu 20.04.3 LTS"), ("say \"hi\"\n", "\"say \\\"hi\\\"\\n\""),
    ("docker.io/calico/cni:v3.23.2", "docker.io/calico/cni:v3.23.2"), ("0x1F", "\"0x1F\""),
    ("1e3", "\"1e3\""),
  ])
  func scalarsAreQuotedOnlyWhenNeeded(value: String, expected: String) {
    #expect(YAMLWriter.scalar(value) == expected)
  }

  @Test func awkwardStringsSurviveARoundTrip() throws {
    let names = ["20.04", "a: b", "#tag", "x'y\"z", "tab\there", "ünïcödé ✓", "yes", " lead"]
    for name in names {
      var manifest = KubeKeyManifest(
        name: name, arches: [.armV7], images: [try Reference(parsing: "busybox:1")])
      manifest.registry.auths["reg.local"] = RegistryAuth(username: name, password: name)
      let back = try KubeKeyManifest.parse(yaml: manifest.yaml(), file: "x.yaml").manifest
      #expect(back == manifest, "\(name)")
    }
  }
}
