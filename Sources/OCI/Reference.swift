/// An image reference, normalised the way Docker does: `calico/cni` is
/// `docker.io/calico/cni:latest`, `busybox` is `docker.io/library/busybox:latest`.
///
/// The normalised form is the identity of an image throughout kk: it is the
/// `org.opencontainers.image.ref.name` in index.json (SPEC.md §1.2), the key users filter on and
/// the name a push rewrites. Two spellings of one image must therefore parse to equal values.
///
/// Grammar (docker/distribution `reference`):
/// ```
/// reference  := name [ ":" tag ] [ "@" digest ]
/// name       := [ registry "/" ] path            (at most 255 characters, normalised)
/// registry   := host [ ":" port ]
/// host       := domain-name | IPv4 | "[" IPv6 "]"
/// path       := component ( "/" component )*
/// component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
/// tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
/// ```
/// The first path segment is a registry when it contains `.` or `:` or is `localhost`;
/// otherwise the image is on Docker Hub. (Docker 24+ also takes an upper-case first segment,
/// `Calico/cni`, as a host; kk instead reports the repository must be lower-case, which is what
/// the user meant to hear.) `index.docker.io` and
/// `registry-1.docker.io` are spelled `docker.io`. Bracketed IPv6 registries (`[::1]:5000/x`)
/// are accepted, as newer Docker releases do; the brackets stay part of ``registry``.
/// A reference with both tag and digest keeps both; the digest is what gets pulled.
/// Ports must be 1-65535 (Docker accepts any digits). Apart from these three decisions
/// (IPv6, upper-case first segment, port range) valid/invalid agrees with containers/image as
/// shipped in skopeo 1.9.3 on every case of the test table (skopeo additionally refuses
/// tag+digest, a policy of that tool, not of the grammar).
public struct Reference: Hashable, Sendable, CustomStringConvertible, Codable {
  /// Registry host with optional port: `docker.io`, `quay.io`, `localhost:5000`.
  public let registry: String
  /// Repository path inside the registry: `library/busybox`, `kubesphereio/kube-apiserver`.
  public let repository: String
  /// The tag; `latest` when the input had neither tag nor digest, nil for digest-only references.
  public let tag: String?
  /// The pinned digest, if any.
  public let digest: Digest?

  /// Docker Hub's name in normalised references.
  public static let dockerHub = "docker.io"
  /// Docker Hub's actual registry API endpoint.
  public static let dockerHubAPIHost = "registry-1.docker.io"

  /// Parses and normalises `input`; errors name the input and what is wrong with it.
  public init(parsing input: String) throws(OCIError) {
    func fail(_ reason: String) -> OCIError { .invalidReference(input, reason: reason) }
    guard !input.isEmpty else { throw fail("the reference is empty") }
    guard input.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
      throw fail("it contains whitespace, control or non-ASCII characters")
    }

    if let scheme = input.range(of: "://") {
      throw fail(
        "'\(input[..<scheme.lowerBound])://' is a URL scheme; an image name has none: write "
          + "\(input[scheme.upperBound...])")
    }
    guard !Reference.isHexIdentifier(Substring(input)) else {
      throw fail(
        "a bare 64-character hex string is an image ID, not a name; write name@sha256:<hex>")
    }

    var rest = Substring(input)
    var digest: Digest?
    if let at = rest.firstIndex(of: "@") {
      let digestText = String(rest[rest.index(after: at)...])
      do {
        digest = try Digest(parsing: digestText)
      } catch {
        throw fail("bad digest '\(digestText)': \(Reference.reason(of: error))")
      }
      rest = rest[..<at]
    }

    var tag: String?
    let lastSlash = rest.lastIndex(of: "/")
    let tagSearchStart = lastSlash.map { rest.index(after: $0) } ?? rest.startIndex
    if let colon = rest[tagSearchStart...].lastIndex(of: ":") {
      let tagText = String(rest[rest.index(after: colon)...])
      guard Reference.isValidTag(tagText) else {
        throw fail(
          "bad tag '\(tagText)': a tag is 1 to 128 of [A-Za-z0-9_.-] and cannot start with '.' or '-'"
        )
      }
      tag = tagText
      rest = rest[..<colon]
    }

    guard !rest.isEmpty else { throw fail("the image name is missing") }

