/// The `KK` extra field in the header of every gzip member that kk writes for entry data
/// (the stored member of a layer, each deflated chunk of a binary): the member's length in
/// the file and how many data bytes it holds.
///
/// Why: gzip gives a member no length until its end has been inflated, so a reader that
/// wants one entry of a 20 GB artifact had to inflate everything before it, one stream, one
/// core. With the lengths a reader hops over data members reading a few dozen bytes each
/// (`ArchiveMap`), and can read several entries at once (a push sends six layers in
/// parallel). BGZF's `BC` field does the same for its 64 KiB blocks; these members can be
/// gigabytes, so both lengths are 64-bit. Every gzip reader skips extra fields (RFC 1952
/// 2.3.1.1): the artifact stays one ordinary gzip stream.
struct MemberLengths: Equatable, Sendable {
  /// gzip header (10) + XLEN (2) + subfield id and length (4) + the two lengths (16).
  static let headerSize = 32
  /// The gzip trailer: crc32 and ISIZE.
  static let trailerSize = 8

  /// Bytes of the whole member in the file, header and trailer included.
  var member: Int64
  /// Data bytes the member inflates to.
  var data: Int64

  /// A member header (deflate, FEXTRA, mtime 0, OS 3 = Unix) carrying these lengths. `xfl` is
  /// the compression-level hint: 4 for the fastest level (and stored blocks), 0 otherwise.
  func header(xfl: UInt8) -> [UInt8] {
    var bytes: [UInt8] = [0x1f, 0x8b, 8, 4, 0, 0, 0, 0, xfl, 3, 20, 0, 0x4b, 0x4b, 16, 0]
    for value in [member, data] {
      for shift in stride(from: 0, to: 64, by: 8) {
        bytes.append(UInt8(truncatingIfNeeded: UInt64(bitPattern: value) >> UInt64(shift)))
      }
    }
    return bytes
  }

  /// The lengths in a member header written by `header(xfl:)`; nil for any other header
  /// (no extra field, another subfield, lengths that cannot be right).
  static func parse(_ bytes: UnsafeRawBufferPointer) -> MemberLengths? {
    guard bytes.count >= headerSize, bytes[0] == 0x1f, bytes[1] == 0x8b, bytes[2] == 8,
      bytes[3] == 4, bytes[10] == 20, bytes[11] == 0, bytes[12] == 0x4b, bytes[13] == 0x4b,
      bytes[14] == 16, bytes[15] == 0
    else { return nil }
    func int64(at offset: Int) -> Int64 {
      var value: UInt64 = 0
      for i in (0..<8).reversed() { value = value << 8 | UInt64(bytes[offset + i]) }
      return Int64(bitPattern: value)
    }
    let lengths = MemberLengths(member: int64(at: 16), data: int64(at: 24))
    guard lengths.data >= 0, lengths.member >= Int64(headerSize + trailerSize) else { return nil }
    return lengths
  }

  /// The member of `data` bytes (at least one) in stored blocks of `blockSize` bytes, each
  /// behind a 5-byte header.
  static func stored(data: Int64, blockSize: Int) -> MemberLengths {
    let blocks = (data + Int64(blockSize) - 1) / Int64(blockSize)
    return MemberLengths(
      member: Int64(headerSize) + blocks * 5 + data + Int64(trailerSize), data: data)
  }

  /// The gzip trailer for data with this crc32 (ISIZE is the length modulo 2^32).
  static func trailer(crc: UInt32, data: Int64) -> [UInt8] {
    let isize = UInt32(truncatingIfNeeded: data)
    return [
      UInt8(crc & 0xff), UInt8((crc >> 8) & 0xff), UInt8((crc >> 16) & 0xff), UInt8(crc >> 24),
      UInt8(isize & 0xff), UInt8((isize >> 8) & 0xff), UInt8((isize >> 16) & 0xff),
      UInt8(isize >> 24),
    ]
  }
}
