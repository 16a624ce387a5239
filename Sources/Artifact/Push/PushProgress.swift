import Foundation
import OCI

/// How far a push is: bytes read for uploads and blobs finished, against what the plan still
/// had to send once the registry said what it holds.
///
/// Why: a push of a 20 GB artifact runs for minutes, and its tags (the "pushed" lines) only go
/// out after every blob; without a count of bytes on the way an operator cannot tell a slow
/// push from a stuck one. Updated from the transfer threads, read by the command's printer.
public final class PushProgress: @unchecked Sendable {
  // @unchecked: every field is guarded by `lock`.
  private let lock = NSLock()
  private var current = Snapshot()

  public struct Snapshot: Sendable, Equatable {
    /// Bytes read from the sources of uploads (a retried upload reads its blob again).
    public var bytesRead: Int64 = 0
    /// Bytes of the blobs no repository had (each is uploaded once, then mounted).
    public var bytesToSend: Int64 = 0
    public var blobsDone = 0
    public var blobsTotal = 0
    /// False until the registry has been asked what it holds (totals unknown before).
    public var started = false
  }

  public init() {}

  public var snapshot: Snapshot { lock.withLock { current } }

  func start(bytesToSend: Int64, blobsTotal: Int, blobsDone: Int) {
    lock.withLock {
      current.bytesToSend = bytesToSend
      current.blobsTotal = blobsTotal
      current.blobsDone = blobsDone
      current.started = true
    }
  }

  func read(_ count: Int) { lock.withLock { current.bytesRead += Int64(count) } }

  func blobDone() { lock.withLock { current.blobsDone += 1 } }

  /// `source`, counting what is read from it.
  func counting(_ source: any ByteSource) -> any ByteSource { Counted(source, self) }

  private final class Counted: ByteSource, @unchecked Sendable {
    // @unchecked: read by one transfer at a time.
    private let base: any ByteSource
    private let progress: PushProgress

    init(_ base: any ByteSource, _ progress: PushProgress) {
      self.base = base
      self.progress = progress
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
      let n = try base.read(into: buffer)
      if n > 0 { progress.read(n) }
      return n
    }
  }
}

extension ImagePusher {
  /// Gives `progress` its totals, once ``learnPresence()`` knows what is missing.
  func startProgress() {
    guard let progress else { return }
    var bytes: Int64 = 0
    var done = 0
    for use in plan.blobUses {
      if ledger.isDone(use.blob.digest) {
        done += 1
      } else if use.repositories.allSatisfy({ presence.present(use.blob.digest, in: $0) != true }) {
        bytes += use.blob.size
      }
    }
    progress.start(bytesToSend: bytes, blobsTotal: plan.blobUses.count, blobsDone: done)
  }
}
