/// An image index (OCI) or manifest list (Docker): the per-platform manifests of one image.
///
/// Same JSON shape for both formats; ``mediaType`` says which. Also the type of an OCI layout's
/// `index.json`. Decoding ignores unknown fields; encoding omits nil fields.
public struct ImageIndex: Hashable, Sendable, Codable {
  /// Always 2.
  public var schemaVersion: Int
  /// `application/vnd.oci.image.index.v1+json` or the Docker manifest list type; may be absent
  /// in OCI documents (index.json often omits it).
  public var mediaType: String?
  /// Artifact type when the index is an artifact rather than a multi-platform image.
  public var artifactType: String?
  /// The children: manifests (each with a platform) or, in index.json, one entry per image/file.
  public var manifests: [Descriptor]
  /// The manifest this index refers to (OCI 1.1 referrers).
  public var subject: Descriptor?
  /// Free-form metadata on the index as a whole.
  public var annotations: [String: String]?

  /// An index kk builds (a filtered image, index.json); defaults to OCI, schema 2.
  public init(
    schemaVersion: Int = 2, mediaType: String? = MediaType.ociIndex, artifactType: String? = nil,
    manifests: [Descriptor], subject: Descriptor? = nil, annotations: [String: String]? = nil
  ) {
    self.schemaVersion = schemaVersion
    self.mediaType = mediaType
    self.artifactType = artifactType
    self.manifests = manifests
    self.subject = subject
    self.annotations = annotations
  }

  /// Whether this is a Docker manifest list rather than an OCI index.
  public var isDocker: Bool { mediaType.map(MediaType.essence) == MediaType.dockerManifestList }

  /// The children whose platform satisfies `platform` (see ``Platform/matches(_:)``), in index
  /// order. Entries without a platform never match: they are attestations or artifacts.
  public func manifests(for platform: Platform) -> [Descriptor] {
    manifests.filter { entry in entry.platform.map(platform.matches) ?? false }
  }

  /// The children matching any of `platforms`, in index order, each once: what a filtered
  /// export keeps.
  public func manifests(matchingAny platforms: [Platform]) -> [Descriptor] {
    manifests.filter { entry in
      guard let have = entry.platform else { return false }
      return platforms.contains { $0.matches(have) }
    }
  }
}
