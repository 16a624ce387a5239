import CZlib

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Where each entry's data lies in an artifact file, learnt without reading that data, so that
/// entries can be read in any order and several at once (`ArchiveEntrySource`).
///
/// Why: an archive read as a stream gives one entry at a time, and a push from it kept one
/// upload busy while the registry could take six. A gzip artifact kk wrote is a chain of
/// members: small serial ones (tar headers, JSON), which are inflated here, and one member per
/// layer (stored blocks) or per 1 MiB of a binary, whose headers carry their lengths
/// (`MemberLengths`), which are hopped over. A plain tar is walked header to header. Anything
/// else (zstd, a `tar czf` of a layout, entries kk does not write) is not mapped (`nil`): the
/// caller reads it as a stream, as before.
public struct ArchiveMap: Sendable {
  /// Where one entry's bytes are.
  public enum Placement: Sendable {
    /// Read while mapping (small entries inside serial members).
    case inline([UInt8])
    /// In gzip data members of their own, in order.
    case members([MemberSpan])
    /// At this offset of an uncompressed tar, contiguous.
    case contiguous(offset: Int64)
    /// Inside serial members but over the in-memory budget: only a stream read gets it.
    case unavailable
  }

  /// One gzip data member: where it starts in the file and its lengths.
  public struct MemberSpan: Sendable, Equatable {
    public let offset: Int64
    public let member: Int64
    public let data: Int64
  }

  public struct Entry: Sendable {
    public let name: String
    public let size: Int64
    public let placement: Placement
  }

  public let path: String
  /// `.gzip` or `.none` (a plain tar).
  public let compression: ArchiveCompression
  /// The file, open for the entries' readers.
  let file: ArchiveFile
  /// Every regular entry by name.
  public let entries: [String: Entry]
  /// Entry names in archive order.
  public let names: [String]

  /// Whether every entry can be read from the map (none is `.unavailable`).
  public var readsEveryEntry: Bool {
    !entries.values.contains { if case .unavailable = $0.placement { true } else { false } }
  }

  /// Bytes of small entries kept while mapping at most; inflating more than twice this from
  /// serial members means the archive is not laid out as kk writes it, and mapping stops.
  public static let defaultInlineLimit = 64 << 20

  /// Maps `path`, or returns nil when it is not an archive that can be mapped (see the type's
  /// documentation). Throws when the file cannot be read, and when it ends inside an entry's
  /// data (a copy cut short): a reader would otherwise find out only at that entry, after
  /// pushing or unpacking everything before it.
  public static func map(path: String, inlineLimit: Int = defaultInlineLimit)
    throws(ArchiveError) -> ArchiveMap?
  {
    let file = try ArchiveFile(path: path)
    // A directory, a device, an empty file: the stream reader says what is wrong with it.
    guard file.isRegular, file.size > 0 else { return nil }
    var head = [UInt8](repeating: 0, count: 4)
    guard try file.read(into: &head, at: 0) == 4 else { return nil }
    var walker = TarWalker(inlineLimit: inlineLimit)
    let mapped: Bool
    let gzip = head[0] == 0x1f && head[1] == 0x8b
    if gzip {
      mapped = try mapGzip(file, &walker, inflateLimit: Int64(inlineLimit) * 2)
    } else if head == [0x28, 0xb5, 0x2f, 0xfd] {
      mapped = false  // zstd frames carry no lengths a reader could hop by
    } else {
      mapped = try mapPlain(file, &walker)
    }
    guard mapped, walker.ended else { return nil }
    return ArchiveMap(
      path: path, compression: gzip ? .gzip : .none, file: file, entries: walker.entries,
      names: walker.names)
  }

