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
}
