import Foundation

/// A real `docker-registry` (distribution 2.8) on 127.0.0.1, started for one test.
///
/// Why: kk talks to registries users run, so tests run the same server in the three
/// setups users have — plain HTTP, TLS with basic auth, and bearer-token auth — instead
/// of mocking the protocol. Everything (storage, config, keys, logs) lives in one
/// temporary directory that `stop()` deletes, and the servers cannot outlive the test
/// process (see `GuardedProcess`).
///
///     try await withTestRegistry(.token) { registry in
///         let flags = registry.skopeoFlags(.destination)
///         ...
///     }
public final class TestRegistry: @unchecked Sendable {
  public enum Mode: String, Sendable, CaseIterable, CustomStringConvertible {
    /// HTTP, no authentication: `/v2/` answers 200.
    case plain
    /// HTTPS with a fresh test CA (``caCertPath``) and htpasswd basic auth (bcrypt):
    /// `/v2/` answers 401 without credentials.
    case tlsBasicAuth
    /// HTTP registry with `auth: token`; tokens come from
    /// `testdata/fixtures/token-server.py` at ``tokenRealm`` under a ``TokenPolicy``.
    /// Pass `tokenOverTLS: true` to ``TestRegistry/start(_:tokenPolicy:tokenOverTLS:)``
    /// to serve registry and realm over HTTPS from the test CA, as Harbor or GitLab do.
    case token

    public var description: String { rawValue }
  }

  /// Which side of a `skopeo copy` the registry is on.
  public enum SkopeoSide: Sendable { case source, destination, inspect }

  public let mode: Mode
  /// True when the registry (and, in `.token` mode, the realm) speak HTTPS.
  public let usesTLS: Bool
  /// `127.0.0.1:PORT`, the registry part of image references.
  public let host: String
  public let port: UInt16
  /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
  public let baseURL: URL
  /// PEM of the CA that signed the TLS server certificate (when ``usesTLS``).
  public let caCertPath: String?
  /// The account to use: htpasswd user for `.tlsBasicAuth`, ``TokenPolicy/admin`` for
  /// `.token`; nil for `.plain`.
  public let credentials: Credentials?
  /// The token policy in force (`.token` only).
  public let tokenPolicy: TokenPolicy?
  /// The token server's realm, `http://127.0.0.1:PORT/token` (`.token` only).
  public let tokenRealm: String?
  /// The `service` the registry expects in tokens (`.token` only).
  public let tokenService: String?
  /// One JSON line per token issued or denied (`.token` only), for assertions about
  /// how often and for which scopes a client asked.
  public let tokenLogPath: String?
  /// The registry's filesystem storage root.
  public let storagePath: String
  /// The registry's log file.
  public var logPath: String { registry.logPath }

  private let scratch: TemporaryDirectory
  private let registry: GuardedProcess
  private let tokenServer: GuardedProcess?

  public var username: String? { credentials?.username }
  public var password: String? { credentials?.password }

  /// The registry's URL for `path` (e.g. `/v2/`).
  public func url(_ path: String) -> String { baseURL.absoluteString + path }

  /// `docker://HOST/<repositoryAndTag>` for skopeo.
  public func dockerReference(_ repositoryAndTag: String) -> String {
    "docker://\(host)/\(repositoryAndTag)"
  }

  /// The skopeo flags that reach this registry: TLS verification off (the CA is
  /// private) and the credentials, if any.
  public func skopeoFlags(_ side: SkopeoSide) -> [String] {
    let prefix: String
    switch side {
    case .source: prefix = "--src-"
    case .destination: prefix = "--dest-"
    case .inspect: prefix = "--"
    }
    var flags = ["\(prefix)tls-verify=false"]
    if let credentials { flags += ["\(prefix)creds", credentials.colonSeparated] }
    return flags
  }

  /// The manifest or index bytes stored for `repositoryAndTag` (or `repository@digest`),
  /// read with `skopeo inspect --raw`: an independent client's view of what kk pushed.
  public func rawManifest(_ repositoryAndTag: String) async throws -> Data {
    try await ProcessRunner.checked(
      "skopeo",
      ["inspect", "--raw"] + skopeoFlags(.inspect) + [dockerReference(repositoryAndTag)],
      timeout: .seconds(120)
    ).stdoutData
  }

