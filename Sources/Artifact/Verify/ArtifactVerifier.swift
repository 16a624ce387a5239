import Blobstore
import Foundation
import OCI

/// `kk artifact verify`: checks an artifact, whether it is an OCI layout directory or an
/// archive of one (tar, tar.gz or tar.zst, recognised by magic bytes).
///
/// An archive is verified in ONE streaming pass with nothing unpacked to disk: entries are
/// hashed on two worker threads while they stream past (`ArchiveScanner`), small JSON blobs
/// are kept for the graph walk, and the facts are checked by the same `LayoutVerifier` that
/// checks a directory, so both give the same report for the same layout. Any entry order is
/// accepted (SPEC order, or `tar czf` of a skopeo layout).
public enum ArtifactVerifier {
  /// Verifies `path`. Blocking work runs on its own threads, off the Swift concurrency pool.
  ///
  /// - Throws: `ArchiveError` when the archive itself is unreadable or unsafe (truncated,
  ///   links, `..`), `BlobstoreError` when a directory is not an OCI layout. Problems with
  ///   the content (missing, corrupt, unreferenced blobs, a bad index) are in the report.
  public static func verify(path: String) async throws -> VerifyReport {
    try await withCheckedThrowingContinuation { continuation in
      let thread = Thread { continuation.resume(with: Result { try verifyBlocking(path: path) }) }
      thread.name = "kk-verify"
      thread.start()
    }
  }

  /// `verify(path:)` on the calling thread.
  public static func verifyBlocking(path: String) throws -> VerifyReport {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory),
      isDirectory.boolValue
    {
      return try BlobStore.open(at: path).verify(threads: 2)
    }
    return LayoutVerifier.verify(try snapshot(archive: path))
  }

  /// Reads an archive once into the facts `LayoutVerifier` checks: the bytes of `oci-layout`
  /// and `index.json`, and every blob's size, sha256 and (for small JSON) content.
  /// With `hashing: false` (inspect) blobs are only counted, and their digests are not checked.
  public static func snapshot(archive path: String, workers: Int = 2, hashing: Bool = true)
    throws(ArchiveError)
    -> LayoutSnapshot
  {
    if let map = try ArchiveMap.map(path: path),
      let snapshot = try snapshot(map, workers: workers, hashing: hashing)
    {
      return snapshot
    }
    var strays: [String] = []
    let result = try ArchiveScanner.scan(path: path, workers: workers) {
      name, _ -> BlobInspector? in
      switch LayoutSnapshot.classify(path: name) {
      case .ociLayout, .index: return BlobInspector(hashing: false, keepAnything: true)
      case .blob(let digest): return BlobInspector(hashing: hashing && digest.algorithm == .sha256)
      case .strayBlob:
        strays.append(name)
        return nil
      case .other: return nil
      }
    }
    var snapshot = LayoutSnapshot(source: path, strayFiles: strays)
    for entry in result.entries {
      snapshot.record(path: entry.name, facts: entry.sink.finish())
    }
    return snapshot
  }

  /// The same facts from a mapped archive (`ArchiveMap`): small entries were read while
  /// mapping, the others are read by offset on `workers` threads at once (a stored layer is a
  /// copy, a deflated chunk of a binary is inflated by its own worker), so no single
  /// decompressing reader bounds the pass; without hashing (inspect) a large blob is not read
  /// at all, its size is in the map. Nil when an entry is only readable from the stream.
  static func snapshot(_ map: ArchiveMap, workers: Int, hashing: Bool) throws(ArchiveError)
    -> LayoutSnapshot?
  {
    var snapshot = LayoutSnapshot(source: map.path)
    var facts: [String: BlobFacts] = [:]
    var jobs: [(name: String, entry: ArchiveMap.Entry, inspector: BlobInspector)] = []
    for name in map.names {
      guard let entry = map.entries[name] else { continue }
      let inspector: BlobInspector
      switch LayoutSnapshot.classify(path: name) {
      case .ociLayout, .index: inspector = BlobInspector(hashing: false, keepAnything: true)
      case .blob(let digest):
        inspector = BlobInspector(hashing: hashing && digest.algorithm == .sha256)
      case .strayBlob:
        snapshot.record(
          path: name, facts: BlobFacts(size: entry.size, actualDigest: nil, content: nil))
        continue
      case .other: continue
      }
      switch entry.placement {
      case .inline(let bytes):
        bytes.withUnsafeBytes { inspector.write($0) }
        facts[name] = inspector.finish()
      case .members, .contiguous:
        if !hashing && entry.size > Int64(LayoutSnapshot.contentLimit) {
          facts[name] = BlobFacts(size: entry.size, actualDigest: nil, content: nil)
        } else {
          jobs.append((name, entry, inspector))
        }
      case .unavailable:
        return nil
      }
    }
    let state = MappedScan(jobs.count)
    let jobList = jobs
    DispatchQueue.concurrentPerform(iterations: max(1, min(workers, jobList.count))) { _ in
      let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
      defer { buffer.deallocate() }
      while let index = state.take() {
        let job = jobList[index]
        do {
          // The sha256 is the check here: a damaged member is reported as the blob's wrong
          // digest (or size), naming the blob, not as an unreadable archive.
          let source = try ArchiveEntrySource(job.entry, in: map, checksCRC: false)
          while true {
            let n = try source.read(into: buffer)
            if n == 0 { break }
            job.inspector.write(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
          }
        } catch ArchiveError.corrupt {
          // A deflated chunk that does not inflate: the blob stops there (short, wrong digest).
        } catch let error as ArchiveError {
          state.fail(error)
        } catch {
          state.fail(.corrupt(path: map.path, entry: job.name, detail: "\(error)"))
        }
        state.record(job.name, job.inspector.finish())
      }
    }
    let (results, failure) = state.outcome
    if let failure { throw failure }
    facts.merge(results) { first, _ in first }
    for name in map.names {
      if let found = facts[name] { snapshot.record(path: name, facts: found) }
    }
    return snapshot
  }
}

/// The shared state of a mapped verify pass: the next job, the facts found, the first error.
private final class MappedScan: @unchecked Sendable {
  // @unchecked: every field is guarded by `lock`.
  private let lock = NSLock()
  private let count: Int
  private var next = 0
  private var facts: [String: BlobFacts] = [:]
  private var failure: ArchiveError?

  init(_ count: Int) { self.count = count }

  /// The next job's index; nil when none is left or a worker failed.
  func take() -> Int? {
    lock.withLock {
      guard failure == nil, next < count else { return nil }
      defer { next += 1 }
      return next
    }
  }

  func record(_ name: String, _ found: BlobFacts) { lock.withLock { facts[name] = found } }
  func fail(_ error: ArchiveError) { lock.withLock { failure = failure ?? error } }
  var outcome: ([String: BlobFacts], ArchiveError?) { lock.withLock { (facts, failure) } }
}
