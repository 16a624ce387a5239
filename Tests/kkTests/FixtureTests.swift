import Foundation
import OCI
import Testing

@testable import TestSupport

/// The shared fixtures every later test relies on: if these fail, nothing else is
/// trustworthy, so they check the fixtures against independent clients (curl, skopeo, ctr).
@Suite("Fixtures")
struct FixtureTests {
  @Test("plain registry answers /v2/ with 200 and is gone after stop()")
  func plainRegistry() async throws {
    let registry = try await TestRegistry.start(.plain)
    let reply = try await HTTPProbe.fetch(registry.url("/v2/"))
    #expect(reply.status == 200)
    #expect(reply.headers["docker-distribution-api-version"] == "registry/2.0")
    #expect(registry.credentials == nil)
    let storage = registry.storagePath
    #expect(FileManager.default.fileExists(atPath: storage))
    await registry.stop()
    await #expect(throws: TestSupportError.self) {
      _ = try await HTTPProbe.fetch(registry.url("/v2/"), timeout: .seconds(2))
    }
    #expect(!FileManager.default.fileExists(atPath: storage))
  }

  @Test("TLS registry: test CA is required, 401 without or with wrong credentials, 200 with them")
  func tlsBasicAuthRegistry() async throws {
    try await withTestRegistry(.tlsBasicAuth) { registry in
      let caCert = try #require(registry.caCertPath)
      let credentials = try #require(registry.credentials)
      #expect(registry.baseURL.scheme == "https")
      let anonymous = try await HTTPProbe.fetch(registry.url("/v2/"), caCert: caCert)
      #expect(anonymous.status == 401)
      #expect(anonymous.headers["www-authenticate"]?.hasPrefix("Basic") == true)
      let wrong = Credentials(username: credentials.username, password: "not-the-password")
      #expect(
        try await HTTPProbe.fetch(registry.url("/v2/"), caCert: caCert, basic: wrong).status == 401)
      let ok = try await HTTPProbe.fetch(registry.url("/v2/"), caCert: caCert, basic: credentials)
      #expect(ok.status == 200)
      // Without the test CA, certificate verification must fail.
      await #expect(throws: TestSupportError.self) {
        _ = try await HTTPProbe.fetch(registry.url("/v2/"), basic: credentials)
      }
      // "localhost" is in the certificate too.
      let byName = "https://localhost:\(registry.port)/v2/"
      #expect(try await HTTPProbe.fetch(byName, caCert: caCert, basic: credentials).status == 200)
    }
  }

  @Test(
    "token registry: challenge, token for granted scopes, 401 for bad credentials",
    arguments: [false, true])
  func tokenFlow(overTLS: Bool) async throws {
    try await withTestRegistry(.token, tokenOverTLS: overTLS) { registry in
      let ca = registry.caCertPath
      func fetch(
        _ url: String, method: String = "GET", basic: Credentials? = nil, bearer: String? = nil,
        form: String? = nil
      ) async throws -> HTTPReply {
        try await HTTPProbe.fetch(
          url, method: method, caCert: ca, basic: basic, bearer: bearer, form: form)
      }
      #expect(registry.url("/v2/").hasPrefix(overTLS ? "https://" : "http://"))
      let realm = try #require(registry.tokenRealm)
      let service = try #require(registry.tokenService)
      let challenge = try await fetch(registry.url("/v2/"))
      #expect(challenge.status == 401)
      let header = try #require(challenge.headers["www-authenticate"])
      #expect(header.hasPrefix("Bearer "))
      #expect(realm.hasPrefix(overTLS ? "https://" : "http://"))
      #expect(header.contains("realm=\"\(realm)\""))
      #expect(header.contains("service=\"\(service)\""))

      let scope = "repository:kk-test/app:pull,push"
      let query = "\(realm)?service=\(service)&scope=\(scope)&offline_token=true&client_id=kk-tests"
      let reply = try await fetch(query, basic: TokenPolicy.admin)
      #expect(reply.status == 200)
      let body = try TokenBody(reply.body)
      #expect(body.access(for: "kk-test/app") == ["pull", "push"])
      #expect(body.refreshToken != nil)
      let authorized = try await fetch(registry.url("/v2/"), bearer: body.token)
      #expect(authorized.status == 200)

      // Pull-only account: push is asked for but not granted.
      let reader = try TokenBody(try await fetch(query, basic: TokenPolicy.reader).body)
      #expect(reader.access(for: "kk-test/app") == ["pull"])

      // Bad password and missing credentials (no anonymous access configured).
      let bad = Credentials(username: TokenPolicy.admin.username, password: "wrong")
      #expect(try await fetch(query, basic: bad).status == 401)
      #expect(try await fetch(query).status == 401)
      // A forged token is refused by the registry.
      let forged = body.token.dropLast(4) + "AAAA"
      #expect(try await fetch(registry.url("/v2/"), bearer: String(forged)).status == 401)

      // OAuth2 POST with a refresh token, as containerd does.
      let refresh = try #require(body.refreshToken)
      let form =
        "grant_type=refresh_token&service=\(service)&client_id=kk-tests&scope=\(scope)"
        + "&refresh_token=\(refresh)"
      let posted = try await fetch(realm, method: "POST", form: form)
      #expect(posted.status == 200)
      #expect(try TokenBody(posted.body).access(for: "kk-test/app") == ["pull", "push"])

      let log = try String(contentsOfFile: try #require(registry.tokenLogPath), encoding: .utf8)
      #expect(log.contains("\"account\": \"reader\""))
    }
  }

  @Test("token registry with anonymous pull grants tokens without credentials")
  func anonymousPull() async throws {
    try await withTestRegistry(.token, tokenPolicy: .standard(anonymousPull: "public/*")) {
      registry in
      let realm = try #require(registry.tokenRealm)
      let service = try #require(registry.tokenService)
      let base = "\(realm)?service=\(service)&scope="
      let open = try TokenBody(
        try await HTTPProbe.fetch(base + "repository:public/app:pull,push").body)
      #expect(open.access(for: "public/app") == ["pull"])
      let closed = try TokenBody(
        try await HTTPProbe.fetch(base + "repository:private/app:pull").body)
      #expect(closed.access(for: "private/app") == [])
    }
  }

  @Test("the image generator is deterministic and writes a valid multi-arch layout")
  func generatorIsDeterministic() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-gen")
    defer { scratch.remove() }
    let first = try await TestImages.generate(into: scratch.path + "/a")
    let second = try await TestImages.generate(into: scratch.path + "/b")
    let other = try await TestImages.generate(into: scratch.path + "/c", seed: "other", images: 2)

    #expect(first.images.count == 4)
    #expect(first.images.map(\.digest) == second.images.map(\.digest))
    #expect(first.uniqueBytes == second.uniqueBytes)
    let indexA = try Data(contentsOf: URL(fileURLWithPath: first.layout + "/index.json"))
    let indexB = try Data(contentsOf: URL(fileURLWithPath: second.layout + "/index.json"))
    #expect(indexA == indexB)
    #expect(Set(other.images.map(\.digest)).isDisjoint(with: first.images.map(\.digest)))

    // Every blob is named by its sha256, and the sizes add up to uniqueBytes.
    let blobs = first.layout + "/blobs/sha256"
    let names = try FileManager.default.contentsOfDirectory(atPath: blobs)
    #expect(names.count == first.blobCount)
    var total: Int64 = 0
    for name in names {
      let data = try Data(contentsOf: URL(fileURLWithPath: blobs + "/" + name))
      #expect(SHA256Hasher.digest(data).encoded == name)
      total += Int64(data.count)
    }
    #expect(total == first.uniqueBytes)

    // Multi-arch, with layers shared across images and across architectures.
    var imagesUsing: [Digest: Set<String>] = [:]
    var archesUsing: [Digest: Set<String>] = [:]
    for image in first.images {
      #expect(Set(image.manifests.map(\.platform.architecture)) == ["amd64", "arm64"])
      for manifest in image.manifests {
        for layer in manifest.layers {
          imagesUsing[layer, default: []].insert(image.ref)
          archesUsing[layer, default: []].insert(manifest.platform.architecture)
        }
      }
    }
    #expect(imagesUsing.contains { $0.value.count > 1 && archesUsing[$0.key]?.count == 1 })
    #expect(archesUsing.values.contains { $0.count == 2 })

    // Layers are gzip without a name or timestamp.
    let layer = try #require(first.images.first?.manifests.first?.layers.first)
    let bytes = try Data(contentsOf: URL(fileURLWithPath: blobs + "/" + layer.encoded)).prefix(10)
    #expect(Array(bytes.prefix(4)) == [0x1f, 0x8b, 0x08, 0x00])
    #expect(Array(bytes[4..<8]) == [0, 0, 0, 0])
  }

  @Test(
    "skopeo pushes the small preset and reads back the same digests",
    arguments: RegistrySetup.allCases)
  func pushAndInspect(setup: RegistrySetup) async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-gen")
    defer { scratch.remove() }
    let images = try await TestImages.generate(into: scratch.path + "/layout", images: 2)
    try await withTestRegistry(setup.mode, tokenOverTLS: setup == .tokenOverTLS) { registry in
      try await TestImages.push(images, to: registry)
      for image in images.images {
        let raw = try await registry.rawManifest(image.ref)
        #expect(SHA256Hasher.digest(raw) == image.digest)
        for manifest in image.manifests {
          let bytes = try await registry.rawManifest("\(image.repository)@\(manifest.digest)")
          #expect(SHA256Hasher.digest(bytes) == manifest.digest)
        }
      }
      if setup.mode == .token {
        // The pull-only account may read but not push.
        let ref = try #require(images.images.first).ref
        let reader = ["--tls-verify=false", "--creds", TokenPolicy.reader.colonSeparated]
        let read = try await ProcessRunner.run(
          "skopeo", ["inspect", "--raw"] + reader + [registry.dockerReference(ref)])
        #expect(read.succeeded)
        let push = try await ProcessRunner.run(
          "skopeo",
          [
            "copy", "--all", "--dest-tls-verify=false", "--dest-creds",
            TokenPolicy.reader.colonSeparated,
            "oci:\(images.layout):\(ref)", registry.dockerReference("denied/app:v1"),
          ])
        #expect(!push.succeeded)
        #expect(push.stderr.contains("denied") || push.stderr.contains("unauthorized"))
      }
    }
  }

  @Test(
    "containerd pulls a multi-arch image from the test registry",
    .enabled(if: TestContainerd.isAvailable, "needs root, containerd and ctr"))
  func containerdPull() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-gen")
    defer { scratch.remove() }
    let images = try await TestImages.generate(into: scratch.path + "/layout", images: 1)
    let image = try #require(images.images.first)
    try await withTestRegistry(.plain) { registry in
      try await TestImages.push(images, to: registry)
      try await withTestContainerd { containerd in
        let name = "\(registry.host)/\(image.ref)"
        try await containerd.ctr(["images", "pull", "--plain-http", "--all-platforms", name])
        #expect(try await containerd.imageNames() == [name])
        let listing = try await containerd.ctr(["images", "ls"]).stdout
        #expect(listing.contains(image.digest.description))
      }
    }
  }

  @Test("a server whose test process dies is stopped and its directory deleted")
  func orphanedServerIsCleanedUp() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-orphan")
    defer { scratch.remove() }
    let doomed = scratch.path + "/fixture"
    try FileManager.default.createDirectory(atPath: doomed, withIntermediateDirectories: true)
    // Stands in for a test process: starts a guarded server, then dies by SIGKILL.
    let script = """
      import os, subprocess, sys, time
      env = dict(os.environ, KK_GUARD_CLEANUP=sys.argv[2], KK_GUARD_PARENT=str(os.getpid()))
      subprocess.Popen([sys.executable, sys.argv[1], sys.argv[3], "sleep", "300"],
                       stdin=subprocess.PIPE, env=env)
      while not os.path.exists(sys.argv[3]):
          time.sleep(0.05)
      os.kill(os.getpid(), 9)
      """
    let pidFile = scratch.path + "/server.pid"
    let output = try await ProcessRunner.run(
      TestPaths.python, ["-c", script, TestPaths.fixture("guard.py"), doomed, pidFile])
    #expect(output.exitCode != 0)
    let text = try String(contentsOfFile: pidFile, encoding: .utf8)
    let server = try #require(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
    let deadline = ContinuousClock.now + .seconds(60)
    while ContinuousClock.now < deadline,
      kill(server, 0) == 0 || FileManager.default.fileExists(atPath: doomed)
    {
      try await Task.sleep(for: .milliseconds(100))
    }
    #expect(kill(server, 0) != 0, "the guarded `sleep 300` (pid \(server)) is still running")
    #expect(!FileManager.default.fileExists(atPath: doomed))
  }

  @Test("processes that outlive their timeout are killed, missing tools name their package")
  func processRunner() async throws {
    let clock = ContinuousClock()
    let start = clock.now
    await #expect(throws: TestSupportError.self) {
      _ = try await ProcessRunner.run("sleep", ["120"], timeout: .milliseconds(300))
    }
    // Far below the 120 s the process wanted, with room for a loaded 2-core CI machine.
    #expect(clock.now - start < .seconds(60))
    let output = try await ProcessRunner.run("sh", ["-c", "printf out; printf err >&2; exit 3"])
    #expect(output.exitCode == 3)
    #expect(output.stdout == "out")
    #expect(output.stderr == "err")
    await #expect(throws: TestSupportError.self) {
      try await ProcessRunner.checked("sh", ["-c", "exit 1"])
    }
    do {
      _ = try ProcessRunner.require("kk-no-such-tool")
      Issue.record("require() found a tool that does not exist")
    } catch {
      #expect(error.description.contains("apt-get install"))
    }
  }
}

