import ArgumentParser
import Artifact
import Blobstore
import Foundation
import OCI

extension ArtifactVerifyCommand {
  /// `verify --remote`: every image of the artifact in the target registry with the
  /// artifact's digest; manifests only.
  func verifyRemote() async throws {
    try target.requireTarget()
    try await reportingFailures {
      let started = Date()
      let (config, client) = try target.client(threads: 4)
      try requireReadable(artifact)
      let mapping = target.mapping(config)
      let plan: PushPlan
      var isDirectory: ObjCBool = false
      if FileManager.default.fileExists(atPath: artifact, isDirectory: &isDirectory),
        isDirectory.boolValue
      {
        let store = try BlobStore.open(at: artifact)
        let outcome = try PushPlanner.plan(
          indexJSON: try readSmallFile(store.root + "/index.json"),
          manifest: { try? store.readJSON($0) }, target: mapping)
        guard case .complete(let complete) = outcome else {
          throw PushError.source("\(artifact): manifests are missing (run kk artifact verify)")
        }
        plan = complete
      } else {
        plan = try await ImagePusher.pushArchive(
          path: artifact, target: mapping, patterns: [], log: { _ in },
          makePusher: { _ in throw PushError.source("unreachable") }, dryRun: true
        ).plan
      }
      try await client.checkReachable()
      let result = await RemoteVerifier.verify(plan: plan, client: client)
      for problem in result.problems { print("error: \(problem)") }
      print(
        [
          "artifact    \(artifact)",
          "registry    \(client.host)",
          "images      \(plan.images.count)",
          "manifests   \(result.checked) checked",
          String(format: "checked     in %.2f s", Date().timeIntervalSince(started)),
          result.problems.isEmpty
            ? "result      OK" : "result      FAILED: \(result.problems.count) errors",
        ].joined(separator: "\n"))
      if !result.problems.isEmpty { throw ExitCode.failure }
    }
  }
}
