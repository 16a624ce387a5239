import CLibdeflate

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The data of an already-compressed entry (a gzip or zstd layer, a `.tgz`) as one gzip
/// member of stored deflate blocks.
///
/// Why not zlib at level 0: zlib copies every byte into its output buffer and runs its own
/// crc32 (4 GB/s here) before the copy into the file; on a warm export those two passes were a
/// quarter of the packing thread's time. A stored block is only a 5-byte header in front of
/// up to 65535 bytes, so a file's data is read straight into the artifact's output buffers
/// between the headers (`fill`), and its crc32 comes from libdeflate (PCLMUL, ~10 GB/s).
/// Blocks start every 65535 bytes from the entry's first data byte and the header carries the
/// member's lengths (`MemberLengths`: no name, mtime 0, XFL 4, OS 3), so the member depends
/// only on the entry's bytes (cold and warm artifacts match) and a reader can locate it
/// without reading it.
final class StoredMember {
  /// The largest stored block deflate allows (LEN is 16 bits).
  static let blockSize = 65535
  /// Bytes of entry data the member holds.
  let size: Int64
  private(set) var offset: Int64 = 0
  private var crc: UInt32 = 0

  init(size: Int64) {
    precondition(size > 0, "a stored member holds at least one byte")
    self.size = size
  }

  /// The member's gzip header, with its lengths.
  var header: [UInt8] {
    MemberLengths.stored(data: size, blockSize: Self.blockSize).header(xfl: 4)
  }

  /// Appends `bytes` (the next bytes of the entry) as stored blocks to `file`.
  func write(_ bytes: UnsafeRawBufferPointer, to file: PartialFile) throws(ArchiveError) {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return }
    guard Int64(bytes.count) <= size - offset else {
      throw .sizeMismatch(
        path: file.finalPath, entry: "(stored member)", declared: size,
        actual: offset + Int64(bytes.count))
    }
    crc = UInt32(truncatingIfNeeded: libdeflate_crc32(crc, base, bytes.count))
    var position = 0
    while position < bytes.count {
      let intoBlock = Int(offset % Int64(Self.blockSize))
      if intoBlock == 0 { try writeHeader(at: offset, to: file) }
      let count = min(Self.blockSize - intoBlock, bytes.count - position)
      try file.write(UnsafeRawBufferPointer(start: base + position, count: count))
      position += count
      offset += Int64(count)
    }
  }

  /// Reads the rest of the member's bytes from `fd` straight into `file`'s buffers, between
  /// the block headers (no intermediate buffer, no copy but the kernel's); `observe` sees
  /// every byte read, in order. Throws when the file ends early.
  func fill(
    from fd: Int32, path source: String, into file: PartialFile,
    observe: ((UnsafeRawBufferPointer) -> Void)?
  ) throws(ArchiveError) {
    while offset < size {
      let intoBlock = Int(offset % Int64(Self.blockSize))
      if intoBlock == 0 { try writeHeader(at: offset, to: file) }
      let space = try file.spare()
      let want = Int(min(Int64(min(space.count, Self.blockSize - intoBlock)), size - offset))
      var n: Int
      repeat { n = read(fd, space.baseAddress, want) } while n < 0 && errno == EINTR
      guard n >= 0 else { throw .io(path: source, operation: "read", errno: errno) }
      guard n > 0 else {
        throw .sizeMismatch(path: file.finalPath, entry: source, declared: size, actual: offset)
      }
      let bytes = UnsafeRawBufferPointer(start: space.baseAddress, count: n)
      observe?(bytes)
      crc = UInt32(truncatingIfNeeded: libdeflate_crc32(crc, bytes.baseAddress, n))
      file.didFill(n)
      offset += Int64(n)
    }
  }

  /// Writes the 5-byte header of the stored block starting at `start`.
  private func writeHeader(at start: Int64, to file: PartialFile) throws(ArchiveError) {
    try blockHeader(at: start).withUnsafeBytes { bytes in
      Result { () throws(ArchiveError) in try file.write(bytes) }
    }.get()
  }

  /// The 5-byte header of the stored block starting at `start` (a multiple of `blockSize`).
  private func blockHeader(at start: Int64) -> [UInt8] {
    let length = UInt16(min(Int64(Self.blockSize), size - start))
    let final: UInt8 = start + Int64(length) == size ? 1 : 0
    return [
      final, UInt8(length & 0xff), UInt8(length >> 8), UInt8(~length & 0xff), UInt8(~length >> 8),
    ]
  }

  /// The crc32 and size trailer; throws unless every announced byte was written.
  func trailer(path: String) throws(ArchiveError) -> [UInt8] {
    guard offset == size else {
      throw .sizeMismatch(path: path, entry: "(stored member)", declared: size, actual: offset)
    }
    return MemberLengths.trailer(crc: crc, data: size)
  }
}
