import Dispatch
import OCI

/// SHA-256 of a byte stream computed on a second thread, so the artifact writer does not pay
/// for hashing on its own core (on the 2-core bench machine pack is CPU-bound once the disk
/// writes overlap, and sha256 is the largest single cost in it).
///
/// Bytes are copied into one of two 4 MiB buffers; a full buffer is hashed on a serial queue
/// while the other fills. Memory is fixed (8 MiB), whatever the stream's length. `update` and
/// `finalize` must be called from one thread at a time (the writer's).
final class HashLane {
  static let bufferSize = 4 << 20

  private let hasher = SHA256Hasher()
  private let queue = DispatchQueue(label: "kk.archive.sha256")
  /// One permit per buffer that is free to fill; taken when filling starts, given back when
  /// the hash of that buffer is done. The queue is FIFO, so the first permit back is always
  /// that of the older buffer, the one filled next.
  private let permits = DispatchSemaphore(value: 2)
  private let buffers: [UnsafeMutableRawBufferPointer]
  private var current = 0
  private var used = 0
  private var finished = false

  init() {
    buffers = (0..<2).map { _ in .allocate(byteCount: Self.bufferSize, alignment: 64) }
  }

  deinit {
    queue.sync {}
    for buffer in buffers { buffer.deallocate() }
  }

  func update(_ bytes: UnsafeRawBufferPointer) {
    precondition(!finished, "HashLane updated after finalize()")
    var offset = 0
    while offset < bytes.count {
      if used == 0 { permits.wait() }
      let count = min(Self.bufferSize - used, bytes.count - offset)
      UnsafeMutableRawBufferPointer(rebasing: buffers[current][used..<used + count])
        .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count]))
      used += count
      offset += count
      if used == Self.bufferSize { submit() }
    }
  }

  /// Hashes what is left and returns the digest of everything given to `update`.
  func finalize() -> Digest {
    precondition(!finished, "HashLane finalized twice")
    finished = true
    if used > 0 { submit() }
    let job = Job(hasher: hasher, bytes: UnsafeRawBufferPointer(start: nil, count: 0), permits: nil)
    return queue.sync { job.hasher.finalize() }
  }

  private func submit() {
    let job = Job(
      hasher: hasher, bytes: UnsafeRawBufferPointer(rebasing: buffers[current][..<used]),
      permits: permits)
    queue.async { job.run() }
    current ^= 1
    used = 0
  }

  /// One buffer's worth of hashing, handed to the queue. The buffer stays untouched until
  /// `permits` is signalled, and the hasher is only used on the serial queue.
  private struct Job: @unchecked Sendable {
    let hasher: SHA256Hasher
    let bytes: UnsafeRawBufferPointer
    let permits: DispatchSemaphore?

    func run() {
      hasher.update(bytes)
      permits?.signal()
    }
  }
}
