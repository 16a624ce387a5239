import CZlib

/// The serial gzip members of an artifact: one member whose deflate level can change between
/// tar entries, ended (`finishMember()`) where a chunked entry's members are spliced in.
///
/// Letting libarchive gzip the whole stream would re-deflate container layers that are already
/// gzip or zstd: hours of CPU for no size gain. Instead the tar stream is fed here at level 6
/// (tar headers, JSON); the data of compressed entries goes out as stored members
/// (`StoredMember`) and that of large raw entries (binaries) as members deflated by
/// `ChunkedDeflater`, both between two members of this encoder. The header is zlib's default: no name, mtime 0,
/// so output is deterministic. Output goes straight into the `PartialFile` buffer.
final class GzipMemberEncoder {
  static let defaultLevel: Int32 = 6
  /// Large raw entries (binaries, ISOs): zlib's level 4 deflates ELF files 2-3x faster than
  /// level 6 for 3-7% more bytes (measured on clang, node, ctr, containerd-shim: 1.034-1.064x
  /// the size in 0.31-0.46x the time), within the 10% of `gzip -6` the artifact allows; levels
  /// 1-3 were 6-20% larger.
  static let binaryLevel: Int32 = 4
  /// Entries at least this large with no media-type hint count as binaries.
  static let binaryThreshold: Int64 = 1 << 20

  private let stream: UnsafeMutablePointer<z_stream>
  private let output: PartialFile
  private(set) var level: Int32
  private var finished = false
  /// Whether the current member has been given bytes (a member is started lazily, so that
  /// ending one before a chunked entry never leaves an empty member behind).
  private var pending = false
  /// Whether any member was completed (`finish()` writes an empty member only if none was).
  private var wroteMember = false
  init(output: PartialFile, level: Int32 = GzipMemberEncoder.defaultLevel) throws(ArchiveError) {
    self.output = output
    self.level = level
    // zlib keeps a back-pointer to the z_stream, so it must not move: heap-allocate it.
    stream = .allocate(capacity: 1)
    stream.initialize(to: z_stream())
    // windowBits 15 + 16 = gzip wrapper; memLevel 8 is zlib's (and gzip -6's) default.
    let status = kk_deflate_init2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY)
    guard status == Z_OK else {
      stream.deallocate()
      throw .compression(path: output.finalPath, detail: "deflateInit2 failed (\(status))")
    }
  }

  deinit {
    deflateEnd(stream)
    stream.deinitialize(count: 1)
    stream.deallocate()
  }

  /// Switches the level for the bytes that follow; zlib ends the current block first.
  func setLevel(_ newLevel: Int32) throws(ArchiveError) {
    guard newLevel != level else { return }
    while true {
      try provideOutput()
      let before = stream.pointee.avail_out
      let status = deflateParams(stream, newLevel, Z_DEFAULT_STRATEGY)
      output.didFill(Int(before - stream.pointee.avail_out))
      if status == Z_OK { break }
      // Z_BUF_ERROR: the pending block did not fit; give it more room and retry.
      guard status == Z_BUF_ERROR else {
        throw .compression(path: output.finalPath, detail: "deflateParams failed (\(status))")
      }
    }
    level = newLevel
  }

  func write(_ bytes: UnsafeRawBufferPointer) throws(ArchiveError) {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return }
    guard !finished else {
      throw .misuse("gzip stream for \(output.finalPath) written after finish")
    }
    var offset = 0
    while offset < bytes.count {
      // avail_in is 32-bit: feed at most 1 GiB per call.
      let chunk = min(bytes.count - offset, 1 << 30)
      stream.pointee.next_in = UnsafeMutablePointer(
        mutating: (base + offset).assumingMemoryBound(to: Bytef.self))
      stream.pointee.avail_in = uInt(chunk)
      while stream.pointee.avail_in > 0 {
        try deflateOnce(flush: Z_NO_FLUSH)
      }
      offset += chunk
    }
    pending = true
  }

  /// Ends the current member (final block, crc32/isize trailer) if it holds any bytes; the
  /// next `write` starts a new member at the current level.
  func finishMember() throws(ArchiveError) {
    guard pending, !finished else { return }
    stream.pointee.next_in = nil
    stream.pointee.avail_in = 0
    while try deflateOnce(flush: Z_FINISH) != Z_STREAM_END {}
    // deflateReset keeps the level and strategy; the next member gets the same header.
    let status = deflateReset(stream)
    guard status == Z_OK else {
      throw .compression(path: output.finalPath, detail: "deflateReset failed (\(status))")
    }
    pending = false
    wroteMember = true
  }

  /// Writes bytes that are already complete gzip members (a chunked entry), after ending the
  /// current member.
  func writeMembers(_ bytes: UnsafeRawBufferPointer) throws(ArchiveError) {
    guard !finished else {
      throw .misuse("gzip stream for \(output.finalPath) written after finish")
    }
    try finishMember()
    try output.write(bytes)
    if bytes.count > 0 { wroteMember = true }
  }

  /// Writes the final block and the crc32/isize trailer of the last member (an empty member
  /// when nothing at all was written, so the file is still a gzip stream).
  func finish() throws(ArchiveError) {
    guard !finished else { return }
    guard pending || !wroteMember else {
      finished = true
      return
    }
    stream.pointee.next_in = nil
    stream.pointee.avail_in = 0
    while try deflateOnce(flush: Z_FINISH) != Z_STREAM_END {}
    finished = true
  }

  @discardableResult
  private func deflateOnce(flush: Int32) throws(ArchiveError) -> Int32 {
    try provideOutput()
    let before = stream.pointee.avail_out
    let status = deflate(stream, flush)
    output.didFill(Int(before - stream.pointee.avail_out))
    guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
      throw .compression(path: output.finalPath, detail: "deflate failed (\(status))")
    }
    return status
  }

  /// Gives zlib the rest of the file's buffer, however small: at levels 1-9 zlib's output
  /// does not depend on the output space it is given (only level 0, which the writer no longer
  /// uses, cuts its stored blocks to it), so members copied in before cannot change the
  /// serial bytes, and a warm artifact is identical to a cold one.
  private func provideOutput() throws(ArchiveError) {
    let spare = try output.spare()
    stream.pointee.next_out = spare.baseAddress?.assumingMemoryBound(to: Bytef.self)
    stream.pointee.avail_out = uInt(spare.count)
  }
}
