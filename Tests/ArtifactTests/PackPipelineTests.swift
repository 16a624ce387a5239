import Blobstore
import Foundation
import OCI
import Testing

@testable import Artifact

/// Packing while downloads land: the packer waits for exactly the blob it needs next.
@Suite struct PackPipelineTests {
  /// Packs on a thread of its own, as the export does, waiting on `board` for each blob.
  static func startPack(
    _ plan: PackPlan, from store: BlobStore, to output: String, board: ArrivalBoard
  )
    -> Task<Result<PackResult, ExportError>, Never>
  {
    Task.detached {
      await PackPipeline.onThread { () -> Result<PackResult, ExportError> in
        Result { () throws(ExportError) in
          try ArtifactPacker.pack(
            plan: plan, from: store, to: output,
            waitFor: { blob throws(ExportError) in try board.wait(for: blob.digest) })
        }
      }
    }
  }

  /// A layer that is not in the store when the pack starts is packed once it arrives; a
  /// download failure while the packer waits stops the pack and leaves nothing.
  @Test func packerWaitsForALateBlobAndStopsOnAFailedDownload() async throws {
    let fixture = try ExportPackTests.Fixture()
    let plan = try PackPlan(store: fixture.store, entries: fixture.entries)
    let late = fixture.layers[2]
    let bytes = try Data(contentsOf: URL(fileURLWithPath: fixture.store.path(for: late.digest)))
    try FileManager.default.removeItem(atPath: fixture.store.path(for: late.digest))

    let board = ArrivalBoard(pending: [late.digest])
    let output = fixture.scratch.path + "/late.tar.gz"
    let store = fixture.store
    let packing = Self.startPack(plan, from: store, to: output, board: board)
    // The packer starts (writes oci-layout, index.json, metadata) and then waits.
    for _ in 0..<200 where !FileManager.default.fileExists(atPath: output + ".partial") {
      try await Task.sleep(for: .milliseconds(25))
    }
    try await Task.sleep(for: .milliseconds(100))
    #expect(FileManager.default.fileExists(atPath: output + ".partial"))
    #expect(!FileManager.default.fileExists(atPath: output))
    try fixture.store.ingest(bytes: Array(bytes))
    board.arrived(late.digest, fetched: true)
    let packed = try await packing.value.get()
    #expect(packed.verified)
    #expect(try ArtifactVerifier.verifyBlocking(path: output).isValid)

    let failing = ArrivalBoard(pending: [fixture.layers[0].digest])
    let second = fixture.scratch.path + "/failed.tar.gz"
    let stopped = Self.startPack(plan, from: store, to: second, board: failing)
    try await Task.sleep(for: .milliseconds(100))
    failing.fail(.registry(image: "docker.io/library/app:1", detail: "connection reset"))
    let result = await stopped.value
    #expect(throws: ExportError.self) { try result.get() }
    #expect("\(result)".contains("connection reset"))
    #expect(!FileManager.default.fileExists(atPath: second))
    #expect(!FileManager.default.fileExists(atPath: second + ".partial"))
  }
}
