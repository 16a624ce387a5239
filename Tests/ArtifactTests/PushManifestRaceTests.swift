import Foundation
import OCI
import TestSupport
import Testing

@testable import Artifact

/// Two pushes of one artifact at once: docker-registry re-links a blob the other push is
/// committing non-atomically, and a manifest PUT in between is refused with
/// MANIFEST_BLOB_UNKNOWN although its blobs were confirmed. kk tries again a moment later,
/// and says what probably happened when that does not help (it used to fail at once with a
/// raw "400 ... DIGEST_INVALID" that read like a corrupt artifact).
@Suite struct PushManifestRaceTests {
  static let manifest = Array(#"{"schemaVersion":2,"layers":[]}"#.utf8)

  func client(_ server: ScriptServer) -> RegistryClient {
    RegistryClient(
      host: server.host, options: RegistryOptions(scheme: .http), pool: TransferPool(threads: 1))
  }

  @Test func aManifestRefusedForAMomentIsPushedOnTheThirdTry() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-manifest-race")
    defer { scratch.remove() }
    try await withScriptServer("quirkregistry.py", [], logDirectory: scratch.path) { server in
      try await ImagePusher.pushManifestRetryingUnknownBlobs(
        client(server), repository: "blob-unknown/app", reference: "v1", bytes: Self.manifest,
        mediaType: MediaType.ociManifest)
    }
  }

  @Test func aManifestRefusedForEverSaysWhatProbablyHappened() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-manifest-race")
    defer { scratch.remove() }
    try await withScriptServer("quirkregistry.py", [], logDirectory: scratch.path) { server in
      do {
        try await ImagePusher.pushManifestRetryingUnknownBlobs(
          client(server), repository: "blob-unknown-always/app", reference: "v1",
          bytes: Self.manifest, mediaType: MediaType.ociManifest)
        Issue.record("the PUT was accepted")
      } catch {
        #expect(
          "\(error)".contains(
            "another push into blob-unknown-always/app was probably writing the same blobs at "
              + "that moment: run the command again"), "\(error)")
      }
    }
  }
}
