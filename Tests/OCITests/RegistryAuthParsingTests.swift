import Foundation
import Testing

@testable import OCI

@Suite("Registry: challenges, credentials, URLs")
struct RegistryAuthParsingTests {
  @Test func bearerChallengeWithCommaInQuotedScope() {
    let header =
      #"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push""#
    let parsed = AuthChallenge.parse(header)
    #expect(parsed.count == 1)
    #expect(parsed.first?.scheme == "bearer")
    #expect(parsed.first?.realm == "https://auth.example.com/token")
    #expect(parsed.first?.service == "registry.example.com")
    #expect(parsed.first?.scope == "repository:a/b:pull,push")
  }

  @Test func basicChallengeAndTwoChallengesInOneHeader() {
    let parsed = AuthChallenge.parse(
      #"Basic realm="Registry Realm", Bearer realm="http://h/token",service=svc"#)
    #expect(parsed.map(\.scheme) == ["basic", "bearer"])
    #expect(parsed[0].realm == "Registry Realm")
    #expect(parsed[1].service == "svc")
  }

  @Test func dockerConfigAuthFieldAndUsernamePassword() throws {
    let auth = Data("alice:pa:ss".utf8).base64EncodedString()
    let json = """
      {"auths":{"https://index.docker.io/v1/":{"auth":"\(auth)"},
       "reg.local:5000":{"username":"bob","password":"secret"},
       "http://other.local/v2/":{"auth":""}}}
      """
    let bytes = Array(json.utf8)
    let hub = try CredentialFiles.lookup(host: "docker.io", in: bytes, path: "config.json")
    #expect(hub == RegistryCredentials(username: "alice", password: "pa:ss"))
    let local = try CredentialFiles.lookup(host: "reg.local:5000", in: bytes, path: "config.json")
    #expect(local == RegistryCredentials(username: "bob", password: "secret"))
    #expect(try CredentialFiles.lookup(host: "other.local", in: bytes, path: "config.json") == nil)
    #expect(
      try CredentialFiles.lookup(host: "missing.local", in: bytes, path: "config.json") == nil)
  }

  @Test func badAuthFileIsATypedErrorNamingThePath() {
    #expect(throws: RegistryError.self) {
      try CredentialFiles.lookup(host: "h", in: Array("{not json".utf8), path: "/tmp/x.json")
    }
    let bad = Array(#"{"auths":{"h":{"auth":"bm90LWNvbG9u"}}}"#.utf8)  // "not-colon"
    do {
      _ = try CredentialFiles.lookup(host: "h", in: bad, path: "/tmp/y.json")
      Issue.record("expected an error")
    } catch {
      #expect(error.description.contains("/tmp/y.json"))
    }
  }

