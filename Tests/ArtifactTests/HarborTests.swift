import Artifact
import Foundation
import OCI
import TestSupport
import Testing

/// `HarborProjects` against the Harbor stand-in: which projects a push needs, and the API
/// calls that create them (HEAD, GET fallback, POST with 201/409/400/401/403).
@Suite(.serialized) struct HarborTests {
  static func client(
    _ harbor: TestHarbor, _ credentials: Credentials = TestHarbor.admin
  ) throws -> HarborProjects {
    var options = RegistryOptions(
      credentials: RegistryCredentials(
        username: credentials.username, password: credentials.password),
      scheme: harbor.usesTLS ? .https : .http)
    if let ca = harbor.caCertPath {
      options.tls.caPEM = [UInt8](try Data(contentsOf: URL(fileURLWithPath: ca)))
    }
    return HarborProjects(host: harbor.host, options: options, pool: TransferPool(threads: 1))
  }

  @Test func projectRule() throws {
    #expect(HarborProjects.project(of: "calico/cni") == "calico")
    #expect(HarborProjects.project(of: "proj/kubesphere/kube-apiserver") == "proj")
    #expect(HarborProjects.project(of: "nginx") == "library")
    #expect(
      HarborProjects.projects(for: ["calico/cni", "kubesphere/pause", "calico/node", "busybox"])
        == ["calico", "kubesphere", "library"])
    let single = try Reference(parsing: "10.0.0.5:443/nginx:1.25")
    #expect(HarborProjects.harborTarget(single).description == "10.0.0.5:443/library/nginx:1.25")
    let nested = try Reference(parsing: "10.0.0.5:443/calico/cni:v3")
    #expect(HarborProjects.harborTarget(nested) == nested)
  }

  @Test func createsMissingProjectsPublicOrPrivateAndLeavesExistingOnes() async throws {
    try await withTestHarbor(projects: ["library", "kept:private"]) { harbor in
      let api = try Self.client(harbor)
      let dry = try await api.ensure(["library", "calico"], public: true, dryRun: true)
      #expect(dry.existing == ["library"])
      #expect(dry.wouldCreate == ["calico"])
      #expect(try await harbor.projects()["calico"] == nil, "dry run created a project")

      let first = try await api.ensure(["library", "calico", "kubesphere", "kept"], public: true)
      #expect(first.existing == ["library", "kept"])
      #expect(first.created == ["calico", "kubesphere"])
      let second = try await api.ensure(["secret"], public: false)
      #expect(second.created == ["secret"])

      let projects = try await harbor.projects()
      #expect(projects["calico"] == true)
      #expect(projects["kubesphere"] == true)
      #expect(projects["secret"] == false)
      #expect(projects["kept"] == false, "an existing private project was made public")
      let posts = harbor.apiCalls().filter { $0.api == "POST" }.compactMap(\.project)
      #expect(posts.sorted() == ["calico", "kubesphere", "secret"])

      let again = try await api.ensure(["calico", "secret"], public: true)
      #expect(again.existing == ["calico", "secret"])
      #expect(again.created.isEmpty)
      #expect(try await harbor.projects()["secret"] == false)
    }
  }

  @Test func conflictOnCreateCountsAsRacedAndHeadFallsBackToGet() async throws {
    try await withTestHarbor(lagging: ["raced"]) { harbor in
      let report = try await Self.client(harbor).ensure(["raced", "fresh"], public: true)
      #expect(report.raced == ["raced"])
      #expect(report.created == ["fresh"])
      #expect(harbor.apiCalls().contains { $0.api == "POST" && $0.status == 409 })
    }
    try await withTestHarbor(headAllowed: false) { harbor in
      let api = try Self.client(harbor)
      #expect(try await api.exists("library"))
      #expect(try await api.exists("nothere") == false)
      let report = try await api.ensure(["library", "made"], public: true)
      #expect(report.existing == ["library"] && report.created == ["made"])
      #expect(harbor.apiCalls().contains { $0.api == "GET" && $0.project == "made" })
    }
  }

  @Test func refusalsAreExplained() async throws {
    try await withTestHarbor(tls: true) { harbor in
      let wrong = try Self.client(harbor, Credentials(username: "admin", password: "nope"))
      await #expect(throws: HarborError.unauthorized(host: harbor.host)) {
        _ = try await wrong.ensure(["calico"], public: true)
      }
      #expect(
        HarborError.unauthorized(host: harbor.host).description
          == "Harbor refused the credentials for \(harbor.host): check username/password in config-sample.yaml auths"
      )

      let anonymous = HarborProjects(
        host: harbor.host,
        options: RegistryOptions(
          tls: TLSOptions(
            caPEM: [UInt8](try Data(contentsOf: URL(fileURLWithPath: harbor.caCertPath ?? ""))))),
        pool: TransferPool(threads: 1))
      do {
        _ = try await anonymous.ensure(["calico"], public: true)
        Issue.record("an anonymous check was accepted")
      } catch {
        #expect("\(error)".hasPrefix("Harbor wants credentials for \(harbor.host) and kk had none"))
      }

      let developer = try Self.client(harbor, TestHarbor.developer)
      do {
        _ = try await developer.ensure(["library", "calico"], public: true)
        Issue.record("a non-admin created a project")
      } catch {
        #expect(
          "\(error)"
            == "user dev may not create projects on \(harbor.host): create project calico in Harbor or use an admin account"
        )
      }

      let admin = try Self.client(harbor)
      do {
        _ = try await admin.ensure(["Bad_Name"], public: true)
        Issue.record("an invalid project name was accepted")
      } catch {
        #expect("\(error)".contains("answered 400 to POST /api/v2.0/projects"))
        #expect("\(error)".contains("illegal characters"), "\(error)")
      }
      #expect(try await harbor.projects().keys.sorted() == ["library"])
    }
  }

  @Test func plainRegistryIsNotTakenForHarbor() async throws {
    try await withTestRegistry(.plain) { registry in
      let api = HarborProjects(
        host: registry.host, options: RegistryOptions(scheme: .http),
        pool: TransferPool(threads: 1))
      let listed = try await api.listed("calico")
      #expect(listed == nil)
      await #expect(throws: HarborError.self) { _ = try await api.ensure(["calico"], public: true) }
    }
  }

  /// The stand-in's `/v2` proxy, driven by curl: a chunked and a Content-Length blob upload
  /// through it land in the registry intact, and upload `Location`s point at the stand-in.
  @Test func standInProxiesChunkedAndSizedUploads() async throws {
    try await withTestHarbor(tls: true) { harbor in
      let scratch = try TemporaryDirectory(prefix: "kk-harbor-proxy")
      defer { scratch.remove() }
      let ca = harbor.caCertPath ?? ""
      func curl(_ args: [String]) async throws -> (status: Int, location: String) {
        let out = try await ProcessRunner.checked(
          "curl",
          ["-sS", "--cacert", ca, "-o", "/dev/null", "-w", "%{http_code} %header{location}"] + args)
        let parts = out.stdout.split(separator: " ", maxSplits: 1).map(String.init)
        return (Int(parts.first ?? "") ?? 0, parts.count > 1 ? parts[1] : "")
      }
      let token = try await HTTPProbe.fetch(
        harbor.baseURL
          + "/service/token?service=\(TestHarbor.service)&scope=repository:library/blobs:pull,push",
        caCert: ca, basic: TestHarbor.admin)
      struct Reply: Decodable { var token: String }
      let bearer = try JSONDecoder().decode(Reply.self, from: Data(token.body.utf8)).token
      let auth = ["-H", "Authorization: Bearer \(bearer)"]
      for (index, chunked) in [true, false].enumerated() {
        var bytes = [UInt8](repeating: 0, count: 3 << 20)
        for i in stride(from: 0, to: bytes.count, by: 4096) {
          bytes[i] = UInt8((i / 4096 + index) & 0xFF)
        }
        let file = scratch.path + "/blob-\(index)"
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let digest = SHA256Hasher.digest(bytes)
        let start = try await curl(
          ["-X", "POST"] + auth + [harbor.baseURL + "/v2/library/blobs/blobs/uploads/"])
        #expect(start.status == 202)
        #expect(
          start.location.hasPrefix(harbor.baseURL + "/v2/library/blobs/blobs/uploads/"), "\(start)")
        let put = try await curl(
          ["-X", "PUT", "-T", file, "-H", "Content-Type: application/octet-stream"] + auth
            + (chunked ? ["-H", "Transfer-Encoding: chunked"] : [])
            + [start.location + "&digest=\(digest)"])
        #expect(put.status == 201, "chunked: \(chunked)\n\(harbor.logTail())")
        let back = scratch.path + "/back-\(index)"
        let get = try await ProcessRunner.checked(
          "curl",
          ["-sS", "--cacert", ca, "-L", "-o", back, "-w", "%{http_code}"] + auth
            + [harbor.baseURL + "/v2/library/blobs/blobs/\(digest)"])
        #expect(get.stdout == "200")
        let fetched = [UInt8](try Data(contentsOf: URL(fileURLWithPath: back)))
        #expect(SHA256Hasher.digest(fetched) == digest)
      }
      let log = try String(contentsOfFile: harbor.logPath, encoding: .utf8)
      for chunked in ["true", "false"] {
        #expect(
          log.contains(#""bytes": 3145728, "chunked": \#(chunked), "proxy": "PUT", "status": 201"#),
          "\(log)")
      }
    }
  }
}
