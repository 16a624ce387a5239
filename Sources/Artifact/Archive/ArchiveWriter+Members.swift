import CArchive

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

extension ArchiveWriter {
  /// Adds an entry of `size` bytes whose data is given already deflated: the gzip members a
  /// chunked entry produced (`addFile(capture:)`), read from the file at `members`.
  ///
  /// Why: a warm export packs the same binaries again; copying their members from the export
  /// cache instead of deflating them again makes the artifact's cost a copy. The tar header
  /// and padding are written as for any entry, and the members are placed exactly where
  /// `addFile` would have put them, so the archive is byte-identical when `members` holds
  /// what `addFile` wrote for the same data with the same `chunking`. The caller vouches for
  /// that (the packer checks the members' sha256 against the cache's record first); here only
  /// the copy is checked (`observe` sees every byte copied, for a second digest check).
  public func addGzipMembers(
    name: String, size: Int64, members: String,
    observe: ((UnsafeRawBufferPointer) -> Void)? = nil
  ) throws(ArchiveError) {
    guard !closed else {
      throw .misuse("\(path): entry '\(name)' added after the archive was closed")
    }
    guard compression == .gzip else {
      throw .misuse("\(path): gzip members copied into a \(compression.rawValue) archive")
    }
    do throws(ArchiveError) {
      try writeHeader(name: name, size: size)
      try copyMembers(from: members, observe: observe)
      try feedDroppedZeros(name: name, size: size)
    } catch {
      abandon()
      throw error
    }
  }

  /// Whether the file's data is already compressed: the hint, or for `.auto` its first bytes.
  func isCompressed(fd: Int32, file: String, hint: EntryCompressibility) throws(ArchiveError)
    -> Bool
  {
    switch hint {
    case .compressed: return true
    case .compressible: return false
    case .auto:
      var n: Int
      repeat { n = pread(fd, chunk.baseAddress, 64, 0) } while n < 0 && errno == EINTR
      guard n >= 0 else { throw .io(path: file, operation: "read", errno: errno) }
      return EntryCompressibility.looksCompressed(UnsafeRawBufferPointer(rebasing: chunk[..<n]))
    }
  }

  /// Adds an already-compressed file as one stored member whose data is read from `fd`
  /// straight into the output buffers (`StoredMember.fill`): no copy into `chunk`, none from
  /// there into the output. The bytes are those `add` would write for the same entry.
  func addStored(
    name: String, size: Int64, fd: Int32, file: String,
    observe: ((UnsafeRawBufferPointer) -> Void)?
  ) throws(ArchiveError) {
    guard !closed else {
      throw .misuse("\(path): entry '\(name)' added after the archive was closed")
    }
    do throws(ArchiveError) {
      try writeHeader(name: name, size: size)
      let member = StoredMember(size: size)
      try member.header.withUnsafeBytes { bytes in
        Result { () throws(ArchiveError) in try sink.writeMembers(bytes) }
      }.get()
      try member.fill(from: fd, path: file, into: sink.file, observe: observe)
      try member.trailer(path: path).withUnsafeBytes { bytes in
        Result { () throws(ArchiveError) in try sink.writeMembers(bytes) }
      }.get()
      try feedDroppedZeros(name: name, size: size)
    } catch {
      abandon()
      throw error
    }
  }

  /// libarchive still counts an entry's data written around it: gives it `size` zeros, which
  /// the sink drops, so that it writes the padding and keeps its bookkeeping.
  private func feedDroppedZeros(name: String, size: Int64) throws(ArchiveError) {
    try sink.beginSkipping(size: size)
    chunk.initializeMemory(as: UInt8.self, repeating: 0)
    var remaining = size
    while remaining > 0 {
      let count = Int(min(Int64(chunk.count), remaining))
      guard archive_write_data(archive, chunk.baseAddress, count) == count else {
        throw sink.failure ?? .compression(path: path, detail: message())
      }
      remaining -= Int64(count)
    }
    try sink.endSkipping(entry: name, size: size)
    try check(archive_write_finish_entry(archive))
  }

  private func copyMembers(from file: String, observe: ((UnsafeRawBufferPointer) -> Void)?)
    throws(ArchiveError)
  {
    let fd = open(file, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw .io(path: file, operation: "open for reading", errno: errno) }
    defer { close(fd) }
    while true {
      let n = read(fd, chunk.baseAddress, chunk.count)
      if n < 0 {
        if errno == EINTR { continue }
        throw .io(path: file, operation: "read", errno: errno)
      }
      if n == 0 { break }
      let bytes = UnsafeRawBufferPointer(rebasing: chunk[..<n])
      observe?(bytes)
      try sink.writeMembers(bytes)
    }
  }
}