  @Test func authFilesSearchedInOrderWithContainersAuthFirst() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "kk-auth-\(UUID().uuidString)"
    ).path
    try FileManager.default.createDirectory(
      atPath: dir + "/run/containers", withIntermediateDirectories: true)
    try FileManager.default.createDirectory(
      atPath: dir + "/home/.docker", withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try #"{"auths":{"h:1":{"username":"podman","password":"p"}}}"#.write(
      toFile: dir + "/run/containers/auth.json", atomically: true, encoding: .utf8)
    try
      #"{"auths":{"h:1":{"username":"docker","password":"d"},"h:2":{"username":"d2","password":"x"}}}"#
      .write(
        toFile: dir + "/home/.docker/config.json", atomically: true, encoding: .utf8)
    let env = ["XDG_RUNTIME_DIR": dir + "/run", "HOME": dir + "/home"]
    #expect(try CredentialFiles.lookup(host: "h:1", environment: env)?.username == "podman")
    #expect(try CredentialFiles.lookup(host: "h:2", environment: env)?.username == "d2")
    var options = RegistryOptions(
      credentials: RegistryCredentials(username: "explicit", password: "e"))
    try options.resolveCredentials(for: "h:1", environment: env)
    #expect(options.credentials?.username == "explicit")
  }

  @Test func kubekeyEntryWithCertsPath() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "kk-certs-\(UUID().uuidString)"
    ).path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try "CA-ONE".write(toFile: dir + "/ca.crt", atomically: true, encoding: .utf8)
    try "CA-TWO\n".write(toFile: dir + "/extra.crt", atomically: true, encoding: .utf8)
    try "CERT".write(toFile: dir + "/client.cert", atomically: true, encoding: .utf8)
    try "KEY".write(toFile: dir + "/client.key", atomically: true, encoding: .utf8)
    let options = try RegistryOptions(
      entry: RegistryAuthEntry(username: "u", password: "p", plainHTTP: false, certsPath: dir))
    #expect(options.tls.verify)
    #expect(options.scheme == .https)
    #expect(options.credentials == RegistryCredentials(username: "u", password: "p"))
    #expect(options.tls.caPEM == Array("CA-ONE\nCA-TWO\n".utf8))
    #expect(options.tls.clientCertFile == dir + "/client.cert")
    #expect(options.tls.clientKeyFile == dir + "/client.key")

    let plain = try RegistryOptions(entry: RegistryAuthEntry(plainHTTP: true))
    #expect(plain.scheme == .http)
    #expect(!plain.tls.verify)
    #expect(throws: RegistryError.self) {
      try RegistryOptions(entry: RegistryAuthEntry(certsPath: dir + "/does-not-exist"))
    }
  }

  @Test func locationsResolveRelativeAbsoluteAndKeepQuery() {
    let client = RegistryClient(host: "reg.local:5000", pool: TransferPool(threads: 1))
    let base = "https://reg.local:5000/v2/a/blobs/uploads/"
    #expect(
      client.resolve("/v2/a/blobs/uploads/u1?_state=x", against: base)
        == "https://reg.local:5000/v2/a/blobs/uploads/u1?_state=x")
    #expect(
      client.resolve("https://s3.example/bucket/o?sig=1", against: base)
        == "https://s3.example/bucket/o?sig=1")
    #expect(
      client.resolve("u2?x=1", against: base) == "https://reg.local:5000/v2/a/blobs/uploads/u2?x=1")
    #expect(
      RegistryClient.appending(query: "digest", "sha256:ab", to: "http://h/u?_state=x")
        == "http://h/u?_state=x&digest=sha256:ab")
    #expect(
      RegistryClient.appending(query: "digest", "sha256:ab", to: "http://h/u")
        == "http://h/u?digest=sha256:ab")
    #expect(client.sameOrigin("https://reg.local:5000/v2/", "https://reg.local:5000/x"))
    #expect(!client.sameOrigin("https://reg.local:5000/v2/", "https://s3.example/x"))
    #expect(!client.sameOrigin("https://reg.local:5000/v2/", "http://reg.local:5000/v2/"))
    #expect(client.sameOrigin("https://reg.local/v2/", "https://reg.local:443/v2/"))
  }

  @Test func contentRangeStart() {
    #expect(RegistryClient.rangeStart("bytes 100-199/1000") == 100)
    #expect(RegistryClient.rangeStart("bytes 0-9/10") == 0)
    #expect(RegistryClient.rangeStart("garbage") == nil)
    #expect(RegistryClient.rangeStart(nil) == nil)
  }

  @Test func retryAfterIsHonouredAndBackoffGrows() {
    let policy = RetryPolicy(attempts: 5, baseDelay: 1, maxDelay: 8)
    #expect(policy.delay(afterAttempt: 1, retryAfter: "3") == 3)
    for attempt in 1...6 {
      let d = policy.delay(afterAttempt: attempt, retryAfter: nil)
      let cap = min(8, pow(2, Double(attempt - 1)))
      #expect(d >= cap / 2 && d <= cap)
    }
  }

  @Test func errorMessagesSayWhatToDo() throws {
    let unauthorized = RegistryError.unauthorized(host: "reg.local", repository: "a/b", detail: nil)
    #expect(unauthorized.description.contains("check the credentials for reg.local"))
    #expect(unauthorized.description.contains("~/.docker/config.json"))
    #expect(!unauthorized.description.contains("config-sample.yaml"))
    let unknown = RegistryError.manifestUnknown(
      host: "reg.local", repository: "a/b", reference: "v1")
    #expect(unknown.description.hasPrefix("manifest unknown: a/b:v1 does not exist on reg.local"))
    let tls = RegistryError.tlsVerification(host: "reg.local", detail: "self-signed")
    #expect(tls.description.contains("--dest-cert-dir"))
    #expect(tls.description.contains("certsPath"))
    let entries = RegistryErrorEntry.parse(
      Array(#"{"errors":[{"code":"DENIED","message":"no","detail":{}}]}"#.utf8))
    #expect(entries == [RegistryErrorEntry(code: "DENIED", message: "no")])
    #expect(RegistryErrorEntry.parse(Array("<html>".utf8)).isEmpty)
  }

  /// A 401 names the credentials kk actually used: the file and field they came from, an auth
  /// file found on the way, or that none were sent.
  @Test func unauthorizedAdviceNamesTheCredentialsSource() throws {
    let none = RegistryOptions()
    #expect(
      none.credentialsAdvice(host: "reg.local").contains("kk sent no credentials for reg.local"))

    let entry = RegistryAuthEntry(username: "kk", password: "x")
    let fromConfig = try RegistryOptions(
      entry: entry, source: "my-cluster.yaml (spec.registry.auths)")
    #expect(
      fromConfig.credentialsAdvice(host: "reg.local")
        == "check the user name and password for reg.local in my-cluster.yaml (spec.registry.auths)"
    )

    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "kk-auth-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = dir.appendingPathComponent("auth.json").path
    let auth = Data("kk:secret".utf8).base64EncodedString()
    try Data(#"{"auths":{"reg.local:5000":{"auth":"\#(auth)"}}}"#.utf8).write(
      to: URL(fileURLWithPath: file))
    var fromFile = RegistryOptions()
    try fromFile.resolveCredentials(
      for: "reg.local:5000", environment: ["REGISTRY_AUTH_FILE": file])
    #expect(fromFile.credentials == RegistryCredentials(username: "kk", password: "secret"))
    #expect(fromFile.credentialsAdvice(host: "reg.local:5000").hasSuffix("in \(file)"))
    let error = RegistryError.unauthorized(
      host: "reg.local:5000", repository: "a/b", detail: nil,
      advice: fromFile.credentialsAdvice(host: "reg.local:5000"))
    #expect(error.description.contains(file))
  }
}
