import OCI

/// Why `kk artifact images push` refused to start or an image failed. Each case names the
/// image, blob or reference at fault and what to do.
public enum PushError: Error, Sendable, CustomStringConvertible {
  /// No target registry: neither `spec.registry.privateRegistry` nor `--registry`.
  case noTarget
  /// Two source images map to the same target reference; nothing was pushed.
  case conflictingTargets(target: String, sources: [String])
  /// `--image` patterns that matched no image of the artifact.
  case noImageMatched(patterns: [String])
  /// The artifact's `index.json` or a manifest in it does not parse.
  case malformed(what: String, reason: String)
  /// A manifest the graph needs is not in the artifact.
  case missingManifest(Digest, image: String)
  /// A blob's bytes in the artifact do not hash to its digest (found while planning, or
  /// after the registry refused them with `DIGEST_INVALID`); the registry stored nothing.
  case blobCorrupt(Digest, actual: Digest, size: Int64)
  /// A blob could not be read again from the archive stream (a retry or a refused mount
  /// after the entry went by); it is retried in a second pass over the archive.
  case needsSecondPass(Digest)
  /// A blob never appeared in the archive.
  case blobNotInArchive(Digest)
  /// An image reference in the artifact is not a valid reference.
  case badReference(String, reason: String)
  /// The artifact could not be read.
  case source(String)

  public var description: String {
    switch self {
    case .noTarget:
      return
        "no target registry: set spec.registry.privateRegistry in the cluster config (-f) or pass --registry HOST[:PORT][/PATH]"
    case .conflictingTargets(let target, let sources):
      return
        "\(sources.joined(separator: " and ")) would all be pushed to \(target); nothing was pushed (push them separately with --image into different --registry paths, or drop namespaceOverride if it is set)"
    case .noImageMatched(let patterns):
      return
        "no image of the artifact matches --image \(patterns.joined(separator: ", ")) (patterns are globs on the full reference, e.g. 'docker.io/calico/*')"
    case .malformed(let what, let reason):
      return "\(what) does not parse: \(reason)"
    case .missingManifest(let digest, let image):
      return
        "manifest \(digest) of \(image) is not in the artifact; the artifact is incomplete, export it again"
    case .blobCorrupt(let digest, let actual, let size):
      return
        "blob \(digest) is corrupt in the artifact (its \(size) bytes hash to \(actual)); the registry stored nothing and nothing referring to it was pushed; export the artifact again or copy it anew"
    case .needsSecondPass(let digest):
      return "blob \(digest) needs another read of the archive"
    case .blobNotInArchive(let digest):
      return "blob \(digest) is not in the artifact; the artifact is incomplete, export it again"
    case .badReference(let ref, let reason):
      return "image reference '\(ref)' in the artifact is invalid: \(reason)"
    case .source(let detail):
      return detail
    }
  }
}
