import Blobstore
import Foundation
import OCI

/// The file half of an export: the catalog's plan (binaries, ISOs) fetched into the cache and
/// turned into file artifacts (SPEC §1.3), beside the images.
///
/// Files and images meet only in the store and in `index.json`: the packer treats a file's
/// artifact manifest like any image manifest, so a new kind of file needs no pack change.
struct FileWorkItems: Sendable {
  var store: BlobStore
  var parallel: Int
  var batch: BlobBatch?
  /// Deflate raw files as they download and keep only their members (`FileDownloader.forms`).
  var forms: CompressedForms?

  /// Fetches every planned file (already stored ones are not fetched again) and stores its
  /// artifact manifest; returns the `index.json` entries in plan order, the files' bytes and
  /// the files fetched now (their checksum was checked as they were stored, so the packer
  /// need not hash them again). Every file is tried; the first failure in plan order is
  /// thrown, with the count of the others.
  func fetch(
    _ files: [FilePlan], pool: TransferPool,
    events: @escaping @Sendable (ExportEvent) -> Void
  ) async throws(ExportError) -> (entries: [Descriptor], bytes: Int64, fetched: Set<Digest>) {
    guard !files.isEmpty else { return ([], 0, []) }
    var downloader = FileDownloader(store: store, pool: pool)
    downloader.batch = batch
    downloader.forms = forms
    downloader.onStall = { events(.warning($0)) }
    let fetched = FetchedDigests()
    downloader.onFetched = { fetched.insert($0) }
    let done = ByteCounter()
    events(.phaseStarted(.files, total: Int64(files.count)))
    let results = await downloader.fetchAll(files, parallel: parallel) { _, _ in
      events(.progress(.files, done: done.add(1)))
    }
    events(.phaseFinished(.files))
    var entries: [Descriptor] = []
    var bytes: Int64 = 0
    var failures: [(path: String, message: String)] = []
    for (file, result) in zip(files, results) {
      switch result {
      case .success(let stored):
        let artifact = FileArtifact(
          kind: file.kind == .iso ? .iso : .file, path: file.path, component: file.component,
          version: file.version, arch: file.arch.rawValue)
        entries.append(try artifact.storeManifest(layer: stored, in: store, batch: batch))
        bytes += stored.size
        if case .unverified(let field, let location) = file.checksum {
          events(.warning(Self.unverifiedWarning(file, field: field, at: location, stored)))
        }
      case .failure(let error):
        failures.append((file.path, "\(file.path): \(error)"))
      }
    }
    if let first = failures.first {
      let others = failures.dropFirst().map(\.path)
      let more =
        others.isEmpty ? "" : " (\(others.count) more file(s) failed: \(Self.list(others)))"
      throw .invalidInput(first.message + more)
    }
    return (entries, bytes, fetched.all)
  }
}

extension FileWorkItems {
  /// Up to 10 names, then `and N more`: enough to see what failed without a wall of text.
  static func list(_ names: [String], limit: Int = 10) -> String {
    let shown = names.prefix(limit).joined(separator: ", ")
    return names.count > limit ? "\(shown) and \(names.count - limit) more" : shown
  }

  /// `manifest.yaml:9:12: https://.../u.iso was not verified against a published checksum
  /// (...); to pin it, set spec.operatingSystems[0].repository.iso.checksum: <hex>`: the ISO
  /// was bundled as downloaded, and the sha256 to paste makes the next export check it.
  static func unverifiedWarning(
    _ file: FilePlan, field: String, at location: String?, _ stored: StoredBlob
  ) -> String {
    let place = location.map { "\($0): " } ?? ""
    return "\(place)\(file.origin) (\(file.path)) was not verified against a published "
      + "checksum (the manifest gives none); bundled as downloaded, sha256 "
      + "\(stored.digest.encoded). To pin it, set \(field): \(stored.digest.encoded)"
  }
}

/// Digests collected from concurrent downloads.
final class FetchedDigests: @unchecked Sendable {
  private let lock = NSLock()
  private var digests: Set<Digest> = []

  func insert(_ digest: Digest) {
    lock.withLock { _ = digests.insert(digest) }
  }

  var all: Set<Digest> { lock.withLock { digests } }
}
