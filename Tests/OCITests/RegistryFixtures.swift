import Foundation

/// Manifests as real tools produced and served them, captured byte for byte (base64, so not one
/// byte can drift): an image built by hand in skopeo's `dir:` format, copied with skopeo 1.9.3
/// into docker-registry 2.8.2 on 127.0.0.1 (as schema 2, converted to OCI with `--format oci`,
/// and as a two-platform OCI index, converted by `skopeo copy --all --format v2s2` into a Docker
/// manifest list), then fetched with curl. `digest` is the registry's `Docker-Content-Digest`
/// header and `contentType` its `Content-Type`: values computed by other implementations.
enum RegistryFixtures {
  struct Captured: Sendable {
    let name: String
    let contentType: String
    let digest: String
    let base64: String
    var bytes: [UInt8] { Array(Data(base64Encoded: base64) ?? Data()) }
  }

  /// `amd64-v2s2` as served (523 bytes).
  static let dockerManifest = Captured(
    name: "amd64-v2s2", contentType: "application/vnd.docker.distribution.manifest.v2+json",
    digest: "sha256:88c48f1fe367e0e7a35a4f4ef6e54182d9a4f87adfe09b0d7d1d897598a559e5",
    base64:
      "ewogICAic2NoZW1hVmVyc2lvbiI6IDIsCiAgICJtZWRpYVR5cGUiOiAiYXBwbGljYXRpb24vdm5kLmRvY2tlci5k"
      + "aXN0cmlidXRpb24ubWFuaWZlc3QudjIranNvbiIsCiAgICJjb25maWciOiB7CiAgICAgICJtZWRpYVR5cGUiOiAi"
      + "YXBwbGljYXRpb24vdm5kLmRvY2tlci5jb250YWluZXIuaW1hZ2UudjEranNvbiIsCiAgICAgICJzaXplIjogMjYw"
      + "LAogICAgICAiZGlnZXN0IjogInNoYTI1NjpkY2ViNTNhZTM1NjRmODJmZGViMzY3ZDgyODBlODM4ZDk1ODM5Yjhh"
      + "NGYxYWUyMjdjOTc4MDY0YzgzNjkxYmYzIgogICB9LAogICAibGF5ZXJzIjogWwogICAgICB7CiAgICAgICAgICJt"
      + "ZWRpYVR5cGUiOiAiYXBwbGljYXRpb24vdm5kLmRvY2tlci5pbWFnZS5yb290ZnMuZGlmZi50YXIuZ3ppcCIsCiAg"
      + "ICAgICAgICJzaXplIjogMTIwLAogICAgICAgICAiZGlnZXN0IjogInNoYTI1Njo2ZDdiNjMyY2YxYmYyOThiYTA3"
      + "YjIzOTE0MzRlZjgwMTMzNzk4ZGY0YTM4NTZlMzU0ODk3NGQ1NmFlZTEwOTk5IgogICAgICB9CiAgIF0KfQ==")

  /// `amd64-oci` as served (401 bytes).
  static let ociManifest = Captured(
    name: "amd64-oci", contentType: "application/vnd.oci.image.manifest.v1+json",
    digest: "sha256:34e7f0be3a89bc57b53b711faf2dc1347149d123f2e578e72f2b9e1bf8f79ef6",
    base64:
      "eyJzY2hlbWFWZXJzaW9uIjoyLCJtZWRpYVR5cGUiOiJhcHBsaWNhdGlvbi92bmQub2NpLmltYWdlLm1hbmlmZXN0"
      + "LnYxK2pzb24iLCJjb25maWciOnsibWVkaWFUeXBlIjoiYXBwbGljYXRpb24vdm5kLm9jaS5pbWFnZS5jb25maWcu"
      + "djEranNvbiIsImRpZ2VzdCI6InNoYTI1Njo2MTZlMWM0OGY4ZjFmMzkzM2YxOTAzZDNkYmYxOTNhNDJkZWE2M2Fk"
      + "ZDNkOTUxMzc3YzJmY2ZlMTcwNjI0ODVmIiwic2l6ZSI6MjQ0fSwibGF5ZXJzIjpbeyJtZWRpYVR5cGUiOiJhcHBs"
      + "aWNhdGlvbi92bmQub2NpLmltYWdlLmxheWVyLnYxLnRhcitnemlwIiwiZGlnZXN0Ijoic2hhMjU2OjZkN2I2MzJj"
      + "ZjFiZjI5OGJhMDdiMjM5MTQzNGVmODAxMzM3OThkZjRhMzg1NmUzNTQ4OTc0ZDU2YWVlMTA5OTkiLCJzaXplIjox"
      + "MjB9XX0=")

