import Foundation
import TestSupport
import Testing

/// A TLS failure during export must name what export can change: the manifest's
/// `registry.auths` fields. It used to recommend `--dest-tls-verify=false` and
/// `--src-cert-dir`, flags of other commands that export does not have.
@Suite(.serialized) struct ExportTLSAdviceCLITests {
  @Test func aRegistryWhoseCAIsNotGivenNamesTheManifestFields() async throws {
    try await withTestRegistry(.tlsBasicAuth) { registry in
      let dir = try TemporaryDirectory(prefix: "kk-export-tls")
      defer { dir.remove() }
      let credentials = try #require(registry.credentials)
      let manifest = dir.path + "/m.yaml"
      try """
      apiVersion: kubekey.kubesphere.io/v1alpha2
      kind: Manifest
      metadata: {name: tls}
      spec:
        arches: [amd64]
        images:
        - \(registry.host)/library/busybox:1
        registry:
          auths:
            "\(registry.host)":
              username: \(credentials.username)
              password: \(credentials.password)

      """.write(toFile: manifest, atomically: true, encoding: .utf8)
      let result = try await KKBinary.run([
        "artifact", "export", "-m", manifest, "-o", dir.path + "/a.tar", "--cache-dir",
        dir.path + "/cache",
      ])
      #expect(result.exitCode == 1, "\(result)")
      let advice =
        "set certsPath (a directory with ca.crt), plainHTTP: true or skipTLSVerify: true "
        + "under spec.registry.auths.\"\(registry.host)\" of the manifest"
      #expect(result.stderr.contains("TLS"), "\(result.stderr)")
      #expect(result.stderr.contains(advice), "\(result.stderr)")
      #expect(!result.stderr.contains("tls-verify"), "\(result.stderr)")
      #expect(!result.stderr.contains("cert-dir"), "\(result.stderr)")
    }
  }
}
