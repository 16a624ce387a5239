import Foundation

/// A manifest or index exactly as the registry sent it, with the descriptor that names it.
///
/// The bytes are kept verbatim because the digest is of the bytes: re-encoding the JSON would
/// change the digest and break every reference to the image.
public struct FetchedManifest: Sendable, Equatable {
  public var descriptor: Descriptor
  public var bytes: [UInt8]

  public init(descriptor: Descriptor, bytes: [UInt8]) {
    self.descriptor = descriptor
    self.bytes = bytes
  }

  /// The bytes of a manifest made in memory (a filtered index), described.
  public init(mediaType: String, bytes: [UInt8]) {
    self.init(descriptor: Descriptor(mediaType: mediaType, bytes: bytes), bytes: bytes)
  }

  public var isIndex: Bool { MediaType.isIndex(descriptor.mediaType) }

  public func decodeIndex() throws -> ImageIndex {
    try JSONDecoding.decode(ImageIndex.self, from: bytes)
  }
  public func decodeManifest() throws -> ImageManifest {
    try JSONDecoding.decode(ImageManifest.self, from: bytes)
  }
}

extension RegistryClient {
  static func manifestPath(_ repository: String, _ reference: String) -> String {
    "/v2/\(repository)/manifests/\(reference)"
  }

  /// Fetches a manifest or index by tag or digest, byte-exact, and checks its digest against
  /// the requested digest or the registry's `Docker-Content-Digest`.
  public func manifest(repository: String, reference: String) async throws(RegistryError)
    -> FetchedManifest
  {
    let path = Self.manifestPath(repository, reference)
    var headers = HTTPHeaders()
    headers.add("Accept", MediaType.manifestAccept.joined(separator: ", "))
    let response = try await perform(
      Call(
        method: "GET", target: path, headers: headers, scopes: [Self.pullScope(repository)],
        repository: repository, bufferLimit: 16 << 20))
    guard response.status == 200 else {
      throw failure(
        response, method: "GET", path: path, repository: repository, reference: reference)
    }
    let bytes = response.body
    let actual = SHA256Hasher.digest(bytes)
    let what = "manifest \(repository):\(reference) from \(host)"
    if let wanted = try? Digest(parsing: reference), wanted != actual {
      throw .digestMismatch(what: what, expected: wanted, actual: actual)
    }
    if let header = response.headers["Docker-Content-Digest"],
      let claimed = try? Digest(parsing: header),
      claimed.algorithm == .sha256, claimed != actual
    {
      throw .digestMismatch(what: what, expected: claimed, actual: actual)
    }
    let mediaType = try Self.mediaType(
      of: bytes, contentType: response.headers["Content-Type"], host: host)
    return FetchedManifest(
      descriptor: Descriptor(mediaType: mediaType, digest: actual, size: Int64(bytes.count)),
      bytes: bytes)
  }

  /// The descriptor of a manifest without its body (HEAD), or nil when it does not exist.
  public func manifestDescriptor(repository: String, reference: String) async throws(RegistryError)
    -> Descriptor?
  {
    let path = Self.manifestPath(repository, reference)
    var headers = HTTPHeaders()
    headers.add("Accept", MediaType.manifestAccept.joined(separator: ", "))
    let response = try await perform(
      Call(
        method: "HEAD", target: path, headers: headers, scopes: [Self.pullScope(repository)],
        repository: repository))
    if response.status == 404 { return nil }
    guard response.status == 200 else {
      throw failure(
        response, method: "HEAD", path: path, repository: repository, reference: reference)
    }
    guard let header = response.headers["Docker-Content-Digest"],
      let digest = try? Digest(parsing: header),
      let length = response.headers["Content-Length"].flatMap({ Int64($0) })
    else {
      throw .invalidResponse(
        host: host, detail: "HEAD \(path) without Docker-Content-Digest or Content-Length")
    }
    let type = response.headers["Content-Type"].map(MediaType.essence) ?? MediaType.ociManifest
    return Descriptor(mediaType: type, digest: digest, size: length)
  }

  /// Pushes manifest bytes unchanged under `reference` (a tag, or the digest itself).
  /// Returns the digest of the bytes; children must already be in the repository.
  @discardableResult
  public func pushManifest(
    repository: String, reference: String, bytes: [UInt8], mediaType: String
  ) async throws(RegistryError) -> Digest {
    let path = Self.manifestPath(repository, reference)
    let digest = SHA256Hasher.digest(bytes)
    var headers = HTTPHeaders()
    headers.add("Content-Type", mediaType)
    let response = try await perform(
      Call(
        method: "PUT", target: path, headers: headers, body: { .bytes(bytes) },
        scopes: [Self.pushScope(repository)], repository: repository))
    guard response.status == 201 || response.status == 200 else {
      throw failure(response, method: "PUT", path: path, repository: repository)
    }
    if let header = response.headers["Docker-Content-Digest"],
      let claimed = try? Digest(parsing: header),
      claimed.algorithm == .sha256, claimed != digest
    {
      throw .digestMismatch(
        what: "manifest pushed to \(host)/\(repository):\(reference)", expected: digest,
        actual: claimed)
    }
    return digest
  }

  /// The media type of manifest bytes: the `Content-Type` when it names a manifest type,
  /// else the document's own `mediaType`, else inferred from its shape.
  static func mediaType(of bytes: [UInt8], contentType: String?, host: String) throws(RegistryError)
    -> String
  {
    struct Probe: Decodable {
      var mediaType: String?
      var schemaVersion: Int?
      var manifests: [Descriptor]?
      var config: Descriptor?
    }
    let probe = try? JSONDecoding.decode(Probe.self, from: bytes)
    let header = contentType.map(MediaType.essence)
    if let header, MediaType.isSchema1(header) || probe?.schemaVersion == 1 {
      throw .unsupported(
        "\(host) served a Docker schema 1 manifest, which kk does not handle; push the image "
          + "again with a current docker or skopeo to get schema 2 / OCI")
    }
    if let header, MediaType.isManifestOrIndex(header) { return header }
    if let own = probe?.mediaType, MediaType.isManifestOrIndex(own) {
      return MediaType.essence(own)
    }
    if probe?.manifests != nil { return MediaType.ociIndex }
    if probe?.config != nil { return MediaType.ociManifest }
    throw .invalidResponse(
      host: host, detail: "the manifest is neither an image manifest nor an index")
  }
}
