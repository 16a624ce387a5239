import Foundation
import OCI

/// What a push did, for the summary and the exit code.
public struct PushReport: Sendable {
  public struct Failure: Sendable, CustomStringConvertible {
    /// Source reference.
    public var image: String
    public var reason: String
    public var description: String { "\(image): \(reason)" }
  }

  /// Target references (`host/repo:tag`) pushed completely.
  public var pushed: [String] = []
  public var failed: [Failure] = []
  public var blobsUploaded = 0
  public var blobsPresent = 0
  public var blobsMounted = 0
  public var manifestsPushed = 0
  /// Manifests the registry already had under that reference with the same digest (not sent).
  public var manifestsPresent = 0
  /// Blob bytes uploaded (mounted and present blobs send nothing).
  public var bytesSent: Int64 = 0
  public var seconds: Double = 0
  /// Set when an archive was not in SPEC order (or a blob needed re-reading): how many blobs
  /// were sent in a second pass over it.
  public var secondPassBlobs = 0

  public var succeeded: Bool { failed.isEmpty }
}

/// Thread-safe accumulation of blob outcomes while transfers run in parallel.
final class PushLedger: @unchecked Sendable {
  // @unchecked: every field is guarded by `lock`.
  private let lock = NSLock()
  private var report = PushReport()
  /// Blobs that failed for good, with the reason.
  private var blobFailures: [Digest: String] = [:]
  /// Blobs to send in a second pass over the archive.
  private var deferred: Set<Digest> = []
  private var done: Set<Digest> = []
  /// Without `--continue-on-error` the first failure stops further work.
  let stopOnFailure: Bool
  private var stopped = false
  private var interrupted = false

  init(stopOnFailure: Bool = false) { self.stopOnFailure = stopOnFailure }

  /// True once a failure should stop the remaining work.
  var isStopped: Bool { lock.withLock { stopped } }

  /// Stops the remaining work whatever `stopOnFailure` says: the push was interrupted.
  func interrupt() {
    lock.withLock {
      interrupted = true
      stopped = true
    }
  }

  /// True once ``interrupt()`` was called.
  var isInterrupted: Bool { lock.withLock { interrupted } }

  func record(_ result: BlobPushResult, size: Int64) {
    lock.withLock {
      switch result {
      case .existed: report.blobsPresent += 1
      case .mounted: report.blobsMounted += 1
      case .uploaded:
        report.blobsUploaded += 1
        report.bytesSent += size
      }
    }
  }

  func finished(_ digest: Digest) {
    lock.withLock {
      done.insert(digest)
      deferred.remove(digest)
    }
  }

  func fail(_ digest: Digest, _ reason: String) {
    lock.withLock {
      blobFailures[digest] = reason
      if stopOnFailure { stopped = true }
    }
  }

  func deferToSecondPass(_ digest: Digest) { _ = lock.withLock { deferred.insert(digest) } }

  var deferredBlobs: Set<Digest> { lock.withLock { deferred } }
  func isDone(_ digest: Digest) -> Bool { lock.withLock { done.contains(digest) } }
  func failure(of digest: Digest) -> String? { lock.withLock { blobFailures[digest] } }

  func update(_ change: (inout PushReport) -> Void) { lock.withLock { change(&report) } }

  func failImage(_ failure: PushReport.Failure) {
    lock.withLock {
      report.failed.append(failure)
      if stopOnFailure { stopped = true }
    }
  }
  var snapshot: PushReport { lock.withLock { report } }
}
