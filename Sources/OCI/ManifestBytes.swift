import Foundation

/// A manifest or index exactly as received (or exactly as kk wrote it), with its media type,
/// digest and parsed form.
///
/// A digest is over raw bytes: re-encoding a parsed manifest changes whitespace, key order or
/// `\/` escapes and therefore its digest, which would silently break every reference to it.
/// So kk never re-encodes a manifest it received; it keeps these bytes and stores, pushes and
/// hashes them unchanged. The parsed form is for reading (which children, which blobs) only.
public struct ManifestBytes: Hashable, Sendable {
  /// The parsed document: an index (or Docker manifest list) or an image manifest.
  public enum Content: Hashable, Sendable {
    case index(ImageIndex)
    case manifest(ImageManifest)
  }

  /// Registries refuse manifests over 4 MiB (distribution's limit); a transport should stop
  /// reading a manifest response beyond this.
  public static let maximumSize = 4 * 1024 * 1024

  /// The exact bytes; ``digest`` is their SHA-256.
  public let bytes: [UInt8]
  /// The resolved media type, without parameters (see ``init(bytes:mediaType:)``).
  public let mediaType: String
  /// `sha256:` of ``bytes``.
  public let digest: Digest
  /// The parsed form of ``bytes``.
  public let content: Content

  /// Parses received bytes, resolving the media type.
  ///
  /// The media type is, in order: the document's own `mediaType` field when it names a
  /// manifest or index type (it is covered by the digest, unlike an HTTP header a proxy can
  /// rewrite); else `contentType` (an HTTP `Content-Type`, parameters allowed) when it names one;
  /// else, when the header is absent or generic (`application/json`, `text/plain`,
  /// `application/octet-stream`), the shape: `manifests` → OCI index, `config` + `layers` → image
  /// manifest (Docker schema 2 when the config is a Docker config). Docker schema 1 and unknown
  /// types are refused with ``OCIError/unsupportedManifestMediaType(_:)``.
  public init(bytes: [UInt8], mediaType contentType: String?) throws(OCIError) {
    let data = Data(bytes)
    let probe: Probe
    do {
      probe = try JSONDecoder().decode(Probe.self, from: data)
    } catch {
      throw .invalidManifest(
        mediaType: contentType ?? "no media type",
        reason: "not a JSON object (\(bytes.count) bytes): \(ManifestBytes.describe(error))")
    }
    if probe.schemaVersion == 1 {
      throw .unsupportedManifestMediaType(
        contentType.map(MediaType.essence).flatMap { MediaType.isSchema1($0) ? $0 : nil }
          ?? MediaType.dockerManifestSchema1)
    }
    let mediaType = try ManifestBytes.resolveMediaType(contentType: contentType, probe: probe)
    if let version = probe.schemaVersion, version != 2 {
      throw .invalidManifest(
        mediaType: mediaType, reason: "schemaVersion is \(version), expected 2")
    }
    do {
      if MediaType.isIndex(mediaType) {
        content = .index(try JSONDecoder().decode(ImageIndex.self, from: data))
      } else {
        content = .manifest(try JSONDecoder().decode(ImageManifest.self, from: data))
      }
    } catch {
      throw .invalidManifest(mediaType: mediaType, reason: ManifestBytes.describe(error))
    }
    self.bytes = bytes
    self.mediaType = mediaType
    self.digest = SHA256Hasher.digest(bytes)
  }

  /// Parses received bytes and checks them against the digest they were requested by; the
  /// error names both digests.
  public init(bytes: [UInt8], mediaType contentType: String?, expected: Digest) throws(OCIError) {
    try self.init(bytes: bytes, mediaType: contentType)
    try verify(expected)
  }

  /// Encodes a manifest kk creates, deterministically (see ``CanonicalJSON``).
  public init(encoding manifest: ImageManifest) throws(OCIError) {
    let bytes = try CanonicalJSON.encode(manifest)
    self.init(
      verbatim: bytes,
      mediaType: manifest.mediaType.map(MediaType.essence) ?? MediaType.ociManifest,
      content: .manifest(manifest))
  }

  /// Encodes an index kk creates, deterministically (see ``CanonicalJSON``).
  public init(encoding index: ImageIndex) throws(OCIError) {
    let bytes = try CanonicalJSON.encode(index)
    self.init(
      verbatim: bytes, mediaType: index.mediaType.map(MediaType.essence) ?? MediaType.ociIndex,
      content: .index(index))
  }

  private init(verbatim bytes: [UInt8], mediaType: String, content: Content) {
    self.bytes = bytes
    self.mediaType = mediaType
    self.content = content
    self.digest = SHA256Hasher.digest(bytes)
  }

