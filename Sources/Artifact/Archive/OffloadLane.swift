import Dispatch

/// Hands a byte stream to a second thread in fixed memory: bytes are copied into a ring of
/// buffers, and a full (or flushed) buffer is given to `consume` on a serial queue while the
/// next fills.
///
/// Why: on the 2-core bench machine packing is CPU-bound once disk writes overlap, and
/// sha256 is the largest single cost; running it beside the writer instead of inline is what
/// `BlobFactsLane` (each blob's digest) uses. Memory
/// is `bufferCount` x `bufferSize` whatever the stream's length. `update`, `flush` and `enqueue` must be
/// called from one thread at a time (the writer's); work runs in the order it was handed over.
final class OffloadLane {
  static let defaultBufferSize = 2 << 20
  /// Buffers in the ring. Four half-size buffers rather than two large ones: pack runs three
  /// busy threads on two cores, and a consumer descheduled for a time slice must not stall
  /// the writer as soon as one buffer is full.
  static let bufferCount = 4

  private let queue: DispatchQueue
  /// One permit per buffer free to fill; taken when filling starts, given back when `consume`
  /// is done with it. The queue is FIFO, so the first permit back is always that of the
  /// older buffer, the one filled next.
  private let permits = DispatchSemaphore(value: OffloadLane.bufferCount)
  private let buffers: [UnsafeMutableRawBufferPointer]
  private let consume: @Sendable (UnsafeRawBufferPointer) -> Void
  private var current = 0
  private var used = 0

  /// - Parameter consume: runs on the lane's queue with each buffer's bytes, which are valid
  ///   only during the call.
  init(
    label: String, bufferSize: Int = OffloadLane.defaultBufferSize,
    consume: @escaping @Sendable (UnsafeRawBufferPointer) -> Void
  ) {
    queue = DispatchQueue(label: label)
    self.consume = consume
    buffers = (0..<Self.bufferCount).map { _ in .allocate(byteCount: bufferSize, alignment: 64) }
  }

  deinit {
    queue.sync {}
    // A partly filled buffer still holds its permit; libdispatch traps when a semaphore is
    // freed below its initial value (an abandoned archive stops mid-buffer).
    if used > 0 { permits.signal() }
    for buffer in buffers { buffer.deallocate() }
  }

  /// Copies `bytes` into the buffers, handing each full one over.
  func update(_ bytes: UnsafeRawBufferPointer) {
    var offset = 0
    while offset < bytes.count {
      if used == 0 { permits.wait() }
      let buffer = buffers[current]
      let count = min(buffer.count - used, bytes.count - offset)
      UnsafeMutableRawBufferPointer(rebasing: buffer[used..<used + count])
        .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count]))
      used += count
      offset += count
      if used == buffer.count { flush() }
    }
  }

  /// Hands over the partly filled buffer, so that work enqueued next sees all bytes so far.
  func flush() {
    guard used > 0 else { return }
    let job = Job(
      consume: consume, bytes: UnsafeRawBufferPointer(rebasing: buffers[current][..<used]),
      permits: permits)
    queue.async { job.run() }
    current = (current + 1) % buffers.count
    used = 0
  }

  /// Runs `work` on the queue after everything handed over so far (call `flush()` first to
  /// include a partly filled buffer), without waiting.
  func enqueue(_ work: @escaping @Sendable () -> Void) {
    queue.async(execute: work)
  }

  /// Waits for everything handed over so far, then runs `work` on the queue.
  func sync<T>(_ work: () -> T) -> T {
    queue.sync(execute: work)
  }

  /// One buffer's worth of work. The buffer stays untouched until `permits` is signalled.
  private struct Job: @unchecked Sendable {
    let consume: @Sendable (UnsafeRawBufferPointer) -> Void
    let bytes: UnsafeRawBufferPointer
    let permits: DispatchSemaphore

    func run() {
      consume(bytes)
      permits.signal()
    }
  }
}
