/// Why an artifact could not be inspected.
public enum ArtifactInspectError: Error, Sendable, CustomStringConvertible {
  /// Neither an OCI layout directory nor an archive of one.
  case notALayout(source: String, reason: String)
  case malformedIndex(source: String, reason: String)

  public var description: String {
    switch self {
    case .notALayout(let source, let reason):
      return "\(source) is not an OCI layout or an archive of one: \(reason)"
    case .malformedIndex(let source, let reason):
      // Foundation's JSON reasons end in a full stop; the hint follows after a semicolon.
      let trimmed = reason.hasSuffix(".") ? String(reason.dropLast()) : reason
      return "\(source): index.json is malformed: \(trimmed); run `kk artifact verify -a \(source)`"
    }
  }
}
