/// Every failure the OCI module reports. Messages name the thing at fault and what to do.
public enum OCIError: Error, Sendable, Equatable, CustomStringConvertible {
  case invalidDigest(String, reason: String)
  /// An image reference that does not follow the Docker reference grammar.
  case invalidReference(String, reason: String)
  /// A platform specifier (`--platform`, `arches:`) that cannot be parsed.
  case invalidPlatform(String, reason: String)
  /// Bytes whose digest is not the one that names them.
  case digestMismatch(expected: Digest, actual: Digest)
  /// Content whose length is not the size its descriptor gives.
  case sizeMismatch(Digest, expected: Int64, actual: Int64)
  /// A manifest document that is not JSON of the shape its media type requires.
  case invalidManifest(mediaType: String, reason: String)
  /// A manifest whose media type kk does not handle (Docker schema 1, unknown types).
  case unsupportedManifestMediaType(String)
  /// A manifest or index kk built could not be serialised.
  case encodingFailed(String)

  public var description: String {
    switch self {
    case .invalidDigest(let value, let reason):
      return "invalid digest '\(value)': \(reason)"
    case .invalidReference(let value, let reason):
      return "invalid image reference '\(value)': \(reason)"
    case .invalidPlatform(let value, let reason):
      return "invalid platform '\(value)': \(reason)"
    case .digestMismatch(let expected, let actual):
      return "content does not match its digest: expected \(expected), got \(actual); "
        + "the source served different bytes than it advertised (re-fetch, or check the registry or mirror)"
    case .sizeMismatch(let digest, let expected, let actual):
      return "\(digest) is \(actual) bytes but its descriptor says \(expected); "
        + "the content is truncated or the descriptor is wrong (re-fetch it)"
    case .invalidManifest(let mediaType, let reason):
      return "invalid manifest (\(mediaType)): \(reason)"
    case .unsupportedManifestMediaType(let mediaType):
      if MediaType.isSchema1(mediaType) {
        return "unsupported manifest type '\(mediaType)': Docker schema 1 is obsolete; "
          + "re-push the image with a current docker or skopeo to get a schema 2 or OCI manifest"
      }
      return "unsupported manifest type '\(mediaType)': kk handles OCI image manifests and indexes "
        + "and Docker schema 2 manifests and manifest lists"
    case .encodingFailed(let reason):
      return "could not encode manifest: \(reason)"
    }
  }
}
