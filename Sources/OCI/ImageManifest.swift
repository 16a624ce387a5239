/// An image manifest: one config blob plus ordered layers, OCI or Docker schema 2.
///
/// Docker schema 2 manifests have the same JSON shape, so one type serves both; ``mediaType``
/// says which. Decoding ignores unknown fields (registries add their own), and a manifest we
/// received is never re-encoded: its digest is over the bytes we got (see ``ManifestBytes``).
/// Encoding is for manifests kk creates, and omits nil fields.
public struct ImageManifest: Hashable, Sendable, Codable {
  /// Always 2 for the formats kk supports.
  public var schemaVersion: Int
  /// `application/vnd.oci.image.manifest.v1+json` or the Docker schema 2 type; OCI allows it
  /// to be absent, in which case the HTTP Content-Type decides.
  public var mediaType: String?
  /// What kind of artifact this is when it is not a container image (kk's files, SPEC.md §1.3).
  public var artifactType: String?
  /// The image config, or the empty descriptor for artifacts.
  public var config: Descriptor
  /// The layers, base first.
  public var layers: [Descriptor]
  /// The manifest this one refers to (signatures, SBOMs: OCI 1.1 referrers).
  public var subject: Descriptor?
  /// Free-form metadata (`org.opencontainers.image.created`, source, ...).
  public var annotations: [String: String]?

  /// A manifest kk builds; defaults to OCI, schema 2.
  public init(
    schemaVersion: Int = 2, mediaType: String? = MediaType.ociManifest, artifactType: String? = nil,
    config: Descriptor, layers: [Descriptor], subject: Descriptor? = nil,
    annotations: [String: String]? = nil
  ) {
    self.schemaVersion = schemaVersion
    self.mediaType = mediaType
    self.artifactType = artifactType
    self.config = config
    self.layers = layers
    self.subject = subject
    self.annotations = annotations
  }

  /// Every blob this manifest needs, config first then layers: what a copy must transfer.
  public var blobs: [Descriptor] { [config] + layers }

  /// Whether this is a Docker schema 2 manifest rather than an OCI one.
  public var isDocker: Bool { mediaType.map(MediaType.essence) == MediaType.dockerManifest }
}
