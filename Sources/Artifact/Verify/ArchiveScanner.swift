import Foundation
import OCI

/// Streams every regular-file entry of an archive into per-entry sinks, hashing on worker
/// threads while the calling thread reads and decompresses: one pass, nothing unpacked.
///
/// An archive kk can map (`ArchiveMap`: a `.tar.gz` kk wrote, a plain tar) is not streamed:
/// its entries are read by offset, `workers` at once, each worker reading (and, for a deflated
/// chunk of a binary, inflating) the entry it feeds, so no single decompressing reader bounds
/// the pass (a 1 GB artifact with 660 MB of binaries: verify 2.6 s -> 1.1 s, import likewise).
/// A stored member's crc32 is not compared there: the sinks hash every byte, and a damaged
/// member shows as its blob's wrong digest, as it does when streamed.
///
/// SHA-256 of one blob is inherently sequential, so parallelism is across entries: each entry
/// is given whole to the least-loaded worker, and its 1 MiB chunks travel through that
/// worker's bounded queue of reusable buffers. Memory is `workers × buffersPerWorker` MiB
/// whatever the archive holds, and the reader never waits while a worker could take a chunk.
public enum ArchiveScanner {
  /// A finished entry: its canonical name and the sink that saw all of its bytes.
  public struct Scanned<Sink: ByteSink> {
    public let name: String
    public let size: Int64
    public let sink: Sink
  }

  public static let chunkSize = 1 << 20

  /// Reads `path` once, giving each entry for which `sinkFor` returns a sink all of its bytes,
  /// in order, on a worker thread. Entries for which it returns nil are skipped unread.
  ///
  /// - Returns: the sinks in archive order, after every byte has been written to them.
  /// - Throws: `ArchiveError` for an unreadable or unsafe archive (naming the entry), or
  ///   `.consumerFailed` when a sink throws; workers are stopped before it returns.
  public static func scan<Sink: ByteSink>(
    path: String, workers: Int = 2, buffersPerWorker: Int = 4,
    sinkFor: (_ name: String, _ size: Int64) -> Sink?
  ) throws(ArchiveError) -> (compression: ArchiveCompression?, entries: [Scanned<Sink>]) {
    if let map = try ArchiveMap.map(path: path), map.readsEveryEntry {
      return (map.compression, try scan(map, workers: workers, sinkFor: sinkFor))
    }
    let reader = try ArchiveReader(path: path)
    let lanes = (0..<max(1, workers)).map { _ in Lane(path: path, buffers: max(1, buffersPerWorker))
    }
    let group = DispatchGroup()
    for lane in lanes {
      group.enter()
      let thread = Thread {
        lane.run()
        group.leave()
      }
      thread.name = "kk-hash"
      thread.start()
    }
    var scanned: [Scanned<Sink>] = []
    var failure: ArchiveError?
    do throws(ArchiveError) {
      while let entry = try reader.next() {
        guard let sink = sinkFor(entry.name, entry.size) else { continue }
        let lane = lanes.min { $0.load < $1.load } ?? lanes[0]
        try feed(entry, to: sink, through: lane)
        if let error = lane.failure { throw error }
        scanned.append(Scanned(name: entry.name, size: entry.size, sink: sink))
      }
    } catch {
      failure = error
    }
    for lane in lanes { lane.stop() }
    group.wait()
    if let failure { throw failure }
    if let error = lanes.lazy.compactMap(\.failure).first { throw error }
    return (reader.compression, scanned)
  }

  /// The mapped pass: small entries from the map, the others read by offset on `workers`
  /// threads, each entry by one of them, in full.
  private static func scan<Sink: ByteSink>(
    _ map: ArchiveMap, workers: Int, sinkFor: (_ name: String, _ size: Int64) -> Sink?
  ) throws(ArchiveError) -> [Scanned<Sink>] {
    var scanned: [Scanned<Sink>] = []
    var jobs: [(entry: ArchiveMap.Entry, sink: Sink)] = []
    for name in map.names {
      guard let entry = map.entries[name], let sink = sinkFor(name, entry.size) else { continue }
      scanned.append(Scanned(name: name, size: entry.size, sink: sink))
      if case .inline(let bytes) = entry.placement {
        do {
          try bytes.withUnsafeBytes { try sink.write($0) }
        } catch {
          throw .consumerFailed(path: map.path, entry: name, detail: "\(error)")
        }
      } else {
        jobs.append((entry, sink))
      }
    }
    let state = MappedJobs(count: jobs.count)
    let list = jobs
    DispatchQueue.concurrentPerform(iterations: max(1, min(workers, list.count))) { _ in
      let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 64)
      defer { buffer.deallocate() }
      while let index = state.take() {
        let (entry, sink) = list[index]
        do {
          let source = try ArchiveEntrySource(entry, in: map, checksCRC: false)
          while true {
            let n = try source.read(into: buffer)
            if n == 0 { break }
            do {
              try sink.write(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
            } catch {
              throw ArchiveError.consumerFailed(
                path: map.path, entry: entry.name, detail: "\(error)")
            }
          }
        } catch let error as ArchiveError {
          state.fail(error)
        } catch {
          state.fail(.corrupt(path: map.path, entry: entry.name, detail: "\(error)"))
        }
      }
    }
    if let failure = state.failure { throw failure }
    return scanned
  }

