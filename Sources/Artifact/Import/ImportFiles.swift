import Blobstore
import Foundation
import OCI

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

extension ImportPlacer {
  /// Places each file entry's single layer at its `io.kubekey.path`.
  func placeFiles(_ entries: [Descriptor], imageBlobs: Set<Digest>) throws(ImportError)
    -> [String]
  {
    var claimed: [String: Digest] = [:]
    var firstPlace: [Digest: String] = [:]
    var written: [String] = []
    for entry in entries {
      guard let raw = entry.annotation(AnnotationKey.path) else { continue }
      let path = try Self.safeRelativePath(raw)
      let manifest = try parse(entry, owner: raw)
      guard case .manifest(let fileManifest) = manifest.content, fileManifest.layers.count == 1
      else {
        throw .malformed(
          what: "file manifest \(entry.digest) for \(raw)",
          reason: "a file is a manifest with exactly one layer")
      }
      let layer = fileManifest.layers[0].digest
      if let other = claimed[path] {
        if other != layer { throw .conflictingFilePath(path: path) }
        continue
      }
      claimed[path] = layer
      guard staging.contains(layer) || firstPlace[layer] != nil else {
        throw .missingBlob(layer, neededBy: raw)
      }
      let target = directory + "/" + path
      try Self.prepareParents(of: path, in: directory)
      let temp = (target as NSString).deletingLastPathComponent + "/.\(UUID().uuidString).kk-tmp"
      if let earlier = firstPlace[layer] {
        try Self.copy(earlier, to: temp)
      } else if imageBlobs.contains(layer) {
        try Self.copy(staging.path(for: layer), to: temp)
      } else {
        try Self.rename(staging.path(for: layer), to: temp)
      }
      let kind = entry.annotation(AnnotationKey.artifactKind) ?? "file"
      _ = chmod(temp, kind == "file" ? 0o755 : 0o644)
      do {
        try Self.rename(temp, to: target)
      } catch {
        unlink(temp)
        throw error
      }
      firstPlace[layer] = firstPlace[layer] ?? target
      written.append(path)
    }
    return written
  }

  /// The canonical relative form of an `io.kubekey.path`, refused when it is absolute, has
  /// `..`, or lands in the import's own `images/` or hidden directories.
  static func safeRelativePath(_ raw: String) throws(ImportError) -> String {
    let path: String
    switch EntryName.normalize(raw) {
    case .success(let normalized): path = normalized
    case .failure(let refusal): throw .unsafeFilePath(path: raw, reason: refusal.reason)
    }
    let first = path.split(separator: "/").first.map(String.init) ?? path
    if first == "images" || first.hasPrefix(".kk-") {
      throw .unsafeFilePath(path: raw, reason: "'\(first)' is reserved for the import itself")
    }
    return path
  }

  /// Creates the directories above `path` one by one, refusing any existing component that
  /// is not a real directory (a symlink there could point outside `directory`), and refusing
  /// a target that is a directory or a link.
  static func prepareParents(of path: String, in directory: String) throws(ImportError) {
    let parts = path.split(separator: "/").map(String.init)
    var current = directory
    for (position, part) in parts.enumerated() {
      current += "/" + part
      var info = stat()
      let exists = lstat(current, &info) == 0
      let isLast = position == parts.count - 1
      if isLast {
        if exists && (info.st_mode & S_IFMT) != S_IFREG {
          throw .unsafeFilePath(path: path, reason: "\(current) exists and is not a regular file")
        }
        return
      }
      if exists {
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
          throw .unsafeFilePath(
            path: path, reason: "\(current) is not a directory (a link or file is in the way)")
        }
      } else if mkdir(current, 0o755) != 0 && errno != EEXIST {
        throw .io(path: current, operation: "create directory", errno: errno)
      }
    }
  }

  func link(_ source: String, to destination: String) throws(ImportError) {
    if Glibc.link(source, destination) == 0 || errno == EEXIST { return }
    try Self.copy(source, to: destination)
  }

  static func rename(_ source: String, to destination: String) throws(ImportError) {
    guard Glibc.rename(source, destination) == 0 else {
      throw .io(path: destination, operation: "rename \(source) to", errno: errno)
    }
  }

  /// A streaming copy into a new file (`O_EXCL`: never through an existing name).
  static func copy(_ source: String, to destination: String) throws(ImportError) {
    let input = open(source, O_RDONLY | O_CLOEXEC)
    guard input >= 0 else { throw .io(path: source, operation: "open", errno: errno) }
    defer { close(input) }
    let output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
    guard output >= 0 else { throw .io(path: destination, operation: "create", errno: errno) }
    defer { close(output) }
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    defer { buffer.deallocate() }
    while true {
      let count = read(input, buffer.baseAddress, buffer.count)
      if count < 0 && errno == EINTR { continue }
      guard count >= 0 else { throw .io(path: source, operation: "read", errno: errno) }
      if count == 0 { break }
      var offset = 0
      while offset < count {
        let wrote = write(output, buffer.baseAddress! + offset, count - offset)
        if wrote < 0 && errno == EINTR { continue }
        guard wrote > 0 else { throw .io(path: destination, operation: "write", errno: errno) }
        offset += wrote
      }
    }
  }

  /// Writes small bytes to a temp name and renames them over `path`.
  static func writeAtomically(_ bytes: [UInt8], to path: String) throws(ImportError) {
    let temp = path + ".\(getpid()).kk-tmp"
    let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
    guard fd >= 0 else { throw .io(path: temp, operation: "create", errno: errno) }
    let ok = bytes.withUnsafeBytes { raw in write(fd, raw.baseAddress, raw.count) == raw.count }
    close(fd)
    guard ok else {
      unlink(temp)
      throw .io(path: temp, operation: "write", errno: errno)
    }
    try rename(temp, to: path)
  }
}
