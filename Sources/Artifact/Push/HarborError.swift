/// Why Harbor's project API refused to prepare a push. Each case names the host, the
/// project where it matters, and what to do.
public enum HarborError: Error, Sendable, CustomStringConvertible, Equatable {
  /// 401: the user name or password was not accepted. `source` is where they came from
  /// (`RegistryOptions.credentialsSource`); `sent` is false when kk had none to send.
  case unauthorized(host: String, source: String? = nil, sent: Bool = true)
  /// 403: the account may not create projects (Harbor's "project creation restriction" is
  /// set to admins only, or the account is not a project admin).
  case forbidden(host: String, user: String?, project: String)
  /// Any other answer: the status and the first message of Harbor's error document.
  case status(host: String, method: String, path: String, status: Int, message: String?)
  /// The API did not answer (connection, TLS).
  case transport(host: String, detail: String)

  public var description: String {
    switch self {
    case .unauthorized(let host, let source, let sent):
      guard sent else {
        return
          "Harbor wants credentials for \(host) and kk had none: add username/password for \(host) under spec.registry.auths in config-sample.yaml, or pass --dest-creds USER:PASSWORD"
      }
      return
        "Harbor refused the credentials for \(host): check username/password in \(source ?? "config-sample.yaml auths")"
    case .forbidden(let host, let user, let project):
      return
        "user \(user ?? "(anonymous)") may not create projects on \(host): create project \(project) in Harbor or use an admin account"
    case .status(let host, let method, let path, let status, let message):
      var text = "\(host) answered \(status) to \(method) \(path)"
      if let message, !message.isEmpty { text += ": \(message)" }
      if status == 404 || status == 405 {
        text += " (is \(host) a Harbor? set spec.registry.type to registry for a plain registry)"
      }
      return text
    case .transport(let host, let detail):
      return "cannot reach Harbor's API on \(host): \(detail)"
    }
  }
}
