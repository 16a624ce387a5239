import Foundation

/// Runs a client-go credential plugin (`users[].user.exec`) and reads its `ExecCredential`.
///
/// Cloud kubeconfigs (EKS, GKE, AKS, OIDC login helpers) carry no secret at all, only a
/// command that prints one; without this, `kk create manifest` could not read those
/// clusters. The plugin runs non-interactively: a `kk` run must not stop for a prompt.
enum ExecPlugin {
  struct Result {
    var token: String?
    var clientCertificatePEM: [UInt8]?
    var clientKeyPEM: [UInt8]?
  }

  private struct Output: Decodable {
    struct Status: Decodable {
      var token: String?
      var clientCertificateData: String?
      var clientKeyData: String?
      var expirationTimestamp: String?
    }
    var kind: String?
    var status: Status?
  }

  static func run(
    _ exec: Kubeconfig.ExecConfig, directory: String, server: String,
    environment: [String: String]
  ) throws(KubeError) -> Result {
    let command = exec.command
    guard let executable = locate(command, directory: directory, environment: environment)
    else { throw .execNotFound(command: command) }
    let apiVersion = exec.apiVersion ?? "client.authentication.k8s.io/v1"
    var spec: [String: Any] = ["interactive": false]
    if exec.provideClusterInfo == true { spec["cluster"] = ["server": server] }
    let info: [String: Any] = ["apiVersion": apiVersion, "kind": "ExecCredential", "spec": spec]
    var env = environment
    for variable in exec.env ?? [] { env[variable.name] = variable.value }
    if let json = try? JSONSerialization.data(
      withJSONObject: info, options: [.sortedKeys, .withoutEscapingSlashes])
    {
      env["KUBERNETES_EXEC_INFO"] = String(decoding: json, as: UTF8.self)
    }

    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = exec.args ?? []
    process.environment = env
    let stdout = Pipe()
    let stderr = Pipe()
    process.standardOutput = stdout
    process.standardError = stderr
    process.standardInput = FileHandle.nullDevice
    do {
      try process.run()
    } catch {
      throw .execNotFound(command: command)
    }
    // Read both pipes to the end before waiting, so a chatty plugin cannot block on a full
    // pipe; stderr is read on its own thread for the same reason.
    let errorBox = ErrorText()
    let reader = Thread { errorBox.set(stderr.fileHandleForReading.readDataToEndOfFile()) }
    reader.start()
    let out = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let errText = errorBox.wait()
    guard process.terminationStatus == 0 else {
      throw .execFailed(
        command: command, status: process.terminationStatus,
        stderr: errText.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    let output: Output
    do {
      output = try JSONDecoder().decode(Output.self, from: out)
    } catch {
      throw .execBadOutput(command: command, reason: "stdout is not ExecCredential JSON")
    }
    guard output.kind == "ExecCredential", let status = output.status else {
      throw .execBadOutput(command: command, reason: "no kind ExecCredential with a status")
    }
    if let expiry = status.expirationTimestamp,
      let date = ISO8601DateFormatter().date(from: expiry), date < Date()
    {
      throw .execExpired(command: command, expiry: expiry)
    }
    if let token = status.token, !token.isEmpty { return Result(token: token) }
    if let cert = status.clientCertificateData, let key = status.clientKeyData {
      return Result(clientCertificatePEM: Array(cert.utf8), clientKeyPEM: Array(key.utf8))
    }
    throw .execBadOutput(
      command: command, reason: "status has neither token nor clientCertificateData/clientKeyData")
  }

  /// A command with a `/` is a path (relative to the kubeconfig's directory, as client-go
  /// resolves it); a bare name is looked up on `PATH`.
  static func locate(_ command: String, directory: String, environment: [String: String])
    -> String?
  {
    let manager = FileManager.default
    if command.contains("/") {
      let path = KubeConnection.absolute(command, in: directory)
      return manager.isExecutableFile(atPath: path) ? path : nil
    }
    let search = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for dir in search.split(separator: ":") where !dir.isEmpty {
      let candidate = "\(dir)/\(command)"
      if manager.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
  }
}

/// Stderr of a plugin, handed from the reader thread to the waiting one.
private final class ErrorText: @unchecked Sendable {
  private let condition = NSCondition()
  private var text: String?

  func set(_ data: Data) {
    condition.lock()
    text = String(decoding: data, as: UTF8.self)
    condition.broadcast()
    condition.unlock()
  }

  func wait() -> String {
    condition.lock()
    defer { condition.unlock() }
    while text == nil { condition.wait() }
    return text ?? ""
  }
}
