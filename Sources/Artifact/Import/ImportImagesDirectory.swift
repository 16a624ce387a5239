import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// `DIR/images` as SPEC 5.4 has it: exactly the artifact's OCI layout, inside DIR.
///
/// Why so strict: KubeKey and `kk artifact images push --images-dir` read that directory as a
/// layout, so a stray file there is an orphan `verify` complains about, and a symlink there
/// (or under it) would make the import write outside DIR. Removal works on directory file
/// descriptors opened with `O_NOFOLLOW` and `unlinkat`, so it never follows a link and never
/// leaves the directory it was given.
enum ImportImagesDirectory {
  /// The only names a layout directory holds (besides blobs), each with the type it must be.
  static let layoutFiles = ["oci-layout", "index.json"]

  /// Refuses a `DIR/images` that exists but is not a real directory (a symlink, even to a
  /// directory, a regular file, a socket...). Runs before the import writes anything.
  static func check(in directory: String) throws(ImportError) {
    let path = directory + "/images"
    var info = stat()
    // Anything but "is there": missing is fine, and other errors surface when DIR is made.
    guard lstat(path, &info) == 0 else { return }
    let type = info.st_mode & S_IFMT
    guard type != S_IFDIR else { return }
    if type == S_IFLNK {
      throw .imagesNotADirectory(
        path: path, directory: directory, kind: "a symlink", linkTarget: linkTarget(of: path))
    }
    throw .imagesNotADirectory(
      path: path, directory: directory, kind: describe(type), linkTarget: nil)
  }

  /// Before placing: removes everything in `images` that is not part of a layout, so that
  /// what is placed next lands in real directories (`blobs/sha256` is no link) and nothing
  /// foreign stays. Regular blob files are kept here (the old layout stays whole should the
  /// import fail while placing); ``removeBlobs(in:keeping:)`` prunes them after the new
  /// `index.json` is written.
  static func removeForeign(in images: String) throws(ImportError) {
    guard let top = try openDirectory(images) else { return }
    defer { close(top) }
    try prune(top, path: images) { name, type in
      layoutFiles.contains(name) ? type == S_IFREG : name == "blobs" && type == S_IFDIR
    }
    guard let blobs = try openDirectory("blobs", in: top, path: images + "/blobs") else { return }
    defer { close(blobs) }
    try prune(blobs, path: images + "/blobs") { name, type in name == "sha256" && type == S_IFDIR }
    let sha256Path = images + "/blobs/sha256"
    guard let sha256 = try openDirectory("sha256", in: blobs, path: sha256Path) else { return }
    defer { close(sha256) }
    try prune(sha256, path: sha256Path) { _, type in type == S_IFREG }
  }

  /// Removes every entry of `images/blobs/sha256` that is not one of `keep` (hex names).
  static func removeBlobs(in images: String, keeping keep: Set<String>) throws(ImportError) {
    let path = images + "/blobs/sha256"
    guard let fd = try openDirectory(path) else { return }
    defer { close(fd) }
    try prune(fd, path: path) { name, type in type == S_IFREG && keep.contains(name) }
  }

  /// Removes each entry of the directory `fd` for which `keep(name, type)` is false.
  private static func prune(
    _ fd: Int32, path: String, keep: (String, mode_t) -> Bool
  ) throws(ImportError) {
    for name in try names(in: fd, path: path) {
      var info = stat()
      guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
      if !keep(name, info.st_mode & S_IFMT) {
        try removeTree(name, in: fd, path: path + "/" + name)
      }
    }
  }

  /// Removes `name` in the directory `parent`: a directory with everything in it, anything
  /// else (a symlink included) by unlinking the name itself.
  private static func removeTree(_ name: String, in parent: Int32, path: String)
    throws(ImportError)
  {
    var info = stat()
    guard fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return }
    if info.st_mode & S_IFMT == S_IFDIR {
      if let child = try openDirectory(name, in: parent, path: path) {
        defer { close(child) }
        for entry in try names(in: child, path: path) {
          try removeTree(entry, in: child, path: path + "/" + entry)
        }
      }
      guard unlinkat(parent, name, AT_REMOVEDIR) == 0 || errno == ENOENT else {
        throw .io(path: path, operation: "remove", errno: errno)
      }
    } else {
      guard unlinkat(parent, name, 0) == 0 || errno == ENOENT else {
        throw .io(path: path, operation: "remove", errno: errno)
      }
    }
  }

  /// Opens a directory without following a link; nil when it does not exist.
  private static func openDirectory(_ name: String, in parent: Int32 = AT_FDCWD, path: String)
    throws(ImportError) -> Int32?
  {
    let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
    guard fd < 0 else { return fd }
    if errno == ENOENT { return nil }
    throw .io(path: path, operation: "open directory", errno: errno)
  }

  private static func openDirectory(_ path: String) throws(ImportError) -> Int32? {
    try openDirectory(path, path: path)
  }

  /// The entry names of the directory `fd` (read through a duplicate, so `fd` stays open).
  private static func names(in fd: Int32, path: String) throws(ImportError) -> [String] {
    let copy = dup(fd)
    guard copy >= 0, let stream = fdopendir(copy) else {
      let code = errno
      if copy >= 0 { close(copy) }
      throw .io(path: path, operation: "read directory", errno: code)
    }
    defer { closedir(stream) }
    rewinddir(stream)
    var names: [String] = []
    while let entry = readdir(stream) {
      let name = withUnsafePointer(to: entry.pointee.d_name) { tuple in
        tuple.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names
  }

  /// Where the link at `path` points, as an absolute, standardized path.
  static func linkTarget(of path: String) -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let count = readlink(path, &buffer, buffer.count - 1)
    guard count >= 0 else { return "?" }
    buffer[count] = 0
    var target = String(cString: buffer)
    if !target.hasPrefix("/") {
      var base = parentDirectory(of: path)
      if !base.hasPrefix("/") { base = FileManager.default.currentDirectoryPath + "/" + base }
      target = base + "/" + target
    }
    return (target as NSString).standardizingPath
  }

  /// "a regular file", "a symlink"...: what is in the way, for messages.
  static func describe(_ type: mode_t) -> String {
    switch type {
    case S_IFREG: return "a regular file"
    case S_IFDIR: return "a directory"
    case S_IFLNK: return "a symlink"
    case S_IFIFO: return "a FIFO"
    case S_IFSOCK: return "a socket"
    default: return "a device"
    }
  }
}
