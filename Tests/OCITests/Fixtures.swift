import Foundation

/// Manifests in the exact shapes registries serve them (spacing, escaped slashes, unknown
/// fields), so that decoding and byte-exact digesting are tested against what really arrives.
enum Fixtures {
  static func hex(_ seed: Character) -> String { String(repeating: String(seed), count: 64) }

  /// A Docker Hub manifest list as the registry serves it: 3-space indent, `\/` escapes,
  /// Windows entries with `os.version` and the unknown `features` field.
  static let dockerManifestList = """
    {
       "manifests": [
          {
             "digest": "sha256:907ca53d7e2947e849b839b1cd258c98fd3916c60f2e6e70c30edbf741ab6754",
             "mediaType": "application\\/vnd.docker.distribution.manifest.v2+json",
             "platform": {
                "architecture": "amd64",
                "os": "linux"
             },
             "size": 527
          },
          {
             "digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
             "mediaType": "application\\/vnd.docker.distribution.manifest.v2+json",
             "platform": {
                "architecture": "arm",
                "os": "linux",
                "variant": "v6"
             },
             "size": 527
          },
          {
             "digest": "sha256:2222222222222222222222222222222222222222222222222222222222222222",
             "mediaType": "application\\/vnd.docker.distribution.manifest.v2+json",
             "platform": {
                "architecture": "arm",
                "os": "linux",
                "variant": "v7"
             },
             "size": 527
          },
          {
             "digest": "sha256:3333333333333333333333333333333333333333333333333333333333333333",
             "mediaType": "application\\/vnd.docker.distribution.manifest.v2+json",
             "platform": {
                "architecture": "arm64",
                "os": "linux",
                "variant": "v8"
             },
             "size": 527
          },
          {
             "digest": "sha256:4444444444444444444444444444444444444444444444444444444444444444",
             "mediaType": "application\\/vnd.docker.distribution.manifest.v2+json",
             "platform": {
                "architecture": "amd64",
                "os": "windows",
                "os.version": "10.0.17763.2114",
                "features": ["win32k"]
             },
             "size": 1145
          }
       ],
       "mediaType": "application\\/vnd.docker.distribution.manifest.list.v2+json",
       "schemaVersion": 2
    }
    """

  /// A Docker schema 2 image manifest as `docker push` writes it.
  static let dockerManifest = """
    {
       "schemaVersion": 2,
       "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
       "config": {
          "mediaType": "application/vnd.docker.container.image.v1+json",
          "size": 1457,
          "digest": "sha256:a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824"
       },
       "layers": [
          {
             "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
             "size": 772788,
             "digest": "sha256:5cc84ad355aaa64f46ea9c7bbcc319a9d808ab15088a27209c9e70ef86e5a2aa"
          }
       ]
    }
    """

  /// A buildkit OCI index: one image plus an attestation manifest (platform unknown/unknown).
  static let ociIndexWithAttestation = """
    {"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[\
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:\(hex("5"))",\
    "size":1612,"platform":{"architecture":"arm64","os":"linux"}},\
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:\(hex("6"))",\
    "size":566,"annotations":{"vnd.docker.reference.digest":"sha256:\(hex("5"))",\
    "vnd.docker.reference.type":"attestation-manifest"},\
    "platform":{"architecture":"unknown","os":"unknown"}}]}
    """

  /// An OCI image manifest with zstd layers, annotations and an unknown top-level field.
  static let ociManifest = """
    {
      "schemaVersion": 2,
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json",
        "digest": "sha256:\(hex("7"))",
        "size": 7023
      },
      "layers": [
        {
          "mediaType": "application/vnd.oci.image.layer.v1.tar+zstd",
          "digest": "sha256:\(hex("8"))",
          "size": 32654
        },
        {
          "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
          "digest": "sha256:\(hex("9"))",
          "size": 16724,
          "annotations": {"org.opencontainers.image.title": "rootfs.tar.gz"}
        }
      ],
      "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
      "x-vendor-extension": {"anything": [1, 2, 3]}
    }
    """

  /// A kk file artifact (SPEC.md §1.3) with an OCI 1.1 subject and the empty config inlined.
  static let fileArtifact = """
    {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",\
    "artifactType":"application/vnd.kubekey.file.v1",\
    "config":{"mediaType":"application/vnd.oci.empty.v1+json",\
    "digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"data":"e30="},\
    "layers":[{"mediaType":"application/octet-stream","digest":"sha256:\(hex("a"))","size":46678016,\
    "annotations":{"org.opencontainers.image.title":"kubeadm"}}],\
    "subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:\(hex("b"))","size":100},\
    "annotations":{"io.kubekey.component":"kubeadm"}}
    """

  /// An OCI layout index.json as skopeo writes it: no mediaType field.
  static let layoutIndex = """
    {"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",\
    "digest":"sha256:\(hex("c"))","size":405,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}
    """
}

extension String {
  var bytes: [UInt8] { Array(utf8) }
  var data: Data { Data(utf8) }
}

extension JSONEncoder {
  /// Sorted keys, unescaped slashes: output comparable as text.
  static var sorted: JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return encoder
  }
}
