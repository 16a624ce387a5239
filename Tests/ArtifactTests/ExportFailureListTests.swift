import Blobstore
import Foundation
import OCI
import Testing

@testable import Artifact
@testable import TestSupport

/// When several files fail, the error names the others too: "(and 2 more file(s) failed)"
/// left the user to rerun and find out one by one.
@Suite(.serialized) struct ExportFailureListTests {
  @Test func theOtherFailedFilesAreNamed() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-export-fail-list")
    defer { scratch.remove() }
    let server = try await CatalogFileServer(scratch: scratch)
    let store = try BlobStore.create(at: scratch.path + "/store")
    let digest = SHA256Hasher.digest(Data("x".utf8))
    let files = (1...3).map { n in
      FilePlan(
        kind: .file, component: "c\(n)", version: "v1", arch: .amd64,
        origin: .url("\(server.base)/files/missing-\(n)"), checksum: .table(digest),
        path: "c\(n)/v1/amd64/f", fileName: "f", alreadyCompressed: false)
    }
    let pool = TransferPool(threads: 2)
    do {
      _ = try await FileWorkItems(store: store, parallel: 2, batch: nil, forms: nil)
        .fetch(files, pool: pool, events: { _ in })
      Issue.record("missing files were accepted")
    } catch {
      let text = "\(error)"
      #expect(text.contains("c1/v1/amd64/f: GET "), "\(text)")
      #expect(
        text.hasSuffix(" (2 more file(s) failed: c2/v1/amd64/f, c3/v1/amd64/f)"), "\(text)")
    }
    await server.stop()
  }

  @Test func longListsAreCut() {
    let names = (1...12).map { "n\($0)" }
    #expect(
      FileWorkItems.list(names) == "n1, n2, n3, n4, n5, n6, n7, n8, n9, n10 and 2 more")
    #expect(FileWorkItems.list(["a", "b"]) == "a, b")
  }
}
