/// How an artifact archive's tar stream is compressed.
///
/// Writers choose it from the output name (the user asked for `.tar.zst`); readers learn it
/// from magic bytes, because artifacts get renamed on their way to an air-gapped site.
public enum ArchiveCompression: String, Sendable, CaseIterable {
  case none = "tar"
  case gzip = "tar.gz"
  case zstd = "tar.zst"

  /// The compression a writer uses for `path`, chosen by its extension.
  public static func forOutput(path: String) throws(ArchiveError) -> ArchiveCompression {
    let name = path.split(separator: "/").last.map(String.init)?.lowercased() ?? ""
    if name.hasSuffix(".tar.gz") || name.hasSuffix(".tgz") { return .gzip }
    if name.hasSuffix(".tar.zst") { return .zstd }
    if name.hasSuffix(".tar") { return .none }
    throw .unsupportedExtension(path: path)
  }
}

/// What the caller knows about an entry's bytes, so the gzip writer can skip recompressing
/// data that is already compressed (container layers, tarballs) and store it instead.
public enum EntryCompressibility: Sendable, Equatable {
  /// Decide from the entry's first bytes (gzip, zstd, xz, bzip2, zip magic → store); other
  /// entries of 1 MiB or more (binaries) are deflated in chunks (`ChunkedDeflater`), smaller
  /// ones at level 6.
  case auto
  /// Already compressed: stored blocks, near memcpy speed, no size gain to chase.
  case compressed
  /// JSON, YAML, uncompressed tars: deflate at level 6.
  case compressible

  /// Maps an OCI/Docker media type to a hint; unknown types fall back to `.auto`.
  public init(mediaType: String?) {
    guard let mediaType else {
      self = .auto
      return
    }
    // Layers: `...tar+gzip`, `...tar+zstd`, Docker's `...tar.gzip`; plain gzip/zstd files.
    let compressedSuffixes = ["+gzip", "+zstd", ".gzip", "/gzip", "/zstd"]
    // Manifests and configs (`+json`, `json`), YAML, uncompressed layer tars.
    let compressibleSuffixes = ["json", "yaml", ".tar"]
    if compressedSuffixes.contains(where: mediaType.hasSuffix) {
      self = .compressed
    } else if compressibleSuffixes.contains(where: mediaType.hasSuffix) {
      self = .compressible
    } else {
      self = .auto
    }
  }

  /// Whether `prefix` (an entry's first bytes) starts with a known compressed-format magic.
  static func looksCompressed(_ prefix: UnsafeRawBufferPointer) -> Bool {
    func starts(with magic: [UInt8]) -> Bool {
      prefix.count >= magic.count && zip(prefix, magic).allSatisfy { $0 == $1 }
    }
    return starts(with: [0x1f, 0x8b])  // gzip
      || starts(with: [0x28, 0xb5, 0x2f, 0xfd])  // zstd
      || starts(with: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])  // xz
      || starts(with: [0x42, 0x5a, 0x68])  // bzip2
      || starts(with: [0x50, 0x4b, 0x03, 0x04])  // zip / jar
      || starts(with: [0x89, 0x50, 0x4e, 0x47])  // png
  }
}