  private init(
    mode: Mode, usesTLS: Bool, port: UInt16, scratch: TemporaryDirectory, registry: GuardedProcess,
    tokenServer: GuardedProcess?, caCertPath: String?, credentials: Credentials?,
    tokenPolicy: TokenPolicy?, tokenRealm: String?, tokenService: String?, tokenLogPath: String?
  ) {
    self.mode = mode
    self.usesTLS = usesTLS
    self.port = port
    self.host = "127.0.0.1:\(port)"
    let scheme = usesTLS ? "https" : "http"
    self.baseURL = URL(string: "\(scheme)://127.0.0.1:\(port)") ?? URL(fileURLWithPath: "/")
    self.scratch = scratch
    self.registry = registry
    self.tokenServer = tokenServer
    self.caCertPath = caCertPath
    self.credentials = credentials
    self.tokenPolicy = tokenPolicy
    self.tokenRealm = tokenRealm
    self.tokenService = tokenService
    self.tokenLogPath = tokenLogPath
    self.storagePath = scratch.path + "/storage"
  }

  deinit {
    // A test that forgot stop(): the guards stop the servers once their pipes close.
    scratch.remove()
  }

  /// Starts a registry in `mode` and returns once `/v2/` answers (200 or 401).
  ///
  /// - Parameters:
  ///   - tokenPolicy: accounts and grants for `.token`; ignored otherwise.
  ///   - tokenOverTLS: `.token` only: registry and realm on HTTPS from the test CA.
  /// - Throws: ``TestSupportError/missingTool(_:package:)`` naming the apt package when
  ///   `docker-registry`, `htpasswd`, `python3` or `curl` is missing, and
  ///   ``TestSupportError/serverDidNotStart(_:log:)`` with the server log otherwise.
  public static func start(
    _ mode: Mode, tokenPolicy: TokenPolicy = .standard, tokenOverTLS: Bool = false
  ) async throws -> TestRegistry {
    for tool in ["docker-registry", TestPaths.python, "curl"] {
      _ = try ProcessRunner.require(tool)
    }
    let scratch = try TemporaryDirectory(prefix: "kk-registry")
    var started: [GuardedProcess] = []
    do {
      let dir = scratch.path
      try FileManager.default.createDirectory(
        atPath: dir + "/storage", withIntermediateDirectories: true)
      var config = RegistryConfig(storage: dir + "/storage", address: "")
      var caCert: String?
      var credentials: Credentials?
      var realm: String?
      var service: String?
      var tokenLog: String?
      if mode != .plain {
        try await ProcessRunner.checked(
          TestPaths.python, [TestPaths.fixture("make-pki.py"), dir + "/pki"], timeout: .seconds(60))
      }
      switch mode {
      case .plain:
        break
      case .tlsBasicAuth:
        let user = TokenPolicy.admin
        let line = try await ProcessRunner.checked(
          "htpasswd", ["-Bbn", user.username, user.password])
        try Data(line.stdout.utf8).write(to: URL(fileURLWithPath: dir + "/htpasswd"))
        config.tls = (dir + "/pki/server.pem", dir + "/pki/server-key.pem")
        config.htpasswd = dir + "/htpasswd"
        caCert = dir + "/pki/ca.pem"
        credentials = user
      case .token:
        let server = try await startTokenServer(in: dir, policy: tokenPolicy, tls: tokenOverTLS)
        started.append(server.process)
        realm = server.realm
        service = server.service
        tokenLog = server.logPath
        config.token = (server.realm, server.service, server.issuer, dir + "/pki/ca.pem")
        credentials = TokenPolicy.admin
        if tokenOverTLS {
          config.tls = (dir + "/pki/server.pem", dir + "/pki/server-key.pem")
          caCert = dir + "/pki/ca.pem"
        }
      }
      let (registry, port) = try await launchRegistry(config: config, in: dir, caCert: caCert)
      return TestRegistry(
        mode: mode, usesTLS: config.tls != nil, port: port, scratch: scratch, registry: registry,
        tokenServer: started.first,
        caCertPath: caCert, credentials: credentials,
        tokenPolicy: mode == .token ? tokenPolicy : nil,
        tokenRealm: realm, tokenService: service, tokenLogPath: tokenLog)
    } catch {
      for server in started { await server.stop() }
      scratch.remove()
      throw error
    }
  }

