import CLibdeflate
import Dispatch
import Foundation

/// What fixes the bytes of a chunked entry: the deflate level and the chunk size (and the
/// layout of the members, `formatVersion`). Never the number of threads.
///
/// Part of the export cache's key for compressed forms (`CompressedForms`): a cached form is
/// only reused by a writer with the same parameters, so cold and warm artifacts are identical.
public struct ChunkedDeflateParameters: Sendable, Hashable {
  /// Bumped whenever the bytes produced for the same input and parameters change
  /// (2: libdeflate instead of zlib; 3: member lengths in the header, `MemberLengths`).
  public static let formatVersion = 3
  /// What the artifact writer uses for raw binaries: libdeflate level 1, 1 MiB chunks.
  /// Measured here (1 MiB chunks, one core) against `gzip -6`'s size: on the bench's six ELF
  /// files (660 MB, C++ and Go) level 1 is 1.088x at 211 MB/s, level 2 1.040x at 146 MB/s,
  /// level 4 1.021x at 111 MB/s (zlib level 4, the writer's before: 1.034x at 63 MB/s; zlib
  /// 6: 28 MB/s); on Go binaries like KubeKey's (containerd, containerd-shim, docker-registry,
  /// skopeo) level 1 is 1.071-1.088x, level 2 1.034-1.050x. Level 1 is the fastest level within
  /// the 10% the artifact allows: on 2 cores an export with those binaries took 4.2 s with
  /// it and 5.0-5.9 s with level 2, against a budget of 5.7 s (0.10x the KubeKey method).
  /// 1 MiB chunks (swift-frontend with zlib: 1.0288x `gzip -6`, 4 MiB 1.0276x, one member
  /// 1.0272x) keep memory small and the workers evenly loaded.
  public static let binaries = ChunkedDeflateParameters(level: 1, chunkSize: 1 << 20)

  /// libdeflate level, 1-12.
  public var level: Int32
  /// Bytes of input per gzip member (the last member of an entry may be shorter).
  public var chunkSize: Int

  public init(level: Int32, chunkSize: Int) {
    self.level = level
    self.chunkSize = chunkSize
  }

  /// A file-name-safe key naming these parameters and the format version.
  public var key: String { "gzip-l\(level)-c\(chunkSize)-v\(Self.formatVersion)" }
}

/// Deflates one entry's bytes as a sequence of independent gzip members, one per
/// `chunkSize` bytes, on a few threads, and emits the members in order (pigz/bgzip style).
///
/// Why: on the bench, deflating ~660 MB of binaries was the largest cost of an export, paid on
/// one core. Independent members let both cores work; a gzip reader (gzip, libarchive, Go's
/// compress/gzip as used by skopeo) reads concatenated members as one stream. The member
/// layout depends only on the input bytes and `ChunkedDeflateParameters` (chunk boundaries at
/// fixed offsets from the entry's first byte), never on timing or the worker count, so the
/// same entry always gives the same bytes. Memory: `workers + 2` chunks in flight, each an
/// input and an output buffer of about `chunkSize`.
///
/// `write` and `finish` must be called from one thread (the writer's); `emit` is called on it.
final class ChunkedDeflater {
  let parameters: ChunkedDeflateParameters
  let workers: Int
  /// Called on the writer's thread once per chunk handed to a worker (tests count these).
  private let onChunk: (() -> Void)?
  private let queues: [DispatchQueue]
  private var free: [Job] = []
  private var inFlight: [Job] = []
  private var allocated = 0
  private var current: Job?
  private var submitted = 0
  private let path: String

  /// - Parameters:
  ///   - workers: threads deflating at once; 0 deflates each chunk on the caller's thread
  ///     with one chunk in memory (a download that deflates as it arrives: several run at
  ///     once, each on its own transfer thread).
  ///   - path: the archive, for error messages.
  init(
    parameters: ChunkedDeflateParameters, workers: Int, path: String,
    onChunk: (() -> Void)? = nil
  ) {
    self.parameters = parameters
    self.workers = max(0, workers)
    self.path = path
    self.onChunk = onChunk
    queues = (0..<max(0, workers)).map { DispatchQueue(label: "kk.archive.deflate.\($0)") }
  }

  deinit {
    // An abandoned archive may stop with chunks in flight: their buffers are still in use.
    for job in inFlight { job.done.wait() }
  }

  /// The default worker count: the cores, at least 4 and at most 8. More workers than
  /// cores on a small machine: the packing thread and the artifact's hash and write threads
  /// share the cores, and members are emitted in order, so spare jobs keep both cores busy
  /// while one waits (2 cores, cold export with 660 MB of binaries, 6 interleaved pairs:
  /// median 4.55 s with 4 workers, 5.05 s with 2). Never changes the bytes.
  static var defaultWorkers: Int {
    max(4, min(8, ProcessInfo.processInfo.activeProcessorCount))
  }

