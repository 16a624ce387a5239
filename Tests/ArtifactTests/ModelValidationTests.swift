import Testing

@testable import Artifact

@Suite struct ModelValidationTests {
  @Test func collectsEveryProblemOfABadManifestWithPositions() {
    let error = #expect(throws: ModelError.self) {
      try KubeKeyManifest.load(path: manifestFixture("bad-fields.yaml"))
    }
    #expect(
      placed(error?.diagnostics ?? []) == [
        "8:5 unknown arch 'x86' (known: amd64, arm64, arm/v7, ppc64le, s390x, riscv64)",
        "12:11 all kubernetesDistributions must share one type: entry 0 is 'kubernetes', "
          + "this one is 'k3s'",
        "13:14 spec.kubernetesDistributions[1].version 'latest' does not look like a "
          + "version (e.g. v1.23.17)",
        "18:16 spec.components.helm.sha256.amd64 '1234' is not a sha256 (expected 64 hex "
          + "digits)",
        "20:13 unknown container runtime 'crio' (known: docker, containerd)",
        "22:3 W unknown field 'imgaes' in spec (did you mean 'images'?); it is ignored",
        "25:5 image 'docker.io/Calico/CNI:v3.23.2': repository 'Calico/CNI' must be lower-case",
        "27:5 W duplicate image: 'docker.io/calico/node:v3.23.2' and 'calico/node:v3.23.2' "
          + "on line 26 are both docker.io/calico/node:v3.23.2; listed once",
        "30:7 spec.registry.auths: 'https://dockerhub.kubekey.local' has a scheme; write "
          + "the host[:port] only (use plainHTTP: true for http)",
        "32:20 spec.registry.auths.\"https://dockerhub.kubekey.local\".plainHTTP must be "
          + "true or false",
      ])
    // The description is compiler-style, so editors link to it.
    #expect(
      error?.description.hasPrefix(
        manifestFixture("bad-fields.yaml") + ":8:5: unknown arch 'x86'") == true)
  }

  @Test func badYAMLReportsTheParserPosition() {
    let error = #expect(throws: ModelError.self) {
      try KubeKeyManifest.load(path: manifestFixture("bad-syntax.yaml"))
    }
    #expect(
      placed(error?.diagnostics ?? []) == [
        "7:9 invalid YAML: did not find expected ',' or ']' (while parsing a flow "
          + "sequence at 6:11)"
      ])
  }

  @Test func emptyFileSaysSo() {
    let error = #expect(throws: ModelError.self) {
      try KubeKeyManifest.load(path: manifestFixture("empty.yaml"))
    }
    #expect(
      error?.description
        == manifestFixture("empty.yaml") + ": the file is empty; expected a KubeKey "
        + "manifest (apiVersion: kubekey.kubesphere.io/v1alpha2, kind: Manifest)")
  }

  @Test func wrongKindAndAPIVersionSayWhatWasExpected() {
    let error = #expect(throws: ModelError.self) {
      try KubeKeyManifest.load(path: manifestFixture("wrong-kind.yaml"))
    }
    #expect(
      placed(error?.diagnostics ?? []) == [
        "1:13 apiVersion is 'kubekey.kubesphere.io/v1alpha1'; expected "
          + "'kubekey.kubesphere.io/v1alpha2'",
        "2:7 kind is 'Cluster'; expected 'Manifest' (this is a cluster config, not a "
          + "manifest)",
      ])
  }

  @Test func missingFileIsNamed() {
    let error = #expect(throws: ModelError.self) {
      try KubeKeyManifest.load(path: "/nonexistent/manifest.yaml")
    }
    #expect(
      error?.description
        == "/nonexistent/manifest.yaml: no such file; check the path")
  }

  @Test func strictTurnsUnknownFieldsIntoErrors() throws {
    let yaml = manifestYAML(
      """
        arches: [amd64]
        images: [busybox:1.36]
        imagePullPolicy: Always
      """)
    let relaxed = try KubeKeyManifest.parse(yaml: yaml, file: "m.yaml")
    #expect(relaxed.warnings.map(\.severity) == [.warning])
    #expect(relaxed.manifest.images.map(\.description) == ["docker.io/library/busybox:1.36"])
    #expect(
      placed(manifestProblems(yaml, strict: true)) == [
        "8:3 unknown field 'imagePullPolicy' in spec (known: arches, operatingSystems, "
          + "kubernetesDistributions, components, images, registry)"
      ])
    // Said of a warning, "it is ignored" would be false of an error (QA: strict errors read
    // "...; it is ignored" and the export stopped anyway).
    #expect(
      placed(relaxed.warnings).first?.hasSuffix("registry); it is ignored") == true,
      "\(relaxed.warnings)")
  }

  /// Small broken manifests, each with the exact problems expected. Line 6 is the first
  /// line of `spec`.
  @Test(arguments: [
    (
      "  arches: []\n  images: [busybox]\n",
      [
        "6:11 spec.arches is empty; list at least one of amd64, arm64, arm/v7, ppc64le, "
          + "s390x, riscv64"
      ]
    ),
    (
      "  arches: amd64\n",
      ["6:11 spec.arches must be a list, found a scalar"]
    ),
    (
      "  arches: [amd64]\n  images:\n  - {name: busybox}\n",
      ["8:5 spec.images[0] must be a string, found a mapping"]
    ),
    (
      "  arches: [amd64]\n  images: [busybox@sha256:abc]\n",
      [
        "7:12 image 'busybox@sha256:abc': bad digest 'sha256:abc': sha256 needs 64 lower-case "
          + "hex digits"
      ]
    ),
    (
      "  arches: [amd64]\n  kubernetesDistributions:\n  - version: v1.21.5\n",
      ["8:5 spec.kubernetesDistributions[0] is missing 'type' (kubernetes, k3s or k8e)"]
    ),
    (
      "  arches: [amd64]\n  kubernetesDistributions:\n  - {type: openshift, version: 4}\n",
      ["8:12 unknown distribution type 'openshift' (known: kubernetes, k3s, k8e)"]
    ),
    (
      "  arches: [amd64]\n  components:\n    helm: {version: v3.6}\n    etcd: {}\n",
      ["9:11 spec.components.etcd is missing 'version'"]
    ),
    (
      "  arches: [amd64]\n  components:\n    cni: {version: 'v1.2.0 '}\n",
      [
        "8:20 spec.components.cni.version 'v1.2.0 ' does not look like a version "
          + "(e.g. v1.2.0)"
      ]
    ),
    (
      "  arches: [amd64]\n  components:\n    helm:\n      version: v3.6.3\n      sha256:\n"
        + "        arm64: " + String(repeating: "a", count: 64) + "\n",
      [
        "11:9 W spec.components.helm.sha256.arm64: 'arm64' is not in spec.arches; the "
          + "value is unused", "11:9 (strict)",
      ]
    ),
    (
      "  arches: [amd64]\n  operatingSystems:\n  - arch: s390\n    id: ubuntu\n"
        + "    version: '22.04'\n    repository:\n      iso:\n        url: ftp://x/y.iso\n",
      [
        "8:11 unknown arch 's390' (known: amd64, arm64, arm/v7, ppc64le, s390x, riscv64)",
        "13:14 spec.operatingSystems[0].repository.iso.url 'ftp://x/y.iso' must start with "
          + "http:// or https:// (use localPath for a file)",
      ]
    ),
    (
      "  arches: [amd64]\n  kubernetesDistributions:\n  - type: k3s\n    version: v1.27.9\n"
        + "    sha256:\n      kubeadm: {amd64: " + String(repeating: "b", count: 64) + "}\n",
      [
        "11:7 W spec.kubernetesDistributions[0].sha256.kubeadm: a k3s distribution has no "
          + "kubeadm binary (it has k3s); the value is unused", "(strict)",
      ]
    ),
    (
      "  arches: [amd64]\n  images: [busybox]\n  arches: [arm64]\n",
      [
        "6:3 key 'arches' appears more than once in the same mapping (first occurrence "
          + "here); keep one"
      ]
    ),
    (
      "  arches: [amd64]\n  images: [busybox]\n  registry:\n    auths:\n"
        + "      \"reg.local:0\": {username: a}\n      \"REG.example.com\": {}\n"
        + "      \"reg.example.com\": {}\n",
      [
        "10:7 spec.registry.auths: 'reg.local:0' has an invalid port '0' (1-65535)",
        "12:7 spec.registry.auths lists 'reg.example.com' twice",
      ]
    ),
  ])
  func brokenSnippets(spec: String, expected: [String]) {
    if expected.last?.hasSuffix("(strict)") == true {
      // A warning case: accepted normally, refused under strict at the same place.
      let relaxed = try? KubeKeyManifest.parse(yaml: manifestYAML(spec), file: "m.yaml")
      #expect(placed(relaxed?.warnings ?? []) == [expected[0]])
      let strict = placed(manifestProblems(manifestYAML(spec), strict: true))
      // The error drops what kk would have done about the warning ("; the value is unused").
      let error = expected[0].replacingOccurrences(of: " W ", with: " ")
      #expect(strict == [error.replacingOccurrences(of: "; the value is unused", with: "")])
      return
    }
    #expect(placed(manifestProblems(manifestYAML(spec))) == expected)
  }

  @Test func blankComponentVersionMeansNotBundled() throws {
    let yaml = manifestYAML(
      """
        arches: [amd64]
        components:
          helm: {version: v3.6.3}
          crictl:
            version: ""
          calicoctl:
            version:
      """)
    let parsed = try KubeKeyManifest.parse(yaml: yaml, file: "m.yaml")
    #expect(
      parsed.manifest.components
        == Components(helm: Component(version: "v3.6.3"), notBundled: ["crictl", "calicoctl"]))
    #expect(
      placed(parsed.warnings) == [
        "10:16 N spec.components.crictl.version is empty; the component is not bundled",
        "12:15 N spec.components.calicoctl.version is empty; the component is not bundled",
      ])
    // `version: ""` is KubeKey's documented opt-out, not a mistake: --strict keeps it (QA:
    // it used to refuse the manifest, "...version is empty; the component is not bundled").
    let strict = try KubeKeyManifest.parse(yaml: yaml, file: "m.yaml", options: .init(strict: true))
    #expect(strict.manifest.components == parsed.manifest.components)
    #expect(strict.warnings.map(\.severity) == [.note, .note])
    #expect(strict.warnings.first?.description.hasPrefix("m.yaml:10:16: note: ") == true)
  }

  /// `containerRuntimes: [{type: containerd, version: ""}]` used to be a hard error although
  /// `version: ""` is the opt-out for every other component: now the same note.
  @Test func blankRuntimeVersionMeansNotBundled() throws {
    let yaml = manifestYAML(
      """
        arches: [amd64]
        kubernetesDistributions: [{type: kubernetes, version: v1.28.0}]
        components:
          containerRuntimes:
          - {type: containerd, version: ""}
          - type: docker
            version: 24.0.9
      """)
    for strict in [false, true] {
      let parsed = try KubeKeyManifest.parse(
        yaml: yaml, file: "m.yaml", options: .init(strict: strict))
      let components = parsed.manifest.components
      #expect(components.containerRuntimes == [ContainerRuntime(type: .docker, version: "24.0.9")])
      #expect(components.notBundledRuntimes == [.containerd])
      #expect(
        placed(parsed.warnings) == [
          "10:35 N spec.components.containerRuntimes[0].version is empty; the containerd "
            + "runtime is not bundled"
        ])
      // Written back as it was read.
      let again = try KubeKeyManifest.parse(yaml: parsed.manifest.yaml(), file: "again.yaml")
      #expect(again.manifest == parsed.manifest)
      // Not planned: no containerd, no runc; docker still is.
      let plan = try Catalog().plan(parsed.manifest)
      #expect(!plan.files.contains { ["containerd", "runc"].contains($0.component) })
      #expect(plan.files.contains { $0.component == "docker" })
    }
  }

  @Test(arguments: [
    ("v1.21.5", true), ("20.10.8", true), ("2", true), ("v1.0.0-rc.1", true),
    ("v1.21.5+k3s1", true), ("1.2.3.4", true), ("latest", false), ("", false), ("v", false),
    ("v1.21,5", false), ("1..2", false), ("v1.2.3-", false), ("1.2.3.4.5", false),
    ("v1.2 ", false), ("stable", false),
  ])
  func versionShapes(version: String, valid: Bool) {
    #expect(looksLikeVersion(version) == valid)
  }

  @Test(
    arguments: [
      ("dockerhub.kubekey.local", nil),
      ("localhost:5000", nil),
      ("10.0.0.1:443", nil),
      ("[::1]:5000", nil),
      ("https://x.io", "has a scheme"),
      ("x.io/project", "has a path"),
      ("x.io:http", "invalid port"),
      ("-bad.io", "not a valid host name"),
      ("a..b", "not a valid host name"),
      ("[::1", "unclosed"),
    ] as [(String, String?)])
  func registryHosts(host: String, problem: String?) {
    let found = registryHostProblem(host)
    if let problem {
      #expect(found?.contains(problem) == true, "\(host): \(found ?? "accepted")")
    } else {
      #expect(found == nil)
    }
  }
}