  /// Stops the registry and token server and deletes the temporary directory (storage
  /// included); safe to call twice.
  public func stop() async {
    await registry.stop()
    await tokenServer?.stop()
    scratch.remove()
  }

  /// Binds a free port; retried because another process may grab the port between
  /// `FreePort.find()` and the registry's bind.
  private static func launchRegistry(
    config: RegistryConfig, in dir: String, caCert: String?
  ) async throws -> (GuardedProcess, UInt16) {
    var lastError: Error?
    for attempt in 1...3 {
      let port = try FreePort.find()
      var config = config
      config.address = "127.0.0.1:\(port)"
      let configPath = dir + "/config.yml"
      try Data(config.yaml.utf8).write(to: URL(fileURLWithPath: configPath))
      let server = try GuardedProcess(
        name: "docker-registry on 127.0.0.1:\(port)",
        command: ["docker-registry", "serve", configPath],
        logPath: dir + "/registry-\(attempt).log", cleanupIfOrphaned: dir)
      let url = "\(config.tls == nil ? "http" : "https")://127.0.0.1:\(port)/v2/"
      do {
        // The log line proves *our* process bound the port (a connect could reach
        // whoever took the port first); then /v2/ must answer.
        let log = server.logPath
        try await waitUntilReady(server) { fileContains(log, "listening on 127.0.0.1:\(port)") }
        try await retrying(server) {
          let status = try await HTTPProbe.fetch(url, caCert: caCert, timeout: .seconds(5)).status
          return status == 200 || status == 401
        }
        return (server, port)
      } catch {
        await server.stop()
        lastError = error
        guard server.logTail().contains("address already in use") else { throw error }
      }
    }
    throw lastError ?? TestSupportError.badOutput("docker-registry did not start")
  }

  private struct TokenServer {
    var process: GuardedProcess
    var realm: String
    var service: String
    var issuer: String
    var logPath: String
  }

  private static func startTokenServer(in dir: String, policy: TokenPolicy, tls: Bool) async throws
    -> TokenServer
  {
    let service = "kk-test-registry"
    let issuer = "kk-test-token-issuer"
    try policy.json(service: service).write(to: URL(fileURLWithPath: dir + "/token-policy.json"))
    let portFile = dir + "/token-server.port"
    let logPath = dir + "/token-requests.log"
    var command = [
      TestPaths.python, TestPaths.fixture("token-server.py"), "--policy",
      dir + "/token-policy.json", "--key", dir + "/pki/signer-key.pem",
      "--cert", dir + "/pki/signer.pem", "--issuer", issuer, "--port-file", portFile,
      "--log", logPath,
    ]
    if tls {
      command += ["--tls-cert", dir + "/pki/server.pem", "--tls-key", dir + "/pki/server-key.pem"]
    }
    let process = try GuardedProcess(
      name: "token server", command: command, logPath: dir + "/token-server.log",
      cleanupIfOrphaned: dir)
    do {
      try await waitUntilReady(process) { portWritten(to: portFile) != nil }
      guard let port = portWritten(to: portFile) else {
        throw TestSupportError.badOutput("token server wrote no port to \(portFile)")
      }
      let realm = "\(tls ? "https" : "http")://127.0.0.1:\(port)/token"
      return TokenServer(
        process: process, realm: realm, service: service, issuer: issuer, logPath: logPath)
    } catch {
      await process.stop()
      throw error
    }
  }
}

/// Runs `body` with a registry in `mode` and stops it afterwards, also when `body` throws.
public func withTestRegistry<T>(
  _ mode: TestRegistry.Mode, tokenPolicy: TokenPolicy = .standard, tokenOverTLS: Bool = false,
  _ body: (TestRegistry) async throws -> T
) async throws -> T {
  let registry = try await TestRegistry.start(
    mode, tokenPolicy: tokenPolicy, tokenOverTLS: tokenOverTLS)
  do {
    let result = try await body(registry)
    await registry.stop()
    return result
  } catch {
    await registry.stop()
    throw error
  }
}
