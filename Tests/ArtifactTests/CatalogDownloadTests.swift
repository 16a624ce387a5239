import Blobstore
import Foundation
import OCI
import Testing

@testable import Artifact
@testable import TestSupport

/// testdata/catalog/fileserver.py on a free port, with its request log.
final class CatalogFileServer: @unchecked Sendable {
  let root: String
  let logPath: String
  let port: Int
  private let process: GuardedProcess

  init(scratch: TemporaryDirectory) async throws {
    root = scratch.path + "/www"
    logPath = scratch.path + "/fileserver.log"
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    process = try GuardedProcess(
      name: "fileserver",
      command: [TestPaths.python, TestPaths.testdata + "/catalog/fileserver.py", root],
      logPath: logPath)
    do {
      port = try await loggedNumber(process, logPath: logPath)
    } catch {
      await process.stop()
      throw error
    }
  }

  var base: String { "http://127.0.0.1:\(port)" }

  /// Logged requests for paths ending in `suffix`: (path, Range header or "-").
  func requests(_ suffix: String) -> [(path: String, range: String)] {
    let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    return log.split(separator: "\n").compactMap { line in
      let parts = line.split(separator: " ")
      guard parts.count == 3, parts[0] == "REQ", parts[1].hasSuffix(suffix) else { return nil }
      return (String(parts[1]), String(parts[2].dropFirst("range=".count)))
    }
  }

  func digest(_ relative: String) throws -> (Digest, Int64) {
    let data = try Data(contentsOf: URL(fileURLWithPath: root + "/" + relative))
    return (SHA256Hasher.digest(data), Int64(data.count))
  }

  func stop() async { await process.stop() }
}

/// Names reported by a progress callback, from any task.
final class FinishedFiles: @unchecked Sendable {
  private let lock = NSLock()
  private var list: [String] = []
  func add(_ name: String) { lock.withLock { list.append(name) } }
  var names: [String] { lock.withLock { list } }
}

@Suite("Catalog downloads", .serialized)
struct CatalogDownloadTests {
  /// A scratch store, a pool and a running file server for one test.
  struct Rig {
    let scratch: TemporaryDirectory
    let server: CatalogFileServer
    let store: BlobStore
    let downloader: FileDownloader

    static func make() async throws -> Rig {
      let scratch = try TemporaryDirectory(prefix: "kk-catalog-dl")
      let server = try await CatalogFileServer(scratch: scratch)
      let store = try BlobStore.create(at: scratch.path + "/store")
      let pool = TransferPool(threads: 2, options: TransportOptions(stallTimeout: 10))
      let downloader = FileDownloader(
        store: store, pool: pool, retries: 3, retryDelay: .milliseconds(20))
      return Rig(scratch: scratch, server: server, store: store, downloader: downloader)
    }

    func file(_ url: String, _ checksum: FilePlan.Checksum, extract: String? = nil) -> FilePlan {
      FilePlan(
        kind: .file, component: "test", version: "v1", arch: .amd64, origin: .url(url),
        checksum: checksum, path: "test/v1/amd64/file", fileName: "file", extract: extract,
        alreadyCompressed: false)
    }

    /// Every stored blob and every leftover ingest file.
    func storeContents() -> (blobs: [String], ingest: [String]) {
      let fm = FileManager.default
      return (
        (try? fm.contentsOfDirectory(atPath: store.root + "/blobs/sha256")) ?? [],
        (try? fm.contentsOfDirectory(atPath: store.ingestDirectory)) ?? []
      )
    }
  }

  @Test("a plain download streams into the store under its digest; a second fetch is free")
  func plain() async throws {
    let rig = try await Rig.make()
    // The server stops when its guard's pipe closes (rig released).
    defer { rig.scratch.remove() }
    let (digest, size) = try rig.server.digest("big.bin")
    let blob = try await rig.downloader.fetch(
      rig.file("\(rig.server.base)/files/big.bin", .table(digest)))
    #expect(blob == StoredBlob(digest: digest, size: size))
    #expect(rig.store.size(of: digest) == size)
    _ = try await rig.downloader.fetch(rig.file("\(rig.server.base)/files/big.bin", .table(digest)))
    #expect(rig.server.requests("/big.bin").count == 1)
    #expect(rig.storeContents().ingest.isEmpty)
  }