    var registry = Reference.dockerHub
    var path = rest
    if let slash = rest.firstIndex(of: "/") {
      let first = rest[..<slash]
      if first.contains(".") || first.contains(":") || first == "localhost" {
        registry = String(first)
        path = rest[rest.index(after: slash)...]
      }
    }
    if let problem = Reference.registryProblem(registry) { throw fail(problem) }
    if registry == "index.docker.io" || registry == Reference.dockerHubAPIHost {
      registry = Reference.dockerHub
    }
    if registry == Reference.dockerHub && !path.contains("/") {
      path = "library/" + path
    }
    if let problem = Reference.pathProblem(path) { throw fail(problem) }
    // Docker, containerd and skopeo count the normalised name (`docker.io/library/` included).
    let length = registry.utf8.count + 1 + path.utf8.count
    guard length <= 255 else {
      throw fail(
        "the name \(registry)/\(path.prefix(24))... is \(length) characters long once "
          + "normalised; at most 255 are allowed")
    }

    self.registry = registry
    self.repository = String(path)
    self.digest = digest
    self.tag = (tag == nil && digest == nil) ? "latest" : tag
  }

  /// A reference from parts, validated as if parsed (`registry` is not rewritten).
  public init(registry: String, repository: String, tag: String? = nil, digest: Digest? = nil)
    throws(OCIError)
  {
    let text = "\(registry)/\(repository)"
    if let problem = Reference.registryProblem(registry) {
      throw .invalidReference(text, reason: problem)
    }
    if let problem = Reference.pathProblem(Substring(repository)) {
      throw .invalidReference(text, reason: problem)
    }
    if let tag, !Reference.isValidTag(tag) {
      throw .invalidReference(text, reason: "bad tag '\(tag)'")
    }
    guard text.utf8.count <= 255 else {
      throw .invalidReference(text, reason: "the name is longer than 255 characters")
    }
    self.registry = registry
    self.repository = repository
    self.tag = tag
    self.digest = digest
  }

  /// `registry/repository`, without tag or digest.
  public var name: String { "\(registry)/\(repository)" }

  /// The full normalised form: `docker.io/library/busybox:latest`,
  /// `quay.io/x/y:v1@sha256:...`, `docker.io/library/busybox@sha256:...`.
  public var description: String {
    var text = name
    if let tag { text += ":\(tag)" }
    if let digest { text += "@\(digest)" }
    return text
  }

  /// What to ask the registry for in `/v2/<repository>/manifests/<x>`: the digest when pinned
  /// (so the bytes are verifiable), otherwise the tag.
  public var manifestReference: String { digest?.description ?? tag ?? "latest" }

  /// The host[:port] that serves the registry API: Docker Hub's API lives on
  /// `registry-1.docker.io`, every other registry on its own name.
  public var apiHost: String {
    registry == Reference.dockerHub ? Reference.dockerHubAPIHost : registry
  }

  /// The same repository with another tag (the digest is dropped: it names other content).
  public func withTag(_ tag: String) throws(OCIError) -> Reference {
    try Reference(registry: registry, repository: repository, tag: tag)
  }

  /// The same repository pinned to `digest`, keeping the tag for display.
  public func withDigest(_ digest: Digest) -> Reference {
    // Parts already validated; only the digest changes.
    Reference(validatedRegistry: registry, repository: repository, tag: tag, digest: digest)
  }

  /// The same image under another registry (and optionally namespace), as a push to a private
  /// registry does: `docker.io/calico/cni:v3.23.2` with `dockerhub.kubekey.local` and namespace
  /// `kubesphereio` → `dockerhub.kubekey.local/kubesphereio/cni:v3.23.2`. Without a namespace
  /// the repository path is kept.
  public func moved(toRegistry registry: String, namespace: String? = nil) throws(OCIError)
    -> Reference
  {
    var path = repository
    if let namespace, !namespace.isEmpty {
      let last = repository.split(separator: "/").last.map(String.init) ?? repository
      path = "\(namespace)/\(last)"
    }
    return try Reference(registry: registry, repository: path, tag: tag, digest: digest)
  }

  private init(validatedRegistry: String, repository: String, tag: String?, digest: Digest?) {
    self.registry = validatedRegistry
    self.repository = repository
    self.tag = tag
    self.digest = digest
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    let text = try container.decode(String.self)
    do {
      try self.init(parsing: text)
    } catch {
      throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}
