/// One entry of a registry's error document, `{"errors":[{"code","message","detail"}]}`.
public struct RegistryErrorEntry: Sendable, Equatable, Decodable {
  public var code: String
  public var message: String?

  /// Parses an error body; empty when the body is not an error document (an HTML page from
  /// a proxy, say), in which case the status alone tells what happened.
  static func parse(_ body: [UInt8]) -> [RegistryErrorEntry] {
    struct Document: Decodable { var errors: [RegistryErrorEntry]? }
    return (try? JSONDecoding.decode(Document.self, from: body))?.errors ?? []
  }
}

/// Everything the registry client reports, each case worded as what to do next.
///
/// One enum for the whole client so callers (`kk image copy`, the artifact push) can tell a
/// wrong password from a missing tag from a broken network without parsing messages.
public enum RegistryError: Error, Sendable, CustomStringConvertible {
  /// 401 after trying the credentials we have (or having none). `advice` says which
  /// credentials to check (the client fills it from its options).
  case unauthorized(host: String, repository: String?, detail: String?, advice: String? = nil)
  /// 403: authenticated, but not allowed (no push right, or a Harbor project missing).
  case denied(host: String, repository: String, detail: String?)
  /// The tag or digest does not exist in the repository.
  case manifestUnknown(host: String, repository: String, reference: String)
  /// The repository does not exist.
  case nameUnknown(host: String, repository: String)
  /// A blob the caller asked for is not in the repository.
  case blobUnknown(host: String, repository: String, digest: Digest)
  /// Bytes received did not hash to the digest that names them.
  case digestMismatch(what: String, expected: Digest, actual: Digest)
  /// The registry refused a finished upload with `DIGEST_INVALID`: the bytes it received do
  /// not hash to the digest they were sent under, so it stored nothing. Registries must check
  /// (OCI distribution spec), which is why a pusher need not hash what it sends.
  case digestRefused(host: String, repository: String, digest: Digest)
  /// Bytes received were not the size the descriptor promised.
  case sizeMismatch(what: String, expected: Int64, actual: Int64)
  /// The server certificate did not verify. `advice`: what to change, in the command's
  /// own terms (``RegistryOptions/tlsAdvice``).
  case tlsVerification(host: String, detail: String, advice: String? = nil)
  /// Another TLS failure: handshake, client certificate, HTTP spoken to an HTTPS port.
  case tls(host: String, detail: String, advice: String? = nil)
  /// The network failed and retries did not help.
  case connection(host: String, detail: String, attempts: Int)
  /// Nothing moved for the stall timeout (or the connection did not open in time), twice:
  /// a hung registry or storage backend, which more retries would only wait on longer.
  case timedOut(host: String, detail: String, attempts: Int)
  /// The registry refused the request in a way not listed above.
  case registry(
    host: String, method: String, path: String, status: Int, errors: [RegistryErrorEntry])
  /// The registry answered something that breaks the protocol.
  case invalidResponse(host: String, detail: String)
  /// A manifest kind kk does not handle (Docker schema 1).
  case unsupported(String)
  /// Reading the upload source or writing the download sink failed on this machine.
  case local(String)
  /// A credentials file could not be read.
  case credentials(path: String, detail: String)

