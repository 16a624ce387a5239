import CArchive

/// libarchive's output callback target: the tar (or zstd) stream goes to the serial gzip
/// encoder, to the chunked deflater (the data of a large raw entry), to the file, or nowhere
/// (the data of an entry whose members were copied in already).
final class ArchiveSink {
  /// Where the bytes libarchive writes go now.
  enum Mode {
    /// Serial gzip members, or the file itself (tar, tar.zst).
    case serial
    /// An entry's data, deflated in chunks; each member also goes to `capture`.
    case chunked(capture: ((UnsafeRawBufferPointer) throws(ArchiveError) -> Void)?)
    /// An already-compressed entry's data, as a member of stored blocks.
    case stored(StoredMember)
    /// An entry whose gzip members were written already: its data bytes (zeros fed to
    /// libarchive so that it writes the tar padding) are counted and dropped.
    case skipping(remaining: Int64)
  }

  let file: PartialFile
  let gzip: GzipMemberEncoder?
  let chunked: ChunkedDeflater?
  /// The first error the callback hit; libarchive only sees "-1".
  var failure: ArchiveError?
  private(set) var mode = Mode.serial

  init(file: PartialFile, gzip: GzipMemberEncoder?, chunked: ChunkedDeflater?) {
    self.file = file
    self.gzip = gzip
    self.chunked = chunked
  }

  /// Ends the serial member and sends what follows (the entry's data) to the chunked deflater.
  func beginChunked(capture: ((UnsafeRawBufferPointer) throws(ArchiveError) -> Void)?)
    throws(ArchiveError)
  {
    guard let gzip, chunked != nil else { throw .misuse("\(file.finalPath): no chunked deflate") }
    try gzip.finishMember()
    mode = .chunked(capture: capture)
  }

  /// Emits the entry's last members; what follows (the tar padding) starts a serial member.
  func endChunked() throws(ArchiveError) {
    guard case .chunked(let capture) = mode, let chunked, let gzip else { return }
    mode = .serial
    try chunked.finish { (member) throws(ArchiveError) in
      try gzip.writeMembers(member)
      try capture?(member)
    }
  }

  /// Ends the serial member and writes the entry's `size` data bytes, which follow, as one
  /// member of stored blocks (`StoredMember`).
  func beginStored(size: Int64) throws(ArchiveError) {
    guard let gzip else { throw .misuse("\(file.finalPath): stored members in a non-gzip") }
    let member = StoredMember(size: size)
    try member.header.withUnsafeBytes { bytes in
      Result { () throws(ArchiveError) in try gzip.writeMembers(bytes) }
    }.get()
    mode = .stored(member)
  }

  /// Ends the stored member with its trailer; what follows (the tar padding) starts a serial
  /// member.
  func endStored() throws(ArchiveError) {
    guard case .stored(let member) = mode, let gzip else { return }
    mode = .serial
    let trailer = try member.trailer(path: file.finalPath)
    try trailer.withUnsafeBytes { bytes in
      Result { () throws(ArchiveError) in try gzip.writeMembers(bytes) }
    }.get()
  }

  /// Ends the serial member, copies finished members in, and drops the next `size` bytes.
  func beginSkipping(size: Int64) throws(ArchiveError) {
    guard gzip != nil else { throw .misuse("\(file.finalPath): members copied into a non-gzip") }
    mode = .skipping(remaining: size)
  }

  /// Copies finished gzip members into the stream (between `beginSkipping` and `endSkipping`).
  func writeMembers(_ bytes: UnsafeRawBufferPointer) throws(ArchiveError) {
    guard let gzip else { throw .misuse("\(file.finalPath): members copied into a non-gzip") }
    try gzip.writeMembers(bytes)
  }

  /// Back to serial; throws unless exactly the announced bytes were dropped.
  func endSkipping(entry: String, size: Int64) throws(ArchiveError) {
    guard case .skipping(let remaining) = mode else { return }
    mode = .serial
    guard remaining == 0 else {
      throw .sizeMismatch(
        path: file.finalPath, entry: entry, declared: size, actual: size - remaining)
    }
  }

  /// Returns the byte count, or -1 after recording the error for the writer to rethrow.
  func write(_ bytes: UnsafeRawBufferPointer) -> la_ssize_t {
    do throws(ArchiveError) {
      switch mode {
      case .serial:
        if let gzip { try gzip.write(bytes) } else { try file.write(bytes) }
      case .chunked(let capture):
        guard let chunked, let gzip else { throw .misuse("\(file.finalPath): no chunked deflate") }
        try chunked.write(bytes) { (member) throws(ArchiveError) in
          try gzip.writeMembers(member)
          try capture?(member)
        }
      case .stored(let member):
        try member.write(bytes, to: file)
      case .skipping(let remaining):
        guard Int64(bytes.count) <= remaining else {
          throw .misuse("\(file.finalPath): libarchive wrote past a copied entry")
        }
        mode = .skipping(remaining: remaining - Int64(bytes.count))
      }
      return la_ssize_t(bytes.count)
    } catch {
      if failure == nil { failure = error }
      return -1
    }
  }
}