  @Test("a cut connection resumes with Range from the byte reached")
  func resume() async throws {
    let rig = try await Rig.make()
    // The server stops when its guard's pipe closes (rig released).
    defer { rig.scratch.remove() }
    let (digest, size) = try rig.server.digest("big.bin")
    let blob = try await rig.downloader.fetch(
      rig.file("\(rig.server.base)/cut/big.bin", .table(digest)))
    #expect(blob.digest == digest && rig.store.size(of: digest) == size)
    let requests = rig.server.requests("/big.bin")
    #expect(requests.count == 2)
    #expect(requests.first?.range == "-")
    let resumedAt = try #require(requests.last?.range.split(separator: "=").last?.dropLast())
    #expect(Int64(resumedAt).map { $0 > 0 && $0 <= size / 2 } == true)
  }

  @Test("a server that ignores Range restarts the file from byte 0, still verified")
  func ignoredRange() async throws {
    let rig = try await Rig.make()
    // The server stops when its guard's pipe closes (rig released).
    defer { rig.scratch.remove() }
    let (digest, size) = try rig.server.digest("big.bin")
    let blob = try await rig.downloader.fetch(
      rig.file("\(rig.server.base)/norange/big.bin", .table(digest)))
    #expect(blob == StoredBlob(digest: digest, size: size))
    #expect(rig.server.requests("/big.bin").count == 2)
  }

  @Test("a checksum mismatch is retried once from scratch")
  func mismatchOnce() async throws {
    let rig = try await Rig.make()
    // The server stops when its guard's pipe closes (rig released).
    defer { rig.scratch.remove() }
    let (digest, _) = try rig.server.digest("big.bin")
    let blob = try await rig.downloader.fetch(
      rig.file("\(rig.server.base)/corrupt-once/big.bin", .table(digest)))
    #expect(blob.digest == digest)
    #expect(rig.server.requests("/big.bin").map(\.range) == ["-", "-"])
    #expect(rig.storeContents().blobs == [digest.encoded])
  }