  public var description: String {
    switch self {
    case .unauthorized(let host, let repository, let detail, let advice):
      let what = repository.map { " to \($0)" } ?? ""
      // Harbor answers a push into a project that does not exist with 401 "project P not
      // found": the credentials are fine, the project is missing.
      if let detail, detail.hasPrefix("project "), detail.contains(" not found") {
        return "unauthorized: access\(what) on \(host) was refused\(Self.suffix(detail)); the "
          + "Harbor project does not exist: create it, or set type: harbor in spec.registry "
          + "(--registry-type harbor) so that kk creates it"
      }
      let advice =
        advice
        ?? "check the credentials for \(host) (registry.auths of the file you passed, or "
        + "~/.docker/config.json)"
      return "unauthorized: access\(what) on \(host) was refused\(Self.suffix(detail)); \(advice)"
    case .denied(let host, let repository, let detail):
      return
        "denied: \(host) refused access to \(repository)\(Self.suffix(detail)); the account needs "
        + "pull (and for a push, push) rights, and on Harbor the project must exist"
    case .manifestUnknown(let host, let repository, let reference):
      let sep = reference.contains(":") ? "@" : ":"
      return "manifest unknown: \(repository)\(sep)\(reference) does not exist on \(host); "
        + "check the image name and tag"
    case .nameUnknown(let host, let repository):
      return "repository unknown: \(repository) does not exist on \(host); check the image name"
    case .blobUnknown(let host, let repository, let digest):
      return "blob unknown: \(digest) is not in \(repository) on \(host); the image is incomplete "
        + "on the registry, push it again"
    case .digestMismatch(let what, let expected, let actual):
      return "digest mismatch for \(what): expected \(expected), got \(actual); the registry or a "
        + "proxy served different bytes, nothing was kept"
    case .digestRefused(let host, let repository, let digest):
      return
        "\(host) refused blob \(digest) for \(repository) with DIGEST_INVALID: the bytes it "
        + "received do not hash to that digest, so it stored nothing; the source is corrupt "
        + "or something on the way changed the bytes (check the artifact with kk artifact verify)"
    case .sizeMismatch(let what, let expected, let actual):
      return
        "size mismatch for \(what): expected \(expected) bytes, got \(actual); nothing was kept"
    case .tlsVerification(let host, let detail, let advice?):
      return "TLS: the certificate of \(host) did not verify (\(detail)); \(advice)"
    case .tls(let host, let detail, let advice?):
      if detail.contains("wrong version number") {
        // An HTTP answer to a TLS hello: no certificate setting helps, only plain HTTP.
        return "TLS with \(host) failed (\(detail)): it speaks plain HTTP on that port; use "
          + "plain HTTP (plainHTTP: true in the registry's auths entry, or a --*tls-verify=false "
          + "flag) or its TLS port"
      }
      return "TLS with \(host) failed (\(detail)); \(advice), and check the client certificate"
    case .tlsVerification(let host, let detail, nil):
      return "TLS: the certificate of \(host) did not verify (\(detail)); pass its CA with "
        + "--src-cert-dir/--dest-cert-dir or certsPath (a directory with ca.crt), or "
        + "--dest-tls-verify=false / skipTLSVerify: true if you trust the network"
    case .tls(let host, let detail, nil):
      return
        "TLS with \(host) failed (\(detail)); if the registry speaks plain HTTP set plainHTTP: true "
        + "or --dest-tls-verify=false, and check the client certificate in certsPath"
    case .timedOut(let host, let detail, let attempts):
      return
        "\(host) stopped answering (\(detail)) after \(attempts) attempt(s); the registry or its "
        + "storage is hung or the link is dead: check the registry's logs and disk, then run the "
        + "command again (what already landed is skipped)"
    case .connection(let host, let detail, let attempts):
      return
        "cannot reach \(host) (\(detail)) after \(attempts) attempt(s); check that the registry "
        + "is running and reachable, and the HTTPS_PROXY/NO_PROXY settings"
    case .registry(let host, let method, let path, let status, let errors):
      let text = errors.map { "\($0.code): \($0.message ?? "")" }.joined(separator: "; ")
      return "\(host) answered \(status) to \(method) \(path)"
        + (text.isEmpty ? "" : " (\(text))")
    case .invalidResponse(let host, let detail):
      return "\(host) sent an invalid response: \(detail)"
    case .unsupported(let detail):
      return detail
    case .local(let detail):
      return detail
    case .credentials(let path, let detail):
      return "cannot read \(path): \(detail)"
    }
  }

  /// ` (detail)`, with Harbor's doubled `A: A` said once.
  private static func suffix(_ detail: String?) -> String {
    guard let detail, !detail.isEmpty else { return "" }
    let halves = detail.components(separatedBy: ": ")
    if halves.count == 2, halves[0] == halves[1] { return " (\(halves[0]))" }
    return " (\(detail))"
  }
}
