/// Why reading a cluster failed, one line each, saying what to check or change.
///
/// The cases are the ones users actually hit with kubeconfigs: a wrong file or context, an
/// unreachable server, a certificate for another name, credentials the server does not
/// accept, and RBAC that does not allow listing nodes.
public enum KubeError: Error, Sendable, Equatable, CustomStringConvertible {
  case kubeconfigNotFound(path: String)
  case kubeconfigInvalid(path: String, reason: String)
  case noCurrentContext(files: [String])
  case contextNotFound(name: String, available: [String])
  case clusterNotFound(context: String, cluster: String)
  case userNotFound(context: String, user: String)
  case noServer(cluster: String)
  case credentialFile(field: String, path: String, reason: String)
  /// A user entry the kubeconfig gives no usable way to authenticate with.
  case credentialMissing(user: String, reason: String)
  case execNotFound(command: String)
  case execFailed(command: String, status: Int32, stderr: String)
  case execBadOutput(command: String, reason: String)
  case execExpired(command: String, expiry: String)
  case unreachable(server: String, detail: String)
  case tlsNameMismatch(server: String, name: String, detail: String)
  case tlsUntrusted(server: String, detail: String)
  case tls(server: String, detail: String)
  case unauthorized(server: String, credential: String)
  case forbidden(server: String, user: String, message: String)
  case http(server: String, status: Int, message: String)
  case badResponse(server: String, reason: String)

  public var description: String {
    switch self {
    case .kubeconfigNotFound(let path):
      return "kubeconfig \(path) does not exist; pass --kubeconfig FILE, or point KUBECONFIG "
        + "(or ~/.kube/config) at the cluster's kubeconfig"
    case .kubeconfigInvalid(let path, let reason):
      return "kubeconfig \(path) is not a valid kubeconfig: \(reason)"
    case .noCurrentContext(let files):
      return "kubeconfig \(files.joined(separator: ":")) has no current-context; pass "
        + "--context NAME or run kubectl config use-context NAME"
    case .contextNotFound(let name, let available):
      let list = available.isEmpty ? "none" : available.joined(separator: ", ")
      return "context '\(name)' is not in the kubeconfig (contexts: \(list))"
    case .clusterNotFound(let context, let cluster):
      return "context '\(context)' names cluster '\(cluster)', which the kubeconfig does not define"
    case .userNotFound(let context, let user):
      return "context '\(context)' names user '\(user)', which the kubeconfig does not define"
    case .noServer(let cluster):
      return "cluster '\(cluster)' in the kubeconfig has no server URL"
    case .credentialFile(let field, let path, let reason):
      return "cannot read \(field) \(path): \(reason)"
    case .credentialMissing(let user, let reason):
      return "kubeconfig user '\(user)': \(reason)"
    case .execNotFound(let command):
      return "credential plugin '\(command)' (users[].user.exec.command) was not found; "
        + "install it or fix its path in the kubeconfig"
    case .execFailed(let command, let status, let stderr):
      let tail = stderr.isEmpty ? "" : ": \(stderr)"
      return "credential plugin '\(command)' exited with status \(status)\(tail)"
    case .execBadOutput(let command, let reason):
      return "credential plugin '\(command)' printed no usable ExecCredential: \(reason)"
    case .execExpired(let command, let expiry):
      return "credential plugin '\(command)' returned a credential that expired at \(expiry); "
        + "log in again"
    case .unreachable(let server, let detail):
      let what = detail.contains("through proxy-url") ? "proxy-url and " : ""
      return "cannot reach the Kubernetes API at \(server) (\(detail)); check that the "
        + "cluster is up and the kubeconfig's \(what)server URL"
    case .tlsNameMismatch(let server, let name, let detail):
      return "the API server certificate at \(server) is not valid for the name '\(name)' "
        + "(\(detail)); use the address the certificate was issued for, or set "
        + "tls-server-name in the kubeconfig cluster"
    case .tlsUntrusted(let server, let detail):
      return "the API server certificate at \(server) is not signed by the kubeconfig's "
        + "certificate-authority (\(detail)); check certificate-authority(-data)"
    case .tls(let server, let detail):
      return "TLS with the API server at \(server) failed: \(detail)"
    case .unauthorized(let server, let credential):
      return "the API server at \(server) rejected the \(credential) (401 Unauthorized)"
    case .forbidden(let server, let user, let message):
      return "\(user) may not list nodes at \(server) (403 Forbidden; RBAC must allow verb "
        + "'list' on resource 'nodes' at cluster scope): \(message)"
    case .http(let server, let status, let message):
      return "the API server at \(server) answered \(status) to list nodes: \(message)"
    case .badResponse(let server, let reason):
      return "the API server at \(server) sent a node list kk cannot read: \(reason)"
    }
  }
}
