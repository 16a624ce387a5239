import CLibdeflate
import OCI

/// Reads one mapped entry (`ArchiveMap`) with positioned reads: any number of these read one
/// archive at once, each from its own entry.
///
/// A stored member's data is read straight into the caller's buffer between the 5-byte block
/// headers, whose places follow from the member's lengths, and its crc32 is checked against
/// the trailer when the member ends (libdeflate, ~10 GB/s), so a damaged archive fails here,
/// naming the entry, before its last byte is handed out. A deflated member (a chunk of at
/// most a few MiB) is read whole and inflated by libdeflate, which checks its crc32.
final class ArchiveEntrySource: ByteSource, @unchecked Sendable {
  // @unchecked: one reader at a time (a transfer); the file is only read with pread.
  private let file: ArchiveFile
  private let entry: ArchiveMap.Entry
  private var spans: ArraySlice<ArchiveMap.MemberSpan> = []
  /// Data bytes of the current span already handed out.
  private var intoSpan: Int64 = 0
  private var crc: UInt32 = 0
  /// The current span inflated, when it is not made of stored blocks.
  private var inflated: UnsafeMutableRawBufferPointer?
  /// Whether the current span is laid out as `StoredMember` writes it (nil: not looked yet).
  private var stored: Bool?
  private var contiguous: Int64?
  private var delivered: Int64 = 0

  /// The largest deflated member read whole (kk writes 1 MiB chunks).
  static let deflatedMemberLimit: Int64 = 64 << 20

  /// Whether a stored member's crc32 is compared with its trailer (a verifier that hashes
  /// every byte anyway turns it off, to report a damaged blob by its digest).
  private let checksCRC: Bool

  init(_ entry: ArchiveMap.Entry, in map: ArchiveMap, checksCRC: Bool = true)
    throws(ArchiveError)
  {
    file = map.file
    self.entry = entry
    self.checksCRC = checksCRC
    switch entry.placement {
    case .members(let list): spans = list[...]
    case .contiguous(let offset): contiguous = offset
    case .inline, .unavailable:
      throw .misuse("\(map.path): entry '\(entry.name)' is not read by offset")
    }
  }

  /// Where the stored block headers between two blocks' data go (read over, not used).
  private let blockHeader = UnsafeMutableRawBufferPointer.allocate(byteCount: 5, alignment: 1)

  deinit {
    inflated?.deallocate()
    blockHeader.deallocate()
  }