  /// `multi-oci` as served (534 bytes).
  static let ociIndex = Captured(
    name: "multi-oci", contentType: "application/vnd.oci.image.index.v1+json",
    digest: "sha256:4a2cd8d8848b9ba90a9d1550067bf744664e7d720cead0625211b24ccc890a57",
    base64:
      "eyJzY2hlbWFWZXJzaW9uIjogMiwgIm1lZGlhVHlwZSI6ICJhcHBsaWNhdGlvbi92bmQub2NpLmltYWdlLmluZGV4"
      + "LnYxK2pzb24iLCAibWFuaWZlc3RzIjogW3sibWVkaWFUeXBlIjogImFwcGxpY2F0aW9uL3ZuZC5vY2kuaW1hZ2Uu"
      + "bWFuaWZlc3QudjEranNvbiIsICJkaWdlc3QiOiAic2hhMjU2OjM0ZTdmMGJlM2E4OWJjNTdiNTNiNzExZmFmMmRj"
      + "MTM0NzE0OWQxMjNmMmU1NzhlNzJmMmI5ZTFiZjhmNzllZjYiLCAic2l6ZSI6IDQwMSwgInBsYXRmb3JtIjogeyJh"
      + "cmNoaXRlY3R1cmUiOiAiYW1kNjQiLCAib3MiOiAibGludXgifX0sIHsibWVkaWFUeXBlIjogImFwcGxpY2F0aW9u"
      + "L3ZuZC5vY2kuaW1hZ2UubWFuaWZlc3QudjEranNvbiIsICJkaWdlc3QiOiAic2hhMjU2OjBlYjQxOTllMGZiNzll"
      + "ZjY3NzQ3ZWIxZTgxNzQxOGMyMDJlMWIwMmY5ZTEzM2NmNzYxZWY4MjQ2NTI0MDIwYjgiLCAic2l6ZSI6IDQwMSwg"
      + "InBsYXRmb3JtIjogeyJhcmNoaXRlY3R1cmUiOiAiYXJtNjQiLCAib3MiOiAibGludXgiLCAidmFyaWFudCI6ICJ2"
      + "OCJ9fV19")

  /// `multi-v2s2` as served (544 bytes).
  static let dockerManifestList = Captured(
    name: "multi-v2s2", contentType: "application/vnd.docker.distribution.manifest.list.v2+json",
    digest: "sha256:9194ec0c73d4c1b631592425dcf9e3b66bc1b2a5173e0235e9cd2b9242fd751d",
    base64:
      "eyJzY2hlbWFWZXJzaW9uIjoyLCJtZWRpYVR5cGUiOiJhcHBsaWNhdGlvbi92bmQuZG9ja2VyLmRpc3RyaWJ1dGlv"
      + "bi5tYW5pZmVzdC5saXN0LnYyK2pzb24iLCJtYW5pZmVzdHMiOlt7Im1lZGlhVHlwZSI6ImFwcGxpY2F0aW9uL3Zu"
      + "ZC5kb2NrZXIuZGlzdHJpYnV0aW9uLm1hbmlmZXN0LnYyK2pzb24iLCJzaXplIjo0MjMsImRpZ2VzdCI6InNoYTI1"
      + "NjpkYmJhYTkxZGQwYWE1MDc4NjA4NjFiYzE1ZWFjZDJlODUyZDIxYjIzMzI4YjU1NDBhOTlkOWM0YTNiOTFjNTBl"
      + "IiwicGxhdGZvcm0iOnsiYXJjaGl0ZWN0dXJlIjoiYW1kNjQiLCJvcyI6ImxpbnV4In19LHsibWVkaWFUeXBlIjoi"
      + "YXBwbGljYXRpb24vdm5kLmRvY2tlci5kaXN0cmlidXRpb24ubWFuaWZlc3QudjIranNvbiIsInNpemUiOjQyMywi"
      + "ZGlnZXN0Ijoic2hhMjU2OmFmNTQzMzIyOGM2YTkyYTRiNDIxODZjNDg5Y2VjZjBjZTg0MThhY2ZjZGMwZDhlOTkz"
      + "OTI4ZDk5ODhlOTU3NDAiLCJwbGF0Zm9ybSI6eyJhcmNoaXRlY3R1cmUiOiJhcm02NCIsIm9zIjoibGludXgiLCJ2"
      + "YXJpYW50IjoidjgifX1dfQ==")

  /// The `index.json` skopeo wrote for an OCI layout holding two tags (459 bytes).
  static let skopeoLayoutIndex = Captured(
    name: "index.json", contentType: "",
    digest: "sha256:fcb780e544646a35d057c4ccad617627cdc0f29e115e84973bc4d87b30020085",
    base64:
      "eyJzY2hlbWFWZXJzaW9uIjoyLCJtYW5pZmVzdHMiOlt7Im1lZGlhVHlwZSI6ImFwcGxpY2F0aW9uL3ZuZC5vY2ku"
      + "aW1hZ2UubWFuaWZlc3QudjEranNvbiIsImRpZ2VzdCI6InNoYTI1NjozNGU3ZjBiZTNhODliYzU3YjUzYjcxMWZh"
      + "ZjJkYzEzNDcxNDlkMTIzZjJlNTc4ZTcyZjJiOWUxYmY4Zjc5ZWY2Iiwic2l6ZSI6NDAxLCJhbm5vdGF0aW9ucyI6"
      + "eyJvcmcub3BlbmNvbnRhaW5lcnMuaW1hZ2UucmVmLm5hbWUiOiJhbWQ2NCJ9fSx7Im1lZGlhVHlwZSI6ImFwcGxp"
      + "Y2F0aW9uL3ZuZC5vY2kuaW1hZ2UubWFuaWZlc3QudjEranNvbiIsImRpZ2VzdCI6InNoYTI1NjowZWI0MTk5ZTBm"
      + "Yjc5ZWY2Nzc0N2ViMWU4MTc0MThjMjAyZTFiMDJmOWUxMzNjZjc2MWVmODI0NjUyNDAyMGI4Iiwic2l6ZSI6NDAx"
      + "LCJhbm5vdGF0aW9ucyI6eyJvcmcub3BlbmNvbnRhaW5lcnMuaW1hZ2UucmVmLm5hbWUiOiJhcm02NCJ9fV19")
}
