import Foundation
import OCI
import Testing

@testable import Artifact

@Suite("Catalog checksums and mirrors")
struct CatalogChecksumTests {
  static let jsonPath = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("testdata/catalog/kubekey-components-sha256.json").path

  @Test("the embedded table is exactly the JSON it was generated from")
  func embeddedMatchesJSON() throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: Self.jsonPath))
    let json = try JSONDecoder().decode([String: [String: [String: String]]].self, from: data)
    var count = 0
    var expected: [String: [String: [String: Digest]]] = [:]
    for (id, arches) in json {
      for (arch, versions) in arches {
        for (version, hex) in versions {
          expected[id, default: [:]][arch, default: [:]][version] = try Digest(
            parsing: "sha256:\(hex.lowercased())")
          count += 1
        }
      }
    }
    #expect(count > 1300)
    #expect(ChecksumTable.embedded.entries == expected)
    #expect(
      ChecksumTable.embedded.digest(id: "kubeadm", arch: .amd64, version: "v1.21.5")?.encoded
        == "e384171fcb3c0de924904007bfd7babb0f970997b93223ed7ffee14d29019353")
  }

  @Test("a malformed table line is refused with its number")
  func badTable() {
    #expect(throws: CatalogError.invalidChecksumTable(line: 2, reason: "'xyz' is not a sha256 hex"))
    {
      try ChecksumTable(parsing: "\netcd amd64 v1 xyz\n")
    }
    #expect(throws: CatalogError.self) { try ChecksumTable(parsing: "etcd amd64 v1") }
  }

  @Test("precedence: manifest, then table, then the upstream .sha256, then a refusal")
  func precedence() throws {
    let pinned = String(repeating: "0f", count: 32)
    let table = ChecksumTable.embedded
    let plan = try catalogPlan(
      """
        arches: [amd64, arm64]
        kubernetesDistributions:
        - type: kubernetes
          version: v1.99.1
          sha256:
            kubeadm: {amd64: \(pinned)}
        components:
          etcd:
            version: v3.5.24
            sha256: {arm64: \(pinned)}
      """)
    let digest = try Digest(parsing: "sha256:\(pinned)")
    #expect(
      plan.file("kubeadm")?.checksum
        == .manifest(digest, field: "spec.kubernetesDistributions[0].sha256.kubeadm.amd64"))
    let url = "https://dl.k8s.io/release/v1.99.1/bin/linux/arm64/kubeadm"
    #expect(plan.file("kubeadm", .arm64)?.checksum == .upstreamFile(url: url + ".sha256"))
    #expect(
      plan.file("etcd", .arm64)?.checksum
        == .manifest(digest, field: "spec.components.etcd.sha256.arm64"))
    let etcd = try #require(table.digest(id: "etcd", arch: .amd64, version: "v3.5.24"))
    #expect(plan.file("etcd")?.checksum == .table(etcd))
    // A table entry loses to the manifest even when both know the version.
    #expect(digest != etcd)
  }

  @Test("a version nobody vouches for is refused, naming the field and its place")
  func refusal() throws {
    let missing = try catalogRefusals(
      """
        arches: [amd64, arm64]
        components:
          containerRuntimes:
          - type: docker
            version: 20.10.99
            sha256:
              arm64: \(String(repeating: "1a", count: 32))
      """)
    #expect(missing.count == 1)
    let refusal = try #require(missing.first)
    #expect(refusal.field == "spec.components.containerRuntimes[0].sha256.amd64")
    // The sha256 map exists: the place to add the amd64 line is its first entry.
    #expect(
      refusal.location == MissingChecksum.SourceLocation(file: "manifest.yaml", line: 12, column: 9)
    )
    #expect(
      refusal.description
        == "manifest.yaml:12:9: no sha256 known for docker 20.10.99 (amd64): add "
        + "spec.components.containerRuntimes[0].sha256.amd64, or use a version with a built-in "
        + "checksum: 24.0.6, 24.0.9")
  }

  @Test("every refusal is reported at once (an ISO url without checksum is not one)")
  func refusals() throws {
    let missing = try catalogRefusals(
      """
        arches: [amd64]
        operatingSystems:
        - {arch: amd64, id: centos, version: "7", repository: {iso: {url: "https://x.invalid/c.iso"}}}
        kubernetesDistributions: [{type: k3s, version: v1.99.0}]
        components:
          calicoctl: {version: v3.0.0}
      """)
    #expect(
      missing.map(\.field) == [
        "spec.kubernetesDistributions[0].sha256.k3s.amd64",
        "spec.components.calicoctl.sha256.amd64",
      ])
    #expect(missing.map { $0.location?.line } == [9, 11])
  }

  @Test("an implied file the table lacks is refused without inventing a field")
  func impliedRefusal() throws {
    var table = ChecksumTable()
    table.set(
      try Digest(parsing: "sha256:" + String(repeating: "2b", count: 32)), id: "containerd",
      arch: .amd64, version: "1.7.13")
    let missing = try catalogRefusals(
      "  arches: [amd64]\n  components:\n    containerRuntimes: [{type: containerd, version: 1.7.13}]\n",
      table: table)
    #expect(missing.map(\.component) == ["runc"])
    #expect(missing.first?.location == nil)
    #expect(missing.first?.field.contains("implied by containerd") == true)
  }

  @Test("a mirror maps every catalog URL and its .sha256 to <mirror>/<host>/<path>, over KKZONE")
  func mirror() throws {
    let options = try CatalogOptions(zone: .cn, mirror: "http://127.0.0.1:8080/kk/")
    #expect(options.mirror == "http://127.0.0.1:8080/kk")
    let plan = try catalogPlan(
      "  arches: [amd64]\n  kubernetesDistributions: [{type: kubernetes, version: v1.99.0}]\n"
        + "  components:\n    containerRuntimes: [{type: docker, version: 24.0.9}]\n",
      options: options)
    let base = "http://127.0.0.1:8080/kk/dl.k8s.io/release/v1.99.0/bin/linux/amd64/kubeadm"
    #expect(plan.file("kubeadm")?.url == base)
    #expect(plan.file("kubeadm")?.checksum == .upstreamFile(url: base + ".sha256"))
    #expect(
      plan.file("docker")?.url
        == "http://127.0.0.1:8080/kk/download.docker.com/linux/static/stable/x86_64/docker-24.0.9.tgz"
    )
    for file in plan.files { #expect(file.url?.hasPrefix("http://127.0.0.1:8080/kk/") == true) }
    #expect(
      CatalogOptions.mirrored("https://h.example:8443/a/b?c=d", under: "https://m")
        == "https://m/h.example:8443/a/b?c=d")
  }

  @Test("options come from the flag, then KK_DOWNLOAD_MIRROR, and KKZONE")
  func environment() throws {
    let env = ["KKZONE": "CN", "KK_DOWNLOAD_MIRROR": "https://env.example/m"]
    #expect(try CatalogOptions(environment: env).mirror == "https://env.example/m")
    #expect(try CatalogOptions(environment: env).zone == .cn)
    #expect(
      try CatalogOptions(environment: env, mirrorFlag: "http://flag/x").mirror == "http://flag/x")
    #expect(try CatalogOptions(environment: ["KK_DOWNLOAD_MIRROR": ""]).mirror == nil)
    #expect(try CatalogOptions(environment: [:]) == CatalogOptions())
    #expect(
      throws: CatalogError.invalidMirror(
        "ftp://x", reason: "it must start with http:// or https://")
    ) {
      try CatalogOptions(mirror: "ftp://x")
    }
    #expect(throws: CatalogError.self) { try CatalogOptions(mirror: "https:///path") }
    #expect(throws: CatalogError.self) { try CatalogOptions(mirror: "https://m/x?y=1") }
  }

  @Test("versions compare numerically")
  func versions() {
    #expect(ComponentVersion("v1.9.0") < ComponentVersion("v1.10.0"))
    #expect(ComponentVersion("v1.24.0").isAtLeast(1, 24))
    #expect(ComponentVersion("v1.24.0-rc.1").isAtLeast(1, 24))
    #expect(!ComponentVersion("v1.23.17").isAtLeast(1, 24))
    #expect(ComponentVersion("2") == ComponentVersion("2.0"))
    #expect(ChecksumTable.embedded.versions(id: "docker", arch: .amd64) == ["24.0.6", "24.0.9"])
  }
}
