import Foundation

extension RegistryClient {
  static func manifestPath(_ repository: String, _ reference: String) -> String {
    "/v2/\(repository)/manifests/\(reference)"
  }

  /// Fetches a manifest or index by tag or digest, byte-exact, and checks its digest against
  /// the requested digest or the registry's `Docker-Content-Digest`.
  public func manifest(repository: String, reference: String) async throws(RegistryError)
    -> ManifestBytes
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
    let what = "manifest \(repository):\(reference) from \(host)"
    let parsed: ManifestBytes
    do {
      parsed = try ManifestBytes(bytes: response.body, mediaType: response.headers["Content-Type"])
    } catch {
      if case .unsupportedManifestMediaType(let type) = error {
        throw .unsupported(
          "\(what) is \(type), which kk does not handle; push the image again with a current "
            + "docker or skopeo to get Docker schema 2 or OCI")
      }
      throw .invalidResponse(host: host, detail: "\(what): \(error)")
    }
    if let wanted = try? Digest(parsing: reference) {
      do {
        try parsed.verify(wanted)
      } catch {
        throw .digestMismatch(what: what, expected: wanted, actual: parsed.digest)
      }
    }
    if let header = response.headers["Docker-Content-Digest"],
      let claimed = try? Digest(parsing: header), (try? parsed.verify(claimed)) == nil
    {
      throw .digestMismatch(what: what, expected: claimed, actual: parsed.digest)
    }
    return parsed
  }

  /// The descriptor of a manifest without its body (HEAD), or nil when it does not exist.
  ///
  /// - Parameter forPush: ask under push scope. A pusher checks what the registry has with
  ///   the token its uploads use anyway: on a token registry that saves one token request per
  ///   repository (tokens are cached per scope set).
  public func manifestDescriptor(
    repository: String, reference: String, forPush: Bool = false
  ) async throws(RegistryError) -> Descriptor? {
    let path = Self.manifestPath(repository, reference)
    var headers = HTTPHeaders()
    headers.add("Accept", MediaType.manifestAccept.joined(separator: ", "))
    let scope = forPush ? Self.pushScope(repository) : Self.pullScope(repository)
    let response = try await perform(
      Call(
        method: "HEAD", target: path, headers: headers, scopes: [scope], repository: repository))
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
}
