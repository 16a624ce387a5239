import Foundation

/// A Harbor stand-in (`testdata/fixtures/harbor-standin.py`) in front of a real
/// `docker-registry` with token auth, started for one test.
///
/// Why: `type: harbor` pushes must create projects through Harbor's API, and Harbor answers
/// a push into a missing project with 401. A real Harbor is a dozen containers; the stand-in
/// is one port serving the project API, the token realm and the registry proxy (see the
/// script's doc and SPEC §4 for what it covers). Storage, keys, configs and logs live in one
/// temporary directory that `stop()` deletes; both servers die with the test process.
///
///     try await withTestHarbor { harbor in
///         ... kk push -f config (privateRegistry: harbor.host, type: harbor) ...
///         #expect(try await harbor.projects()["kk-test"] == true)
///     }
public final class TestHarbor: @unchecked Sendable {
  /// Harbor's default administrator: may create projects.
  public static let admin = Credentials(username: "admin", password: "Harbor12345")
  /// A non-admin account: pushes into existing projects, but project creation answers 403.
  public static let developer = Credentials(username: "dev", password: "dev-password")
  public static let service = "harbor-registry"
  public static let issuer = "harbor-token-issuer"

  /// One call to the project API, as the stand-in logged it.
  public struct APICall: Sendable, Decodable, Equatable {
    public let api: String
    public let user: String?
    public let project: String?
    public let status: Int
  }

  /// `127.0.0.1:PORT` of the stand-in: the registry part of image references.
  public let host: String
  /// `http://127.0.0.1:PORT` or `https://...`.
  public let baseURL: String
  public let usesTLS: Bool
  /// The test CA (when ``usesTLS``).
  public let caCertPath: String?
  /// The backing registry's storage root.
  public let storagePath: String
  /// One JSON line per API call and per token.
  public let logPath: String

  private let scratch: TemporaryDirectory
  private let standIn: GuardedProcess
  private let registry: GuardedProcess

  private init(
    port: UInt16, tls: Bool, scratch: TemporaryDirectory, standIn: GuardedProcess,
    registry: GuardedProcess
  ) {
    host = "127.0.0.1:\(port)"
    usesTLS = tls
    baseURL = "\(tls ? "https" : "http")://127.0.0.1:\(port)"
    caCertPath = tls ? scratch.path + "/pki/ca.pem" : nil
    storagePath = scratch.path + "/storage"
    logPath = scratch.path + "/harbor-api.log"
    self.scratch = scratch
    self.standIn = standIn
    self.registry = registry
  }

  deinit { scratch.remove() }

  /// Starts registry and stand-in; returns once `/v2/` answers 401 through the stand-in.
  ///
  /// - Parameters:
  ///   - projects: projects that exist at start (`NAME` public, `NAME:private`).
  ///   - lagging: projects that exist but look missing to HEAD/GET until a POST for them
  ///     answers 409 (another pusher created them in between).
  ///   - tls: serve the stand-in over HTTPS from a fresh test CA.
  ///   - headAllowed: false answers HEAD on the project API with 405.
  public static func start(
    projects: [String] = ["library"], lagging: [String] = [], tls: Bool = false,
    headAllowed: Bool = true
  ) async throws -> TestHarbor {
    for tool in ["docker-registry", TestPaths.python, "curl"] {
      _ = try ProcessRunner.require(tool)
    }
    let scratch = try TemporaryDirectory(prefix: "kk-harbor")
    let dir = scratch.path
    var standIn: GuardedProcess?
    do {
      try FileManager.default.createDirectory(
        atPath: dir + "/storage", withIntermediateDirectories: true)
      try await ProcessRunner.checked(
        TestPaths.python, [TestPaths.fixture("make-pki.py"), dir + "/pki"], timeout: .seconds(60))
      let users: [String: Any] = [
        "service": service,
        "users": [
          admin.username: ["password": admin.password, "admin": true],
          developer.username: ["password": developer.password, "admin": false],
        ],
      ]
      try JSONSerialization.data(withJSONObject: users, options: [.sortedKeys])
        .write(to: URL(fileURLWithPath: dir + "/users.json"))
      let portFile = dir + "/standin.port"
      var command = [
        TestPaths.python, TestPaths.fixture("harbor-standin.py"), "--users", dir + "/users.json",
        "--key", dir + "/pki/signer-key.pem", "--cert", dir + "/pki/signer.pem",
        "--issuer", issuer, "--upstream-file", dir + "/upstream", "--port-file", portFile,
        "--log", dir + "/harbor-api.log",
      ]
      command += projects.flatMap { ["--project", $0] }
      command += lagging.flatMap { ["--lagging-project", $0] }
      if !headAllowed { command.append("--head-not-allowed") }
      if tls {
        command += [
          "--tls-cert", dir + "/pki/server.pem", "--tls-key", dir + "/pki/server-key.pem",
        ]
      }
      let process = try GuardedProcess(
        name: "harbor stand-in", command: command, logPath: dir + "/standin.log",
        cleanupIfOrphaned: dir)
      standIn = process
      try await waitUntilReady(process) { portWritten(to: portFile) != nil }
      guard let port = portWritten(to: portFile) else {
        throw TestSupportError.badOutput("harbor stand-in wrote no port to \(portFile)")
      }
      let scheme = tls ? "https" : "http"
      let registry = try await launchRegistry(
        in: dir, realm: "\(scheme)://127.0.0.1:\(port)/service/token")
      let harbor = TestHarbor(
        port: port, tls: tls, scratch: scratch, standIn: process, registry: registry)
      try await retrying(process) {
        let reply = try await HTTPProbe.fetch(
          harbor.baseURL + "/v2/", caCert: harbor.caCertPath, timeout: .seconds(5))
        return reply.status == 401
      }
      return harbor
    } catch {
      await standIn?.stop()
      scratch.remove()
      throw error
    }
  }

