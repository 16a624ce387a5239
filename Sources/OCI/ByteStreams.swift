/// Where streamed bytes go: a hasher, a file being ingested, a registry upload.
///
/// The registry client writes response bodies into a sink as they arrive, so memory never
/// grows with blob size. A sink is used by one transfer at a time, possibly from a transfer
/// thread, hence `Sendable`; implementations guard their own state.
public protocol ByteSink: AnyObject, Sendable {
  /// Takes the next bytes of the stream. Throwing aborts the transfer.
  func write(_ bytes: UnsafeRawBufferPointer) throws
}

/// Where streamed bytes come from: a blob file, an entry inside an archive being read.
///
/// Upload bodies are pulled from a source through curl's read callback.
public protocol ByteSource: AnyObject, Sendable {
  /// Fills up to `buffer.count` bytes and returns how many; 0 means the end of the stream.
  func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}
