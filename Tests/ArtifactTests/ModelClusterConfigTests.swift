import Testing

@testable import Artifact

@Suite struct ModelClusterConfigTests {
  @Test func readsTheRegistryOfARealConfigAndIgnoresTheRest() throws {
    let parsed = try ClusterRegistryConfig.load(path: manifestFixture("config-sample.yaml"))
    #expect(parsed.warnings.isEmpty)
    let config = parsed.config
    #expect(config.clusterName == "sample")
    #expect(config.type == .harbor)
    #expect(
      config.privateRegistry
        == .init(host: "dockerhub.kubekey.local", path: "kubesphereio"))
    #expect(config.privateRegistry?.description == "dockerhub.kubekey.local/kubesphereio")
    #expect(config.namespaceOverride == nil)
    #expect(config.registryMirrors == ["https://mirror.ccs.tencentyun.com"])
    #expect(config.insecureRegistries == ["dockerhub.kubekey.local", "172.16.0.2:5000"])
    #expect(config.privateRegistryAuth?.username == "admin")
    #expect(config.privateRegistryAuth?.password == "Harbor12345")
    #expect(config.auths.auths["172.16.0.2:5000"]?.skipTLSVerify == true)
  }

  @Test func badRegistrySectionListsEveryProblem() {
    let error = #expect(throws: ModelError.self) {
      try ClusterRegistryConfig.load(path: manifestFixture("config-bad-registry.yaml"))
    }
    #expect(
      placed(error?.diagnostics ?? []) == [
        "9:11 unknown registry type 'quay' (known: \"\" or registry for a docker "
          + "registry, harbor)",
        "10:22 spec.registry.privateRegistry: 'https://dockerhub.kubekey.local' has a "
          + "scheme; write host[:port][/project] (use auths.<host>.plainHTTP: true for "
          + "http)",
        "11:24 spec.registry.namespaceOverride 'Kube/Sphere' must be one lower-case path "
          + "component (letters, digits, '.', '_', '-'), e.g. kubesphereio",
        "13:7 spec.registry.registryMirrors entry 'mirror.example.com' must be a URL "
          + "(https://mirror.example or http://host:port)",
        "15:7 spec.registry.insecureRegistries: '10.0.0.2:99999' has an invalid port "
          + "'99999' (1-65535)",
        "19:9 W unknown field 'pasword' in spec.registry.auths.\"dockerhub.kubekey.local\" "
          + "(did you mean 'password'?); it is ignored",
        "20:24 spec.registry.auths.\"dockerhub.kubekey.local\".skipTLSVerify must be true "
          + "or false",
      ])
  }

  @Test func aManifestIsNotAClusterConfig() {
    let error = #expect(throws: ModelError.self) {
      try ClusterRegistryConfig.load(path: manifestFixture("sample.yaml"))
    }
    #expect(
      placed(error?.diagnostics ?? []) == [
        "2:7 kind is 'Manifest'; expected 'Cluster' (this is a manifest, not a cluster "
          + "config)"
      ])
  }

  @Test func configWithoutRegistryGivesDefaults() throws {
    let yaml = """
      apiVersion: kubekey.kubesphere.io/v1alpha2
      kind: Cluster
      metadata: {name: c}
      spec:
        hosts: [{name: n1, address: 10.0.0.1}]
        kubernetes: {version: v1.23.17}
      """
    let config = try ClusterRegistryConfig.parse(yaml: yaml, file: "c.yaml").config
    #expect(config == ClusterRegistryConfig(clusterName: "c"))
    #expect(config.privateRegistryAuth == nil)
  }

  @Test func harborWithoutProjectWarnsAndEmptyTypeIsDockerRegistry() throws {
    let harbor = """
      apiVersion: kubekey.kubesphere.io/v1alpha2
      kind: Cluster
      spec:
        registry: {type: harbor, privateRegistry: Harbor.local:8443}
      """
    let parsed = try ClusterRegistryConfig.parse(yaml: harbor, file: "c.yaml")
    #expect(parsed.config.privateRegistry == .init(host: "harbor.local:8443"))
    #expect(parsed.warnings.map { "\($0.line ?? 0):\($0.column ?? 0)" } == ["4:45"])
    let plain = harbor.replacingOccurrences(of: "type: harbor", with: "type: \"\"")
    let config = try ClusterRegistryConfig.parse(yaml: plain, file: "c.yaml")
    #expect(config.config.type == .dockerRegistry && config.warnings.isEmpty)
  }

  @Test(
    arguments: [
      ("dockerhub.kubekey.local", "dockerhub.kubekey.local", nil),
      ("10.0.0.2:5000/library", "10.0.0.2:5000", "library"),
      ("reg.local/a/b/", "reg.local", "a/b"),
      ("reg.local/Proj", nil, nil),
      ("reg.local//x", nil, nil),
      ("reg.local/a..b", nil, nil),
      ("reg.local/a_._b", nil, nil),
      ("reg.local/a__b/c--d/e.f", "reg.local", "a__b/c--d/e.f"),
      ("http://reg.local", nil, nil),
    ] as [(String, String?, String?)])
  func privateRegistryLocations(value: String, host: String?, path: String?) {
    switch ClusterRegistryConfig.parsePrivateRegistry(value) {
    case .success(let location):
      #expect(location.host == host && location.path == path)
    case .failure(let problem):
      #expect(host == nil, "\(value): \(problem.message)")
    }
  }

  /// Two cluster configs in one file (concatenated, or an old one left in): the first is
  /// used, and a warning at the second says so.
  @Test func aSecondClusterDocumentIsWarnedAbout() throws {
    let one = """
      apiVersion: kubekey.kubesphere.io/v1alpha2
      kind: Cluster
      metadata: {name: a}
      spec:
        registry: {privateRegistry: first.local}
      """
    let yaml = one + "\n---\n" + one.replacingOccurrences(of: "first", with: "second") + "\n"
    let parsed = try ClusterRegistryConfig.parse(yaml: yaml, file: "c.yaml")
    #expect(parsed.config.privateRegistry == .init(host: "first.local"))
    #expect(parsed.warnings.count == 1)
    #expect(parsed.warnings.first?.line == 7)
    #expect(
      parsed.warnings.first?.description.contains(
        "the file holds 2 kind: Cluster documents; only the first (line 1) is used") == true,
      "\(parsed.warnings)")
  }
}