  private static func feed(_ entry: ArchiveEntry, to sink: some ByteSink, through lane: Lane)
    throws(ArchiveError)
  {
    while true {
      // A sink that failed (a full disk, an entry refused from its header) stops the entry
      // here, not after the rest of it was read and decompressed for nothing: a bomb's
      // terabyte of zeros must not be inflated to be thrown away.
      let buffer = lane.takeFreeBuffer()
      if lane.failure != nil {
        lane.returnBuffer(buffer)
        return
      }
      var filled = 0
      do throws(ArchiveError) {
        while filled < buffer.count {
          let n = try entry.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
          if n == 0 { break }
          filled += n
        }
      } catch {
        lane.returnBuffer(buffer)
        throw error
      }
      if filled == 0 {
        lane.returnBuffer(buffer)
        return
      }
      lane.submit(Chunk(sink: sink, entry: entry.name, buffer: buffer, count: filled))
      if filled < buffer.count { return }
    }
  }
}

/// One chunk of one entry on its way to a worker.
private struct Chunk: @unchecked Sendable {
  // @unchecked: the buffer is owned by exactly one side at a time (free list → reader →
  // queue → worker → free list), handed over under the lane's lock.
  let sink: any ByteSink
  let entry: String
  let buffer: UnsafeMutableRawBufferPointer
  let count: Int
}

/// A worker thread with its own queue and its own pool of reusable buffers.
private final class Lane: @unchecked Sendable {
  // @unchecked: every mutable field is guarded by `condition`.
  private let condition = NSCondition()
  private let path: String
  private var free: [UnsafeMutableRawBufferPointer]
  private let all: [UnsafeMutableRawBufferPointer]
  private var queue: [Chunk] = []
  private var head = 0
  private var stopping = false
  private var queuedBytes = 0
  private var _failure: ArchiveError?

  init(path: String, buffers: Int) {
    self.path = path
    all = (0..<buffers).map { _ in
      UnsafeMutableRawBufferPointer.allocate(byteCount: ArchiveScanner.chunkSize, alignment: 64)
    }
    free = all
  }

  deinit { for buffer in all { buffer.deallocate() } }

  /// Bytes queued or being hashed: where the next entry should go is the smallest.
  var load: Int { condition.withLock { queuedBytes } }

  var failure: ArchiveError? { condition.withLock { _failure } }

  func takeFreeBuffer() -> UnsafeMutableRawBufferPointer {
    condition.lock()
    defer { condition.unlock() }
    while free.isEmpty { condition.wait() }
    return free.removeLast()
  }

  func returnBuffer(_ buffer: UnsafeMutableRawBufferPointer) {
    condition.withLock {
      free.append(buffer)
      condition.broadcast()
    }
  }

  func submit(_ chunk: Chunk) {
    condition.withLock {
      queue.append(chunk)
      queuedBytes += chunk.count
      condition.broadcast()
    }
  }

  /// Ends the worker once its queue is drained.
  func stop() {
    condition.withLock {
      stopping = true
      condition.broadcast()
    }
  }

  func run() {
    while let chunk = next() {
      var problem: ArchiveError?
      if failure == nil {
        do {
          try chunk.sink.write(UnsafeRawBufferPointer(rebasing: chunk.buffer[..<chunk.count]))
        } catch {
          problem = .consumerFailed(path: path, entry: chunk.entry, detail: "\(error)")
        }
      }
      condition.withLock {
        if let problem, _failure == nil { _failure = problem }
        queuedBytes -= chunk.count
        free.append(chunk.buffer)
        condition.broadcast()
      }
    }
  }

  private func next() -> Chunk? {
    condition.lock()
    defer { condition.unlock() }
    while head == queue.count && !stopping { condition.wait() }
    guard head < queue.count else { return nil }
    let chunk = queue[head]
    head += 1
    if head == queue.count {
      queue.removeAll(keepingCapacity: true)
      head = 0
    }
    return chunk
  }
}

/// The shared state of a mapped pass: the next entry to read, and the first failure (after
/// which no worker starts another entry).
private final class MappedJobs: @unchecked Sendable {
  // @unchecked: every field is guarded by `lock`.
  private let lock = NSLock()
  private let count: Int
  private var next = 0
  private var first: ArchiveError?

  init(count: Int) { self.count = count }

  func take() -> Int? {
    lock.withLock {
      guard first == nil, next < count else { return nil }
      defer { next += 1 }
      return next
    }
  }

  func fail(_ error: ArchiveError) { lock.withLock { first = first ?? error } }
  var failure: ArchiveError? { lock.withLock { first } }
}