  /// Inflates serial members into the walker and hops over data members.
  private static func mapGzip(_ file: ArchiveFile, _ walker: inout TarWalker, inflateLimit: Int64)
    throws(ArchiveError) -> Bool
  {
    var offset: Int64 = 0
    var inflated: Int64 = 0
    var header = [UInt8](repeating: 0, count: MemberLengths.headerSize)
    // One pair of buffers for every serial member. The input window is small: a serial
    // member is mostly a tar header or two (~1 KiB) right before a data member, and a larger
    // window read that many bytes of the next layer for nothing (16 MiB for the bench's 750
    // MiB artifact; thousands of layers on a 20 GB one).
    let input = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 << 10, alignment: 16)
    let output = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 16)
    defer {
      input.deallocate()
      output.deallocate()
    }
    var sawDataMember = false
    while offset < file.size && !walker.ended {
      let n = try file.read(into: &header, at: offset)
      guard n >= 10, header[0] == 0x1f, header[1] == 0x8b else { return false }
      if let lengths = header.withUnsafeBytes({ MemberLengths.parse($0) }) {
        if offset + lengths.member > file.size, let entry = walker.currentEntry {
          throw .truncated(path: file.path, entry: entry)
        }
        guard offset + lengths.member <= file.size,
          walker.member(MemberSpan(offset: offset, member: lengths.member, data: lengths.data))
        else { return false }
        offset += lengths.member
        sawDataMember = true
        continue
      }
      guard
        let (consumed, produced) = try inflateMember(
          file, at: offset, into: &walker, budget: inflateLimit - inflated, input: input,
          output: output),
        consumed > 0
      else { return false }
      offset += consumed
      inflated += produced
    }
    // An archive kk wrote (it has data members) that ends between two members, before the
    // tar's end: cut short at a member boundary.
    if sawDataMember && !walker.ended {
      throw .truncated(path: file.path, entry: walker.names.last ?? "(the first entry)")
    }
    return true
  }

  /// Inflates the gzip member at `offset` into the walker: (input bytes, output bytes), or
  /// nil when it is damaged, truncated, inflates to more than `budget` bytes or is not a tar
  /// stream the walker follows.
  private static func inflateMember(
    _ file: ArchiveFile, at offset: Int64, into walker: inout TarWalker, budget: Int64,
    input: UnsafeMutableRawBufferPointer, output: UnsafeMutableRawBufferPointer
  ) throws(ArchiveError) -> (Int64, Int64)? {
    var stream = z_stream()
    guard kk_inflate_init2(&stream, 16 + 15) == Z_OK else { return nil }
    defer { inflateEnd(&stream) }
    var position = offset
    while true {
      if stream.avail_in == 0 {
        let n = try file.read(into: input, at: position)
        guard n > 0 else { return nil }  // the file ends inside the member
        position += Int64(n)
        stream.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.avail_in = UInt32(n)
      }
      stream.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
      stream.avail_out = UInt32(output.count)
      let status = inflate(&stream, Z_NO_FLUSH)
      guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else { return nil }
      let produced = output.count - Int(stream.avail_out)
      guard Int64(stream.total_out) <= budget,
        walker.feed(UnsafeRawBufferPointer(rebasing: output[..<produced]))
      else { return nil }
      if status == Z_STREAM_END { return (Int64(stream.total_in), Int64(stream.total_out)) }
      if status == Z_BUF_ERROR && stream.avail_in != 0 { return nil }
    }
  }

  /// Walks a plain tar from header to header, reading only headers and pax records.
  private static func mapPlain(_ file: ArchiveFile, _ walker: inout TarWalker)
    throws(ArchiveError) -> Bool
  {
    var offset: Int64 = 0
    var block = [UInt8](repeating: 0, count: TarWalker.block)
    while !walker.ended {
      guard try file.read(into: &block, at: offset) == block.count else { return false }
      offset += Int64(block.count)
      guard block.withUnsafeBytes({ walker.feed($0) }) else { return false }
      if walker.dataSize != nil {
        let entry = walker.currentEntry
        guard let skip = walker.contiguous(at: offset) else { return false }
        if offset + skip > file.size, let entry {
          throw .truncated(path: file.path, entry: entry)
        }
        offset += skip
      }
    }
    return true
  }
}

/// An archive file, open and stat'ed: for positioned reads from several threads at once
/// (`ArchiveMap`), or handed to libarchive (`ArchiveReader`). Closed when released.
final class ArchiveFile: @unchecked Sendable {
  // @unchecked: the descriptor is only used with pread, which keeps no file position.
  let path: String
  let fd: Int32
  let size: Int64
  let isRegular: Bool
  let isDirectory: Bool

  init(path: String) throws(ArchiveError) {
    self.path = path
    fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw .io(path: path, operation: "open for reading", errno: errno) }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
      let code = errno
      close(fd)
      throw .io(path: path, operation: "stat", errno: code)
    }
    size = Int64(info.st_size)
    isRegular = (info.st_mode & S_IFMT) == S_IFREG
    isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
  }

  deinit { close(fd) }

  /// Reads up to `buffer.count` bytes at `offset`; fewer only at the end of the file.
  func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(ArchiveError)
    -> Int
  {
    var done = 0
    while done < buffer.count {
      let n = pread(
        fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
      if n < 0 {
        if errno == EINTR { continue }
        throw .io(path: path, operation: "read", errno: errno)
      }
      if n == 0 { break }
      done += n
    }
    return done
  }

  /// Reads the file's bytes from `offset` on into `parts` in turn (one `preadv`, more only
  /// after a short read); returns how many bytes were read in all (less at end of file).
  /// Lets a reader skip the small headers between the data blocks of a stored gzip member
  /// without a system call per block.
  func read(scattering parts: [UnsafeMutableRawBufferPointer], at offset: Int64)
    throws(ArchiveError) -> Int
  {
    let total = parts.reduce(0) { $0 + $1.count }
    var vectors = parts.map { iovec(iov_base: $0.baseAddress, iov_len: $0.count) }
    let first = vectors.withUnsafeMutableBufferPointer { list -> Int in
      while true {
        let n = preadv(fd, list.baseAddress, Int32(list.count), off_t(offset))
        if n >= 0 || errno != EINTR { return n }
      }
    }
    if first < 0 { throw .io(path: path, operation: "read", errno: errno) }
    guard first < total else { return first }
    // A short read (end of file, or a signal): the rest part by part.
    var done = first
    var skipped = 0
    for part in parts {
      if skipped + part.count <= first {
        skipped += part.count
        continue
      }
      let already = max(0, first - skipped)
      skipped += part.count
      let rest = UnsafeMutableRawBufferPointer(rebasing: part[already...])
      let n = try read(into: rest, at: offset + Int64(done))
      done += n
      if n < rest.count { break }
    }
    return done
  }

  func read(into bytes: inout [UInt8], at offset: Int64) throws(ArchiveError) -> Int {
    try bytes.withUnsafeMutableBytes { buffer in
      Result { () throws(ArchiveError) in try read(into: buffer, at: offset) }
    }.get()
  }
}