  /// docker-registry with `auth: token` on a free port; its address goes to the file the
  /// stand-in proxies to. Retried when another process takes the port first.
  private static func launchRegistry(in dir: String, realm: String) async throws
    -> GuardedProcess
  {
    var lastError: Error?
    for attempt in 1...3 {
      let port = try FreePort.find()
      var config = RegistryConfig(storage: dir + "/storage", address: "127.0.0.1:\(port)")
      config.token = (realm, service, issuer, dir + "/pki/ca.pem")
      try Data(config.yaml.utf8).write(to: URL(fileURLWithPath: dir + "/registry.yml"))
      let server = try GuardedProcess(
        name: "docker-registry behind the harbor stand-in",
        command: ["docker-registry", "serve", dir + "/registry.yml"],
        logPath: dir + "/registry-\(attempt).log", cleanupIfOrphaned: dir)
      do {
        let log = server.logPath
        try await waitUntilReady(server) { fileContains(log, "listening on 127.0.0.1:\(port)") }
        try Data("127.0.0.1:\(port)\n".utf8).write(to: URL(fileURLWithPath: dir + "/upstream"))
        return server
      } catch {
        await server.stop()
        lastError = error
        guard server.logTail().contains("address already in use") else { throw error }
      }
    }
    throw lastError ?? TestSupportError.badOutput("docker-registry did not start")
  }

  /// Stops both servers and deletes the directory; safe to call twice.
  public func stop() async {
    await standIn.stop()
    await registry.stop()
    scratch.remove()
  }

  /// Every project with its public flag, read through the API as the admin.
  public func projects() async throws -> [String: Bool] {
    let reply = try await HTTPProbe.fetch(
      baseURL + "/api/v2.0/projects", caCert: caCertPath, basic: Self.admin)
    struct Entry: Decodable {
      struct Metadata: Decodable { var `public`: String? }
      var name: String
      var metadata: Metadata?
    }
    guard reply.status == 200,
      let list = try? JSONDecoder().decode([Entry].self, from: Data(reply.body.utf8))
    else {
      throw TestSupportError.badOutput(
        "GET /api/v2.0/projects answered \(reply.status): \(reply.body)")
    }
    return Dictionary(list.map { ($0.name, $0.metadata?.public == "true") }) { a, _ in a }
  }

  /// The project API calls logged so far (token issues are left out).
  public func apiCalls() -> [APICall] {
    let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").compactMap {
      try? JSONDecoder().decode(APICall.self, from: Data($0.utf8))
    }
  }

  /// `skopeo inspect --raw` of `repositoryAndTag` as the admin: an independent client's view.
  public func rawManifest(_ repositoryAndTag: String) async throws -> Data {
    try await ProcessRunner.checked(
      "skopeo",
      [
        "inspect", "--raw", "--tls-verify=false", "--creds", Self.admin.colonSeparated,
        "docker://\(host)/\(repositoryAndTag)",
      ], timeout: .seconds(120)
    ).stdoutData
  }

  /// The last lines of both servers' logs, for failure messages.
  public func logTail() -> String {
    "stand-in:\n\(standIn.logTail(1500))\nregistry:\n\(registry.logTail(1500))"
  }
}

/// Runs `body` with a Harbor stand-in and stops it afterwards, also when `body` throws.
public func withTestHarbor<T>(
  projects: [String] = ["library"], lagging: [String] = [], tls: Bool = false,
  headAllowed: Bool = true, _ body: (TestHarbor) async throws -> T
) async throws -> T {
  let harbor = try await TestHarbor.start(
    projects: projects, lagging: lagging, tls: tls, headAllowed: headAllowed)
  do {
    let result = try await body(harbor)
    await harbor.stop()
    return result
  } catch {
    await harbor.stop()
    throw error
  }
}