  /// Adds bytes of the entry; full chunks go to the workers, finished members to `emit`.
  func write(
    _ bytes: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) throws(ArchiveError) -> Void
  ) throws(ArchiveError) {
    var offset = 0
    while offset < bytes.count {
      let job: Job
      if let current {
        job = current
      } else {
        job = try take(emit: emit)
        current = job
      }
      let count = min(parameters.chunkSize - job.inputCount, bytes.count - offset)
      UnsafeMutableRawBufferPointer(rebasing: job.input[job.inputCount..<job.inputCount + count])
        .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count]))
      job.inputCount += count
      offset += count
      if job.inputCount == parameters.chunkSize { submit() }
    }
  }

  /// Ends the entry: deflates the last (short) chunk and emits every member still in flight.
  /// The deflater can then take the next entry.
  func finish(emit: (UnsafeRawBufferPointer) throws(ArchiveError) -> Void) throws(ArchiveError) {
    if let current, current.inputCount > 0 { submit() }
    while !inFlight.isEmpty { try drainOldest(emit: emit) }
  }

  /// A free job, draining the oldest one in flight when the window is full.
  private func take(emit: (UnsafeRawBufferPointer) throws(ArchiveError) -> Void)
    throws(ArchiveError) -> Job
  {
    if let job = free.popLast() { return job }
    if allocated < (workers == 0 ? 1 : workers + 2) {
      allocated += 1
      return try Job(parameters: parameters, path: path)
    }
    try drainOldest(emit: emit)
    guard let job = free.popLast() else { throw .misuse("\(path): no free deflate buffer") }
    return job
  }

  private func submit() {
    guard let job = current else { return }
    current = nil
    onChunk?()
    inFlight.append(job)
    if queues.isEmpty {
      job.run()
    } else {
      queues[submitted % queues.count].async { job.run() }
    }
    submitted += 1
  }

  private func drainOldest(emit: (UnsafeRawBufferPointer) throws(ArchiveError) -> Void)
    throws(ArchiveError)
  {
    let job = inFlight.removeFirst()
    job.done.wait()
    job.inputCount = 0
    free.append(job)
    guard !job.failed else {
      throw .compression(path: path, detail: "libdeflate could not deflate a chunk")
    }
    try emit(UnsafeRawBufferPointer(rebasing: job.output[..<job.outputCount]))
  }

  /// One chunk: its input, its member, and the compressor that makes it (libdeflate keeps no
  /// state between calls). Touched by the writer only while not in flight, and by one worker
  /// while in flight.
  private final class Job: @unchecked Sendable {
    let input: UnsafeMutableRawBufferPointer
    let output: UnsafeMutableRawBufferPointer
    let compressor: OpaquePointer
    let done = DispatchSemaphore(value: 0)
    var inputCount = 0
    var outputCount = 0
    var failed = false
    private let xfl: UInt8

    init(parameters: ChunkedDeflateParameters, path: String) throws(ArchiveError) {
      guard let compressor = libdeflate_alloc_compressor(parameters.level) else {
        throw .compression(
          path: path, detail: "libdeflate could not make a level \(parameters.level) compressor")
      }
      self.compressor = compressor
      input = .allocate(byteCount: parameters.chunkSize, alignment: 64)
      // The bound plus header and trailer: one call always fits.
      let bound = libdeflate_deflate_compress_bound(compressor, parameters.chunkSize)
      output = .allocate(
        byteCount: bound + MemberLengths.headerSize + MemberLengths.trailerSize, alignment: 64)
      xfl = parameters.level < 2 ? 4 : 0
    }

    deinit {
      libdeflate_free_compressor(compressor)
      input.deallocate()
      output.deallocate()
    }

    /// One gzip member: raw deflate between a header carrying the member's lengths (no name,
    /// mtime 0) and the crc32 trailer, so the member depends only on the input and the level.
    func run() {
      defer { done.signal() }
      let start = MemberLengths.headerSize
      let deflated = libdeflate_deflate_compress(
        compressor, input.baseAddress, inputCount, output.baseAddress! + start,
        output.count - start - MemberLengths.trailerSize)
      failed = deflated == 0
      guard !failed else { return }
      let lengths = MemberLengths(
        member: Int64(start + deflated + MemberLengths.trailerSize), data: Int64(inputCount))
      let crc = UInt32(truncatingIfNeeded: libdeflate_crc32(0, input.baseAddress, inputCount))
      lengths.header(xfl: xfl).withUnsafeBytes {
        output.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: start)
      }
      MemberLengths.trailer(crc: crc, data: lengths.data).withUnsafeBytes {
        (output.baseAddress! + start + deflated).copyMemory(
          from: $0.baseAddress!, byteCount: MemberLengths.trailerSize)
      }
      outputCount = Int(lengths.member)
    }
  }
}
