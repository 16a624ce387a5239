import Blobstore
import Foundation
import OCI
import TestSupport
import Testing

@testable import Artifact

/// A download server that stalls: the file is retried once, with a line saying so, instead
/// of attempt after silent attempt of one low-speed window each (QA: ~7 silent minutes).
@Suite(.serialized) struct CatalogStallTests {
  @Test func aStalledFileIsRetriedOnceAndTheRetryIsSaid() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-catalog-stall")
    defer { scratch.remove() }
    let root = scratch.path + "/root"
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    let bytes = Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
    try bytes.write(to: URL(fileURLWithPath: root + "/kubeadm"))
    try await withScriptServer("slowfiles.py", ["--root", root], logDirectory: scratch.path) {
      server in
      let store = try BlobStore.create(at: scratch.path + "/store")
      // A 1 s low-speed window stands in for the real 60 s.
      let pool = TransferPool(threads: 1, options: TransportOptions(stallTimeout: 1))
      var downloader = FileDownloader(
        store: store, pool: pool, retries: 5, retryDelay: .milliseconds(10))
      let notices = NoticeLog()
      downloader.onStall = { notices.append($0) }
      let file = FilePlan(
        kind: .file, component: "kubeadm", version: "v1", arch: .amd64,
        origin: .url("http://\(server.host)/hang/kubeadm"),
        checksum: .manifest(SHA256Hasher.digest(bytes), field: "sha256"),
        path: "kube/v1/amd64/kubeadm", fileName: "kubeadm", extract: nil,
        alreadyCompressed: false)
      let started = Date()
      var attempts: Int?
      do {
        _ = try await downloader.fetch(file)
      } catch let error as DownloadError {
        if case .transport(_, let count, _) = error { attempts = count }
        #expect(error.description.contains("http://\(server.host)/hang/kubeadm"), "\(error)")
      }
      #expect(attempts == 2)
      // curl's speed is averaged over ~5 s, so an attempt takes ~6 s here: 2 attempts, not 6.
      #expect(Date().timeIntervalSince(started) < 25)
      #expect(server.lines(startingWith: "GET hang /kubeadm").count == 2, "\(server.log)")
      let said = notices.lines
      #expect(said.count == 1, "\(said)")
      #expect(said.first?.hasPrefix("files: no progress from \(server.host) (") == true, "\(said)")
      #expect(said.first?.hasSuffix("retrying (2/2)") == true, "\(said)")
    }
  }
}

/// The lines a downloader said, from its transfer threads.
final class NoticeLog: @unchecked Sendable {
  private let lock = NSLock()
  private var stored: [String] = []

  func append(_ line: String) { lock.withLock { stored.append(line) } }
  var lines: [String] { lock.withLock { stored } }
}
