import Blobstore
import Foundation
import OCI
import Testing

@testable import Artifact
@testable import TestSupport

/// Downloads into a `.tar.gz` export's cache (`FileDownloader.forms`): a raw file of 1 MiB or
/// more is deflated as it arrives and only its gzip members are kept, exactly the members the
/// artifact writer makes, whatever happened to the connection; bytes that do not match leave
/// nothing behind; a compressed file is kept raw.
@Suite("Catalog downloads into compressed forms", .serialized)
struct CatalogFormDownloadTests {
  /// The members `ChunkedDeflater` makes of `bytes` (what the artifact writer emits).
  static func members(_ bytes: [UInt8]) throws -> [UInt8] {
    let deflater = ChunkedDeflater(parameters: .binaries, workers: 2, path: "test")
    var out: [UInt8] = []
    try bytes.withUnsafeBytes { raw in
      try deflater.write(raw) { out += $0 }
    }
    try deflater.finish { out += $0 }
    return out
  }

  static func rig() async throws -> (CatalogDownloadTests.Rig, FileDownloader, CompressedForms) {
    let rig = try await CatalogDownloadTests.Rig.make()
    let forms = CompressedForms(store: rig.store)
    var downloader = rig.downloader
    downloader.forms = forms
    return (rig, downloader, forms)
  }

  @Test(
    "plain, cut and resumed, restarted by a server ignoring Range, corrupt once: the members match",
    arguments: ["files", "cut", "norange", "corrupt-once"])
  func membersMatchTheWriters(mode: String) async throws {
    let (rig, downloader, forms) = try await Self.rig()
    defer { rig.scratch.remove() }
    let (digest, size) = try rig.server.digest("big.bin")
    let raw = [UInt8](try Data(contentsOf: URL(fileURLWithPath: rig.server.root + "/big.bin")))
    var fetched: [Digest] = []
    var tracking = downloader
    let seen = SeenDigests()
    tracking.onFetched = { seen.insert($0) }
    let blob = try await tracking.fetch(
      rig.file("\(rig.server.base)/\(mode)/big.bin", .table(digest)))
    fetched = Array(seen.all)
    #expect(blob == StoredBlob(digest: digest, size: size))
    #expect(fetched == [digest])
    // No raw blob; the form is the writer's members, recorded for the raw digest.
    #expect(!rig.store.contains(digest))
    #expect(forms.recordedSize(of: digest) == size)
    let form = try #require(
      forms.lookup(Descriptor(mediaType: MediaType.octetStream, digest: digest, size: size)))
    let stored = [UInt8](try Data(contentsOf: URL(fileURLWithPath: form.path)))
    #expect(try stored == Self.members(raw))
    #expect(rig.storeContents().ingest.isEmpty)
    // A second fetch finds the form: nothing is requested again.
    let before = rig.server.requests("/big.bin").count
    _ = try await downloader.fetch(rig.file("\(rig.server.base)/files/big.bin", .table(digest)))
    #expect(rig.server.requests("/big.bin").count == before)
  }

  @Test("bytes that never match: refused naming both digests; no form, no raw blob, no temp file")
  func corruptLeavesNothing() async throws {
    let (rig, downloader, forms) = try await Self.rig()
    defer { rig.scratch.remove() }
    let (digest, _) = try rig.server.digest("big.bin")
    do {
      _ = try await downloader.fetch(rig.file("\(rig.server.base)/corrupt/big.bin", .table(digest)))
      Issue.record("corrupt bytes were accepted")
    } catch {
      guard case .checksumMismatch(_, _, let expected, let actual, _, _, _) = error else {
        Issue.record("unexpected \(error)")
        return
      }
      #expect(expected == digest && actual != digest)
    }
    #expect(forms.recordedSize(of: digest) == nil)
    #expect(rig.storeContents().blobs.isEmpty, "\(rig.storeContents())")
    #expect(rig.storeContents().ingest.isEmpty, "\(rig.storeContents())")
  }

  @Test("a file that is already compressed (gzip magic) is kept raw, with no form")
  func compressedFileStaysRaw() async throws {
    let (rig, downloader, forms) = try await Self.rig()
    defer { rig.scratch.remove() }
    var bytes: [UInt8] = [0x1f, 0x8b, 8, 0]
    bytes += pseudoRandomBytes(2 << 20, seed: 5)
    try Data(bytes).write(to: URL(fileURLWithPath: rig.server.root + "/layer.tgz"))
    let digest = SHA256Hasher.digest(bytes)
    let blob = try await downloader.fetch(
      rig.file("\(rig.server.base)/files/layer.tgz", .table(digest)))
    #expect(blob.digest == digest)
    #expect(rig.store.size(of: digest) == Int64(bytes.count))
    #expect(forms.recordedSize(of: digest) == nil)
  }
}

/// Digests reported from concurrent downloads.
final class SeenDigests: @unchecked Sendable {
  private let lock = NSLock()
  private var digests: Set<Digest> = []
  func insert(_ digest: Digest) { lock.withLock { _ = digests.insert(digest) } }
  var all: Set<Digest> { lock.withLock { digests } }
}