  /// Throws ``OCIError/digestMismatch(expected:actual:)`` unless these bytes hash to
  /// `expected` (sha256 or sha512).
  public func verify(_ expected: Digest) throws(OCIError) {
    let actual = expected.algorithm == .sha256 ? digest : try Digest.compute(.sha512, over: bytes)
    guard actual == expected else { throw .digestMismatch(expected: expected, actual: actual) }
  }

  /// Size in bytes, as a descriptor needs it.
  public var size: Int64 { Int64(bytes.count) }

  /// The bytes as `Data`, for writing to a file or an HTTP body.
  public var data: Data { Data(bytes) }

  /// A descriptor pointing at these bytes (media type, digest, size; add platform/annotations).
  public var descriptor: Descriptor {
    var descriptor = Descriptor(mediaType: mediaType, digest: digest, size: size)
    if case .manifest(let manifest) = content { descriptor.artifactType = manifest.artifactType }
    return descriptor
  }

  /// The index, when this is an index or manifest list.
  public var index: ImageIndex? {
    if case .index(let index) = content { return index }
    return nil
  }

  /// The image manifest, when this is one.
  public var manifest: ImageManifest? {
    if case .manifest(let manifest) = content { return manifest }
    return nil
  }

  /// The descriptors this document points at: children of an index, or config + layers.
  /// What a recursive copy must fetch next (a `subject` is a back-reference, not a child).
  public var children: [Descriptor] {
    switch content {
    case .index(let index): return index.manifests
    case .manifest(let manifest): return manifest.blobs
    }
  }

  // MARK: Media type resolution

  /// The few top-level fields that decide what a document is; everything else is skipped.
  struct Probe: Decodable {
    var schemaVersion: Int?
    var mediaType: String?
    var hasManifests = false
    var hasConfig = false
    var hasLayers = false
    var configMediaType: String?

    enum Keys: String, CodingKey { case schemaVersion, mediaType, manifests, config, layers }
    struct Config: Decodable { var mediaType: String? }

    init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: Keys.self)
      schemaVersion = try? container.decodeIfPresent(Int.self, forKey: .schemaVersion)
      mediaType = try? container.decodeIfPresent(String.self, forKey: .mediaType)
      hasManifests = container.contains(.manifests)
      hasConfig = container.contains(.config)
      hasLayers = container.contains(.layers)
      configMediaType = (try? container.decodeIfPresent(Config.self, forKey: .config))??.mediaType
    }
  }

  static let genericContentTypes: Set<String> = [
    "", "application/json", "text/plain", "application/octet-stream", "binary/octet-stream",
  ]

  static func resolveMediaType(contentType: String?, probe: Probe) throws(OCIError) -> String {
    if let field = probe.mediaType.map(MediaType.essence), !field.isEmpty {
      guard MediaType.isManifestOrIndex(field) else { throw .unsupportedManifestMediaType(field) }
      return field
    }
    let header = contentType.map(MediaType.essence) ?? ""
    if MediaType.isManifestOrIndex(header) { return header }
    guard genericContentTypes.contains(header) else { throw .unsupportedManifestMediaType(header) }
    if probe.hasManifests { return MediaType.ociIndex }
    if probe.hasConfig && probe.hasLayers {
      let docker = probe.configMediaType.map(MediaType.essence) == MediaType.dockerConfig
      return docker ? MediaType.dockerManifest : MediaType.ociManifest
    }
    throw .invalidManifest(
      mediaType: header.isEmpty ? "no media type" : header,
      reason:
        "no mediaType field and neither 'manifests' (index) nor 'config' and 'layers' (manifest)")
  }

  /// A one-line account of a decoding failure: where in the document and what.
  static func describe(_ error: any Error) -> String {
    func path(_ codingPath: [any CodingKey]) -> String {
      let text = codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
      return text.isEmpty ? "document" : String(text.drop(while: { $0 == "." }))
    }
    guard let error = error as? DecodingError else { return "\(error)" }
    switch error {
    case .keyNotFound(let key, let context):
      let at = path(context.codingPath)
      return "missing field '\(key.stringValue)'" + (context.codingPath.isEmpty ? "" : " in \(at)")
    case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
      return "wrong type at \(path(context.codingPath)): "
        + DecodingErrorText.mismatch(expected: type, context: context)
    case .dataCorrupted(let context):
      return "bad value at \(path(context.codingPath)): \(context.debugDescription)"
    @unknown default:
      return "\(error)"
    }
  }
}
