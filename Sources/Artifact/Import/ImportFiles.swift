import Blobstore
import Foundation
import OCI

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

extension ImportPlacer {
  /// One file entry to place: its layer goes to `path` (relative to the directory).
  struct FilePlacement {
    var path: String
    var layer: Digest
    var mode: mode_t
  }

  /// Checks every file entry before anything is placed (SPEC 5.4): a safe relative path, a
  /// one-layer manifest whose layer was staged, no two entries at one path with different
  /// content or one entry's path a directory of another's, and a target in DIR that nothing
  /// blocks. Why up front: a refusal after `images/` was placed left a complete-looking
  /// layout without a stamp.
  func planFiles(_ entries: [Descriptor]) throws(ImportError) -> [FilePlacement] {
    var claimed: [String: Digest] = [:]
    var plan: [FilePlacement] = []
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
      guard staging.contains(layer) else { throw .missingBlob(layer, neededBy: raw) }
      try Self.checkTarget(of: path, in: directory)
      let kind = entry.annotation(AnnotationKey.artifactKind) ?? "file"
      plan.append(FilePlacement(path: path, layer: layer, mode: kind == "file" ? 0o755 : 0o644))
    }
    for file in plan {
      var parent = parentDirectory(of: file.path)
      while parent != "." && parent != "/" {
        if claimed[parent] != nil {
          throw .unsafeFilePath(
            path: file.path, reason: "'\(parent)' is a file of the artifact too, not a directory")
        }
        parent = parentDirectory(of: parent)
      }
    }
    return plan
  }

  /// Places each planned file: its layer moved (or copied, when shared with an image or an
  /// earlier file) to a temp name beside the target, then renamed over it.
  func placeFiles(_ plan: [FilePlacement], imageBlobs: Set<Digest>) throws(ImportError)
    -> [String]
  {
    var firstPlace: [Digest: String] = [:]
    var written: [String] = []
    for file in plan {
      let target = directory + "/" + file.path
      try Self.prepareParents(of: file.path, in: directory)
      let temp = parentDirectory(of: target) + "/.\(UUID().uuidString).kk-tmp"
      if let earlier = firstPlace[file.layer] {
        try Self.copy(earlier, to: temp)
      } else if imageBlobs.contains(file.layer) {
        try Self.copy(staging.path(for: file.layer), to: temp)
      } else {
        try Self.rename(staging.path(for: file.layer), to: temp)
      }
      _ = chmod(temp, file.mode)
      do {
        try Self.rename(temp, to: target)
      } catch {
        unlink(temp)
        throw error
      }
      firstPlace[file.layer] = firstPlace[file.layer] ?? target
      written.append(file.path)
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

  /// What in `directory` blocks placing a file at `path`, read without changing anything:
  /// an existing component above it that is not a real directory (a symlink there could
  /// point outside `directory`), or an existing target that is not a regular file.
  static func checkTarget(of path: String, in directory: String) throws(ImportError) {
    let parts = path.split(separator: "/").map(String.init)
    var current = directory
    for (position, part) in parts.enumerated() {
      current += "/" + part
      var info = stat()
      // Missing: created when placing (which reports any other error it meets).
      guard lstat(current, &info) == 0 else { return }
      let type = info.st_mode & S_IFMT
      let isLast = position == parts.count - 1
      if isLast ? type == S_IFREG : type == S_IFDIR { continue }
      var what = ImportImagesDirectory.describe(type)
      if type == S_IFLNK { what += " to \(ImportImagesDirectory.linkTarget(of: current))" }
      what += isLast ? ", not a regular file" : ", not a directory"
      throw .pathInTheWay(path: path, blocker: current, what: what)
    }
  }

  /// Creates the directories above `path` one by one, checking each component again as
  /// ``checkTarget(of:in:)`` did (the directory may have changed since).
  static func prepareParents(of path: String, in directory: String) throws(ImportError) {
    try checkTarget(of: path, in: directory)
    let parts = path.split(separator: "/").dropLast().map(String.init)
    var current = directory
    for part in parts {
      current += "/" + part
      if mkdir(current, 0o755) != 0 && errno != EEXIST {
        throw .io(path: current, operation: "create directory", errno: errno)
      }
    }
    try checkTarget(of: path, in: directory)
  }

  /// Puts `source` at `destination` through `temp`: a hard link (a copy across file
  /// systems) renamed over whatever regular file had that name, so a blob left by an
  /// earlier import or edited by hand is replaced by the verified one.
  func link(_ source: String, to destination: String, through temp: String) throws(ImportError) {
    unlink(temp)
    if Glibc.link(source, temp) != 0 { try Self.copy(source, to: temp) }
    do {
      try Self.rename(temp, to: destination)
    } catch {
      unlink(temp)
      throw error
    }
    // rename() of two names of one file does nothing and leaves `temp` (POSIX).
    unlink(temp)
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