  @Test("bytes that never match are refused and never reach the store")
  func mismatchTwice() async throws {
    let rig = try await Rig.make()
    // The server stops when its guard's pipe closes (rig released).
    defer { rig.scratch.remove() }
    let (digest, _) = try rig.server.digest("big.bin")
    let url = "\(rig.server.base)/corrupt/big.bin"
    do {
      var file = rig.file(url, .table(digest))
      file.pinField = "spec.kubernetesDistributions[0].sha256.kubeadm.amd64"
      _ = try await rig.downloader.fetch(file)
      Issue.record("corrupt bytes were accepted")
    } catch {
      guard case .checksumMismatch(let failedURL, _, let expected, let actual, _, _, _) = error
      else {
        Issue.record("unexpected \(error)")
        return
      }
      #expect(failedURL == url && expected == digest && actual != digest)
      #expect(error.description.contains("nothing was stored"))
      // "Pin its sha256 in the manifest" said where: the field, and the value to set.
      #expect(
        error.description.hasSuffix(
          "If the upstream file legitimately changed, set "
            + "spec.kubernetesDistributions[0].sha256.kubeadm.amd64: \(actual.encoded) in the "
            + "manifest"), "\(error)")
      // The size known is the received one, not the expected file's: printed beside the
      // received digest, not as "expected <hex> (N bytes)".
      #expect(error.description.contains("expected \(digest.encoded), on two downloads"))
    }
    #expect(rig.server.requests("/big.bin").count == 2)
    #expect(rig.storeContents().blobs.isEmpty)
    #expect(rig.storeContents().ingest.isEmpty)
  }

  @Test("a 404 is refused at once with the URL; a 503 is retried")
  func httpStatuses() async throws {
    let rig = try await Rig.make()
    defer { rig.scratch.remove() }
    let (digest, size) = try rig.server.digest("big.bin")
    do {
      _ = try await rig.downloader.fetch(rig.file("\(rig.server.base)/files/nope", .table(digest)))
      Issue.record("a 404 was accepted")
    } catch {
      guard case .http(let url, 404) = error else {
        Issue.record("unexpected \(error)")
        return
      }
      #expect(url == "\(rig.server.base)/files/nope")
    }
    #expect(rig.server.requests("/nope").count == 1)
    let blob = try await rig.downloader.fetch(
      rig.file("\(rig.server.base)/busy-once/big.bin", .table(digest)))
    #expect(blob == StoredBlob(digest: digest, size: size))
    #expect(rig.server.requests("/big.bin").count == 2)
  }

  @Test("a body without Content-Length is verified before it is linked into the store")
  func noContentLength() async throws {
    let rig = try await Rig.make()
    defer { rig.scratch.remove() }
    let (digest, size) = try rig.server.digest("big.bin")
    let blob = try await rig.downloader.fetch(
      rig.file("\(rig.server.base)/nolength/big.bin", .table(digest)))
    #expect(blob == StoredBlob(digest: digest, size: size))
    #expect(rig.storeContents().ingest.isEmpty)
    // The same body checked against another digest: fetched twice, refused, not stored.
    let other = try Digest(parsing: "sha256:" + String(repeating: "2", count: 64))
    await #expect(throws: DownloadError.self) {
      try await rig.downloader.fetch(
        rig.file("\(rig.server.base)/nolength/big.bin", .table(other)))
    }
    #expect(rig.server.requests("/big.bin").count == 3)
    #expect(rig.storeContents().blobs == [digest.encoded])
    #expect(rig.storeContents().ingest.isEmpty)
  }

  @Test("a plan behind a mirror: redirects, upstream .sha256 and helm extraction")
  func planThroughMirror() async throws {
    let rig = try await Rig.make()
    // The server stops when its guard's pipe closes (rig released).
    defer { rig.scratch.remove() }
    let helm = try rig.server.digest("helm.expected")
    // Our stand-in helm replaces the real one's digest; the rest of the table is KubeKey's.
    var table = ChecksumTable.embedded
    table.set(helm.0, id: "helm", arch: .amd64, version: "v3.18.5")
    let manifest = KubeKeyManifest(
      name: "t", arches: [.amd64],
      kubernetesDistributions: [KubernetesDistribution(type: .kubernetes, version: v199)],
      components: Components(helm: Component(version: "v3.18.5")))
    // The mirror path goes through the server's redirect: every file arrives after a 302.
    let options = try CatalogOptions(mirror: "\(rig.server.base)/redirect")
    let plan = try Catalog(options: options, table: table).plan(manifest)
    let kubeadm = try #require(plan.file("kubeadm"))
    let helmFile = try #require(plan.file("helm"))
    #expect(kubeadm.checksum == .upstreamFile(url: "\(kubeadm.url ?? "").sha256"))
    #expect(helmFile.extract == "linux-amd64/helm")

    let stored = try await rig.downloader.fetch(kubeadm)
    #expect(
      stored.digest
        == (try rig.server.digest("dl.k8s.io/release/\(v199)/bin/linux/amd64/kubeadm").0))
    let extracted = try await rig.downloader.fetch(helmFile)
    #expect(extracted == StoredBlob(digest: helm.0, size: helm.1))
    #expect(rig.server.requests("/kubeadm").map(\.path).contains { $0.hasPrefix("/files/") })
    #expect(rig.storeContents().ingest.isEmpty)

    // The wrong member digest: the tarball is fetched twice, then refused; nothing stored.
    var wrong = helmFile
    wrong.checksum = .table(try Digest(parsing: "sha256:" + String(repeating: "0", count: 64)))
    await #expect(throws: DownloadError.self) { try await rig.downloader.fetch(wrong) }
    #expect(rig.storeContents().blobs.count == 2)
    #expect(rig.storeContents().ingest.isEmpty)
  }

  let v199 = "v1.99.0"

  @Test("fetchAll: results in plan order, one failure does not stop the others")
  func batch() async throws {
    let rig = try await Rig.make()
    defer { rig.scratch.remove() }
    let (digest, _) = try rig.server.digest("big.bin")
    let kubeadm = "dl.k8s.io/release/\(v199)/bin/linux/amd64/kubeadm"
    let base = rig.server.base
    let files = [
      rig.file("\(base)/cut/big.bin", .table(digest)),
      rig.file("\(base)/files/missing.bin", .table(digest)),
      rig.file(
        "\(base)/redirect/\(kubeadm)", .upstreamFile(url: "\(base)/files/\(kubeadm).sha256")),
    ]
    let finished = FinishedFiles()
    let results = await rig.downloader.fetchAll(files, parallel: 2) { file, _ in
      finished.add(file.origin.description)
    }
    #expect(results.count == 3)
    #expect((try? results[0].get())?.digest == digest)
    guard case .failure(.http(let url, 404)) = results[1] else {
      Issue.record("expected a 404 for missing.bin, got \(results[1])")
      return
    }
    #expect(url.hasSuffix("/files/missing.bin"))
    #expect((try? results[2].get())?.digest == (try rig.server.digest(kubeadm).0))
    #expect(Set(finished.names) == Set(files.map(\.origin.description)))
  }

  @Test("local files (ISOs) are hashed as read, and a pinned checksum is enforced")
  func localFiles() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-catalog-local")
    defer { scratch.remove() }
    let store = try BlobStore.create(at: scratch.path + "/store")
    let downloader = FileDownloader(store: store, pool: TransferPool(threads: 1))
    let iso = scratch.path + "/os.iso"
    let bytes = Array("not really an iso\n".utf8)
    #expect(FileManager.default.createFile(atPath: iso, contents: Data(bytes)))
    var file = FilePlan(
      kind: .iso, component: "ubuntu", version: "22.04", arch: .amd64, origin: .localFile(iso),
      checksum: .localFile, path: "repository/amd64/ubuntu/22.04/ubuntu-22.04-amd64.iso",
      fileName: "ubuntu-22.04-amd64.iso", alreadyCompressed: true)
    let stored = try await downloader.fetch(file)
    #expect(stored == StoredBlob(digest: SHA256Hasher.digest(bytes), size: Int64(bytes.count)))
    file.checksum = .manifest(
      try Digest(parsing: "sha256:" + String(repeating: "1", count: 64)), field: "f")
    await #expect(throws: DownloadError.self) { try await downloader.fetch(file) }
  }

  @Test("checksum files: bare hex or sha256sum lines; anything else is refused")
  func checksumFiles() throws {
    let hex = String(repeating: "ab", count: 32)
    #expect(try FileDownloader.parseChecksumFile(Array("\(hex)\n".utf8), url: "u").encoded == hex)
    #expect(
      try FileDownloader.parseChecksumFile(Array(" \(hex.uppercased())  kubeadm\n".utf8), url: "u")
        .encoded == hex)
    #expect(throws: DownloadError.self) {
      try FileDownloader.parseChecksumFile(Array("<html>404</html>".utf8), url: "u")
    }
    #expect(
      ResumableGet.resolve("../files/a/b", against: "http://h:1/redirect/a/b")
        == "http://h:1/redirect/a/../files/a/b")
    #expect(ResumableGet.resolve("/x", against: "https://h/a/b?q") == "https://h/x")
    #expect(ResumableGet.resolve("https://o/y", against: "https://h/a") == "https://o/y")
  }
}
