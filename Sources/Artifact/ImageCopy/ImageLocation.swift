import OCI

/// Where an image lives, in skopeo's transport syntax: `docker://host/repo:tag` or
/// `oci:DIR[:REF]`.
///
/// Using skopeo's names means the commands people already run (`skopeo copy docker://… oci:…`)
/// translate to `kk image copy` one to one.
public enum ImageLocation: Sendable, Equatable, CustomStringConvertible {
  /// An image in a registry.
  case registry(Reference)
  /// An image in an OCI image layout directory, named by its `org.opencontainers.image.ref.name`
  /// (nil: the layout's only image).
  case layout(path: String, reference: String?)

  public init(parsing text: String) throws(ImageCopyError) {
    if text.hasPrefix("docker://") {
      let rest = String(text.dropFirst("docker://".count))
      do {
        self = .registry(try Reference(parsing: rest))
      } catch {
        throw .invalidLocation(text, reason: error.description)
      }
      return
    }
    if text.hasPrefix("oci:") {
      let rest = text.dropFirst("oci:".count)
      guard !rest.isEmpty else { throw .invalidLocation(text, reason: "oci: needs a directory") }
      // Split at the first colon, as skopeo does: reference names hold colons and slashes
      // (`docker.io/calico/cni:v3.23.2`, the names kk's own artifacts use), directories don't.
      if let colon = rest.firstIndex(of: ":") {
        let reference = String(rest[rest.index(after: colon)...])
        self = .layout(path: String(rest[..<colon]), reference: reference.isEmpty ? nil : reference)
      } else {
        self = .layout(path: String(rest), reference: nil)
      }
      return
    }
    throw .invalidLocation(
      text, reason: "use docker://HOST/REPOSITORY:TAG or oci:DIRECTORY[:REFERENCE]")
  }

  public var description: String {
    switch self {
    case .registry(let reference): return "docker://\(reference)"
    case .layout(let path, let reference): return "oci:\(path)" + (reference.map { ":\($0)" } ?? "")
    }
  }
}

/// What `kk image copy`/`inspect` report beyond the registry client's own errors.
public enum ImageCopyError: Error, Sendable, CustomStringConvertible {
  case invalidLocation(String, reason: String)
  case imageNotInLayout(path: String, reference: String?, available: [String])
  case layout(String)
  case registry(RegistryError)
  case digestDestination(expected: Digest, actual: Digest)

  public var description: String {
    switch self {
    case .invalidLocation(let text, let reason):
      return "invalid image location '\(text)': \(reason)"
    case .imageNotInLayout(let path, let reference, let available):
      let what =
        reference.map { "no image named '\($0)'" } ?? "more than one image and no name given"
      return "\(path): \(what); the layout has: "
        + (available.isEmpty ? "no images" : available.joined(separator: ", "))
        + " (name one as oci:\(path):NAME)"
    case .layout(let detail):
      return detail
    case .registry(let error):
      return error.description
    case .digestDestination(let expected, let actual):
      return "the destination names digest \(expected), but the copied image is \(actual) "
        + "(a platform filter writes a new index); push by tag instead"
    }
  }
}