  func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    let want = Int(min(Int64(buffer.count), entry.size - delivered))
    guard want > 0 else { return 0 }
    let window = UnsafeMutableRawBufferPointer(rebasing: buffer[..<want])
    let n = try contiguous.map { try file.read(into: window, at: $0 + delivered) } ?? fill(window)
    guard n > 0 else { throw ArchiveError.truncated(path: file.path, entry: entry.name) }
    delivered += Int64(n)
    return n
  }

  /// Fills from the member spans, crossing stored blocks and members.
  private func fill(_ buffer: UnsafeMutableRawBufferPointer) throws(ArchiveError) -> Int {
    var filled = 0
    while filled < buffer.count, let span = spans.first {
      if intoSpan == span.data {
        try endSpan(span)
        continue
      }
      if try isStored(span) {
        // The blocks that fit, in one scattered read: each block's data into the buffer,
        // the 5-byte header before the next block into `blockHeader` (one system call per
        // buffer, not per 64 KiB block).
        let blockSize = Int64(StoredMember.blockSize)
        let at =
          span.offset + Int64(MemberLengths.headerSize) + (intoSpan / blockSize)
          * (blockSize + 5) + 5 + intoSpan % blockSize
        var parts: [UnsafeMutableRawBufferPointer] = []
        var next = filled
        var position = intoSpan
        var fileBytes = 0
        while next < buffer.count, position < span.data {
          let intoBlock = position % blockSize
          let count = Int(
            min(Int64(buffer.count - next), min(blockSize - intoBlock, span.data - position)))
          if !parts.isEmpty {
            parts.append(blockHeader)
            fileBytes += blockHeader.count
          }
          parts.append(UnsafeMutableRawBufferPointer(rebasing: buffer[next..<next + count]))
          fileBytes += count
          next += count
          position += Int64(count)
          // A block left unfinished ends the read; so does the buffer's end.
          if (position % blockSize) != 0 && position < span.data { break }
        }
        guard try file.read(scattering: parts, at: at) == fileBytes else {
          throw .truncated(path: file.path, entry: entry.name)
        }
        crc = UInt32(
          truncatingIfNeeded: libdeflate_crc32(crc, buffer.baseAddress! + filled, next - filled))
        filled = next
        intoSpan = position
      } else {
        let data = try inflate(span)
        let count = Int(min(Int64(buffer.count - filled), span.data - intoSpan))
        UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<filled + count]).copyMemory(
          from: UnsafeRawBufferPointer(rebasing: data[Int(intoSpan)..<Int(intoSpan) + count]))
        filled += count
        intoSpan += Int64(count)
      }
    }
    if let span = spans.first, intoSpan == span.data { try endSpan(span) }
    return filled
  }

  /// Whether the span is one member of stored blocks of `StoredMember.blockSize` (its length
  /// says so and its first block header agrees); read by offset then, else inflated.
  private func isStored(_ span: ArchiveMap.MemberSpan) throws(ArchiveError) -> Bool {
    if let stored { return stored }
    var answer = false
    let layout = MemberLengths.stored(data: span.data, blockSize: StoredMember.blockSize)
    if span.member == layout.member, span.data > 0 {
      var header = [UInt8](repeating: 0, count: 5)
      guard try file.read(into: &header, at: span.offset + Int64(MemberLengths.headerSize)) == 5
      else { throw .truncated(path: file.path, entry: entry.name) }
      let length = Int(min(Int64(StoredMember.blockSize), span.data))
      let final: UInt8 = span.data <= Int64(StoredMember.blockSize) ? 1 : 0
      answer =
        header == [
          final, UInt8(length & 0xff), UInt8(length >> 8), UInt8(~length & 0xff),
          UInt8((~length >> 8) & 0xff),
        ]
    }
    stored = answer
    return answer
  }

  /// Moves to the next span, checking a stored member's crc32 against its trailer.
  private func endSpan(_ span: ArchiveMap.MemberSpan) throws(ArchiveError) {
    if stored == true && checksCRC {
      var trailer = [UInt8](repeating: 0, count: MemberLengths.trailerSize)
      let at = span.offset + span.member - Int64(MemberLengths.trailerSize)
      guard try file.read(into: &trailer, at: at) == trailer.count else {
        throw .truncated(path: file.path, entry: entry.name)
      }
      guard trailer == MemberLengths.trailer(crc: crc, data: span.data) else {
        throw .corrupt(
          path: file.path, entry: entry.name,
          detail: "the gzip member at offset \(span.offset) fails its crc32 check")
      }
    }
    inflated?.deallocate()
    inflated = nil
    stored = nil
    crc = 0
    intoSpan = 0
    spans = spans.dropFirst()
  }

  /// The current span's data, inflated once.
  private func inflate(_ span: ArchiveMap.MemberSpan) throws(ArchiveError)
    -> UnsafeMutableRawBufferPointer
  {
    if let inflated { return inflated }
    guard span.member <= Self.deflatedMemberLimit, span.data <= Self.deflatedMemberLimit * 64
    else {
      throw .corrupt(
        path: file.path, entry: entry.name,
        detail: "a gzip member at offset \(span.offset) is larger than kk writes")
    }
    let input = UnsafeMutableRawBufferPointer.allocate(
      byteCount: Int(span.member), alignment: 16)
    defer { input.deallocate() }
    guard try file.read(into: input, at: span.offset) == input.count else {
      throw .truncated(path: file.path, entry: entry.name)
    }
    let output = UnsafeMutableRawBufferPointer.allocate(
      byteCount: max(1, Int(span.data)), alignment: 16)
    guard let decompressor = libdeflate_alloc_decompressor() else {
      output.deallocate()
      throw .compression(path: file.path, detail: "libdeflate could not make a decompressor")
    }
    defer { libdeflate_free_decompressor(decompressor) }
    var produced = 0
    let result = libdeflate_gzip_decompress(
      decompressor, input.baseAddress, input.count, output.baseAddress, Int(span.data),
      &produced)
    guard result == LIBDEFLATE_SUCCESS, produced == Int(span.data) else {
      output.deallocate()
      throw .corrupt(
        path: file.path, entry: entry.name,
        detail: "the gzip member at offset \(span.offset) does not inflate (\(result.rawValue))")
    }
    inflated = output
    return output
  }
}