/// Every registry setup users have: the three modes, plus token auth over HTTPS.
enum RegistrySetup: String, CaseIterable, Sendable {
  case plain, tlsBasicAuth, token, tokenOverTLS

  var mode: TestRegistry.Mode {
    switch self {
    case .plain: .plain
    case .tlsBasicAuth: .tlsBasicAuth
    case .token, .tokenOverTLS: .token
    }
  }
}

/// The JSON a token server answers, with the JWT's `access` claim decoded.
private struct TokenBody {
  let token: String
  let refreshToken: String?
  let access: [[String: Any]]

  init(_ json: String) throws {
    let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
    guard let token = (object?["token"] ?? object?["access_token"]) as? String else {
      throw TestSupportError.badOutput("no token in \(json)")
    }
    self.token = token
    refreshToken = object?["refresh_token"] as? String
    let parts = token.split(separator: ".")
    guard parts.count == 3 else { throw TestSupportError.badOutput("not a JWT: \(token)") }
    var payload = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(
      of: "_", with: "/")
    payload += String(repeating: "=", count: (4 - payload.count % 4) % 4)
    guard let data = Data(base64Encoded: payload),
      let claims = try JSONSerialization.jsonObject(with: data) as? [String: Any]
    else { throw TestSupportError.badOutput("undecodable JWT payload: \(token)") }
    access = claims["access"] as? [[String: Any]] ?? []
  }

  /// The actions granted on repository `name`, sorted.
  func access(for name: String) -> [String] {
    access.filter { $0["name"] as? String == name }.flatMap { $0["actions"] as? [String] ?? [] }
      .sorted()
  }
}
