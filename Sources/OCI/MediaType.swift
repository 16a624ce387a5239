/// The media types kk reads and writes, as plain strings.
///
/// Media types stay `String` on the wire types (``Descriptor/mediaType`` and friends) because
/// registries and tools invent new ones all the time: an unknown layer type must round-trip
/// untouched, so this is a namespace of well-known constants and classifiers, not a closed enum.
public enum MediaType {
  // MARK: OCI image spec

  /// An OCI image manifest: one config plus layers (also used for artifacts such as kk's files).
  public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
  /// An OCI image index: a list of manifests, usually one per platform.
  public static let ociIndex = "application/vnd.oci.image.index.v1+json"
  /// An OCI image config (the runtime configuration and rootfs diff IDs).
  public static let ociConfig = "application/vnd.oci.image.config.v1+json"
  /// An uncompressed layer tarball.
  public static let ociLayer = "application/vnd.oci.image.layer.v1.tar"
  /// A gzip-compressed layer tarball.
  public static let ociLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
  /// A zstd-compressed layer tarball.
  public static let ociLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
  /// A layer that registries may refuse to redistribute (deprecated by the spec, still seen).
  public static let ociLayerNondistributable =
    "application/vnd.oci.image.layer.nondistributable.v1.tar"
  /// The gzip-compressed non-distributable layer.
  public static let ociLayerNondistributableGzip =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
  /// The zstd-compressed non-distributable layer.
  public static let ociLayerNondistributableZstd =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
  /// The empty JSON object `{}`: the config of artifacts that have nothing to configure.
  public static let ociEmpty = "application/vnd.oci.empty.v1+json"

  // MARK: Docker image manifest v2 schema 2

  /// A Docker schema 2 image manifest (same JSON shape as an OCI manifest).
  public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
  /// A Docker manifest list (same JSON shape as an OCI index).
  public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
  /// A Docker image config.
  public static let dockerConfig = "application/vnd.docker.container.image.v1+json"
  /// A Docker gzip-compressed layer.
  public static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
  /// A Docker foreign layer (Windows base layers); its bytes usually live at ``Descriptor/urls``.
  public static let dockerForeignLayerGzip =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
  /// Docker schema 1 (signed): recognised only so that the error can say what it is.
  public static let dockerManifestSchema1Signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws"
  /// Docker schema 1 (unsigned): recognised only so that the error can say what it is.
  public static let dockerManifestSchema1 = "application/vnd.docker.distribution.manifest.v1+json"

  // MARK: kk artifacts (SPEC.md §1.3)

  /// `artifactType` of a stored binary (kubeadm, etcd tarball, helm, ...).
  public static let kubekeyFile = "application/vnd.kubekey.file.v1"
  /// `artifactType` of a stored OS ISO.
  public static let kubekeyISO = "application/vnd.kubekey.iso.v1"
  /// `artifactType` of the stored manifest YAML the bundle was built from.
  public static let kubekeyManifest = "application/vnd.kubekey.manifest.v1"
  /// Layer media type of a stored file or ISO: its bytes, unchanged.
  public static let octetStream = "application/octet-stream"
  /// Layer media type of the stored manifest YAML.
  public static let yaml = "application/yaml"

  // MARK: Classifiers

  /// Every manifest and index type kk can parse, best first: the `Accept` header of a
  /// manifest GET. Without it Docker Hub falls back to schema 1 or to a single platform.
  public static let manifestAccept: [String] = [
    ociIndex, dockerManifestList, ociManifest, dockerManifest,
  ]

  /// The media type without parameters or case: `Application/JSON; charset=utf-8` → `application/json`.
  ///
  /// HTTP `Content-Type` headers carry parameters and arbitrary case; comparisons must not.
  public static func essence(_ mediaType: String) -> String {
    let bare =
      mediaType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    return String(bare).trimmingASCIIWhitespace().lowercased()
  }

  /// True for an OCI image index or a Docker manifest list: a document whose children are manifests.
  public static func isIndex(_ mediaType: String) -> Bool {
    let type = essence(mediaType)
    return type == ociIndex || type == dockerManifestList
  }

  /// True for an OCI or Docker schema 2 image manifest: a document with a config and layers.
  public static func isManifest(_ mediaType: String) -> Bool {
    let type = essence(mediaType)
    return type == ociManifest || type == dockerManifest
  }

  /// True for the manifest types kk must fetch and keep byte-exact (index or image manifest).
  public static func isManifestOrIndex(_ mediaType: String) -> Bool {
    isIndex(mediaType) || isManifest(mediaType)
  }

  /// True for Docker schema 1, which kk refuses: it has no content-addressable config and
  /// registries sign it per request, so its digest is not stable.
  public static func isSchema1(_ mediaType: String) -> Bool {
    let type = essence(mediaType)
    return type == dockerManifestSchema1Signed || type == dockerManifestSchema1
  }

  /// True for layer types whose bytes a registry may decline to serve or accept.
  public static func isNondistributable(_ mediaType: String) -> Bool {
    let type = essence(mediaType)
    return type.hasPrefix("application/vnd.oci.image.layer.nondistributable.")
      || type == dockerForeignLayerGzip
  }
}

extension String {
  /// The string without leading or trailing spaces, tabs, CR or LF (no Foundation needed).
  func trimmingASCIIWhitespace() -> String {
    let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
    guard let first = firstIndex(where: { !isSpace($0) }),
      let last = lastIndex(where: { !isSpace($0) })
    else { return "" }
    return String(self[first...last])
  }
}
