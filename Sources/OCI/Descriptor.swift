import Foundation

/// A pointer to content: what it is, its digest and its exact size.
///
/// Every edge of the content graph (index → manifest → config/layers, index.json → image) is a
/// descriptor, and the (digest, size) pair is what lets a reader refuse bytes before trusting
/// them. Field names follow the OCI image spec so the synthesized JSON is the wire JSON; nil
/// fields are omitted when encoding.
public struct Descriptor: Hashable, Sendable, Codable {
  /// Media type of the referenced content (kept verbatim: unknown types must round-trip).
  public var mediaType: String
  /// Digest of the referenced bytes.
  public var digest: Digest
  /// Exact size of the referenced bytes; never negative.
  public var size: Int64
  /// Alternative download locations (Docker foreign layers).
  public var urls: [String]?
  /// Free-form metadata: `org.opencontainers.image.ref.name`, kk's `io.kubekey.*` keys, ...
  public var annotations: [String: String]?
  /// The platform an index entry runs on.
  public var platform: Platform?
  /// The artifact type of a referenced artifact manifest (OCI 1.1).
  public var artifactType: String?
  /// The content itself, embedded (base64 in JSON); must hash to ``digest`` when present.
  public var data: Data?

  /// A descriptor from known parts; kk-created descriptors usually come from
  /// ``init(mediaType:bytes:)`` or ``ManifestBytes/descriptor`` instead.
  public init(
    mediaType: String, digest: Digest, size: Int64, urls: [String]? = nil,
    annotations: [String: String]? = nil, platform: Platform? = nil,
    artifactType: String? = nil, data: Data? = nil
  ) {
    self.mediaType = mediaType
    self.digest = digest
    self.size = size
    self.urls = urls
    self.annotations = annotations
    self.platform = platform
    self.artifactType = artifactType
    self.data = data
  }

  enum CodingKeys: String, CodingKey {
    case mediaType, digest, size, urls, annotations, platform, artifactType, data
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    mediaType = try container.decode(String.self, forKey: .mediaType)
    digest = try container.decode(Digest.self, forKey: .digest)
    size = try container.decode(Int64.self, forKey: .size)
    guard size >= 0 else {
      throw DecodingError.dataCorruptedError(
        forKey: .size, in: container,
        debugDescription: "descriptor \(digest) has negative size \(size)")
    }
    urls = try container.decodeIfPresent([String].self, forKey: .urls)
    annotations = try container.decodeIfPresent([String: String].self, forKey: .annotations)
    platform = try container.decodeIfPresent(Platform.self, forKey: .platform)
    artifactType = try container.decodeIfPresent(String.self, forKey: .artifactType)
    data = try container.decodeIfPresent(Data.self, forKey: .data)
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(mediaType, forKey: .mediaType)
    try container.encode(digest, forKey: .digest)
    try container.encode(size, forKey: .size)
    try container.encodeIfPresent(urls, forKey: .urls)
    try container.encodeIfPresent(annotations, forKey: .annotations)
    try container.encodeIfPresent(platform, forKey: .platform)
    try container.encodeIfPresent(artifactType, forKey: .artifactType)
    try container.encodeIfPresent(data, forKey: .data)
  }

  /// The descriptor of bytes held in memory (a config, a manifest we wrote, the empty `{}`).
  public init<Bytes: Collection>(mediaType: String, bytes: Bytes) where Bytes.Element == UInt8 {
    self.init(mediaType: mediaType, digest: SHA256Hasher.digest(bytes), size: Int64(bytes.count))
  }

  /// The embedded ``data`` checked against ``size`` and ``digest``, nil when there is none.
  /// Embedded bytes are as untrusted as downloaded ones, so nothing should read `data` directly.
  public func verifiedData() throws(OCIError) -> [UInt8]? {
    guard let data else { return nil }
    let bytes = [UInt8](data)
    guard Int64(bytes.count) == size else {
      throw .sizeMismatch(digest, expected: size, actual: Int64(bytes.count))
    }
    let actual = try Digest.compute(digest.algorithm, over: bytes)
    guard actual == digest else { throw .digestMismatch(expected: digest, actual: actual) }
    return bytes
  }

  /// Shorthand for one annotation, nil when absent.
  public func annotation(_ key: String) -> String? { annotations?[key] }
}

extension Descriptor {
  /// The two bytes `{}`: the config blob of an artifact that has nothing to configure.
  public static let emptyJSONBytes: [UInt8] = Array("{}".utf8)

  /// Digest of ``emptyJSONBytes`` (written out so that a typo in either is caught by a test).
  public static let emptyJSONDigestString =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

  /// The OCI empty descriptor (`application/vnd.oci.empty.v1+json`, 2 bytes), used as the
  /// config of kk's file artifacts (SPEC.md §1.3). Digest computed from the bytes, so it cannot lie.
  public static let emptyJSON = Descriptor(mediaType: MediaType.ociEmpty, bytes: emptyJSONBytes)
}

/// Annotation keys kk reads and writes (SPEC.md §1.2, §1.3).
public enum AnnotationKey {
  /// Full normalised image reference on an index.json entry.
  public static let refName = "org.opencontainers.image.ref.name"
  /// The same reference, the key containerd's `ctr import` looks for.
  public static let containerdImageName = "io.containerd.image.name"
  /// File name of a file artifact's layer.
  public static let title = "org.opencontainers.image.title"
  /// Creation time (RFC 3339) — kk leaves it out of what it writes, to stay reproducible.
  public static let created = "org.opencontainers.image.created"
  /// The upstream digest a filtered image or a downloaded file was checked against.
  public static let upstreamDigest = "io.kubekey.upstream.digest"
  /// `file`, `iso` or `manifest`.
  public static let artifactKind = "io.kubekey.artifact.kind"
  /// Catalog id of a file: `kubeadm`, `etcd`, `helm`, ...
  public static let component = "io.kubekey.component"
  /// Version of a file's component: `v1.22.12`.
  public static let version = "io.kubekey.version"
  /// Architecture of a file: `amd64`.
  public static let arch = "io.kubekey.arch"
  /// KubeKey work-dir path of a file: `kube/v1.22.12/amd64/kubeadm`.
  public static let path = "io.kubekey.path"
  /// On the `<ref>-<arch>` entries `kk artifact import` adds for Go KubeKey: the image whose
  /// platform manifest the entry names. Such an entry is a view of that image, not an image
  /// to push (an image the user listed as `...:v1-amd64` has no such annotation).
  public static let platformOf = "io.kubekey.platform-of"
}
