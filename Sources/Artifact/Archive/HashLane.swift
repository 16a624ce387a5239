import OCI

/// SHA-256 of a byte stream computed on a second thread (`OffloadLane`), so the artifact
/// writer does not pay for hashing on its own core (on the 2-core bench machine pack is
/// CPU-bound once the disk writes overlap, and sha256 is the largest single cost in it).
/// `update` and `finalize` must be called from one thread at a time (the writer's).
final class HashLane {
  static let bufferSize = OffloadLane.defaultBufferSize

  private let hasher: Hasher
  private let lane: OffloadLane
  private var finished = false

  init() {
    let hasher = Hasher()
    self.hasher = hasher
    lane = OffloadLane(label: "kk.archive.sha256") { bytes in hasher.sha256.update(bytes) }
  }

  func update(_ bytes: UnsafeRawBufferPointer) {
    precondition(!finished, "HashLane updated after finalize()")
    lane.update(bytes)
  }

  /// Hashes what is left and returns the digest of everything given to `update`.
  func finalize() -> Digest {
    precondition(!finished, "HashLane finalized twice")
    finished = true
    lane.flush()
    return lane.sync { hasher.sha256.finalize() }
  }

  /// The hasher, used only on the lane's serial queue.
  private final class Hasher: @unchecked Sendable {
    let sha256 = SHA256Hasher()
  }
}
