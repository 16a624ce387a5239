#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

extension BlobStore {
  /// Removes the temp files of private ingests (`.ingest/<hex>.<pid>.<n>.partial`, as
  /// `writer(expecting:size:)` names them) whose writer's pid `matches`; returns their paths.
  ///
  /// Why: a writer that dies before `commit()` or `cancel()` (a kill, a signal) leaves its
  /// partial file, and no later ingest reuses it (each names its own), so a layout that is
  /// copied into again and again after interruptions grew by the interrupted bytes each time.
  /// The pid in the name says whose a file is: a caller removes its own on an interrupt, or
  /// those of processes that are gone. Only names of exactly that form are touched; `.resume`
  /// downloads, the index lock and anything else stay.
  @discardableResult
  public func removePartialFiles(writtenBy matches: (Int32) -> Bool) -> [String] {
    var removed: [String] = []
    for name in FileIO.list(ingestDirectory) {
      let parts = name.split(separator: ".", omittingEmptySubsequences: false)
      guard parts.count == 4, parts[3] == "partial", parts[0].count == 64,
        parts[0].allSatisfy({ $0.isASCII && $0.isHexDigit }),
        parts[1].allSatisfy({ $0.isASCII && $0.isNumber }),
        let pid = Int32(parts[1]), pid > 0, matches(pid)
      else { continue }
      let path = ingestDirectory + "/" + name
      if unlink(path) == 0 { removed.append(path) }
    }
    return removed
  }
}
