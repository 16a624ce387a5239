import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The output of one export, checked and claimed before anything is downloaded.
///
/// Why a lock: two exports to the same `-o` both wrote `OUT.partial`; one then failed to
/// rename a file the other had already renamed, and the other printed the sha256 of bytes that
/// were not what ended up under `OUT`. Now each export holds `flock(2)` on `OUT.partial` from
/// before the first download until it returns (after the rename); a second export finds it
/// locked and stops at once. The file is opened without `O_TRUNC` (truncating before holding
/// the lock would clobber the holder's bytes), and a stale `OUT.partial` of a crashed run
/// does not block: the kernel drops a lock with its process.
public final class ExportOutput: @unchecked Sendable {
  // @unchecked: `fd` changes only in `claim()` and `release()`, called by the one export
  // that owns this value, never concurrently.
  public let path: String
  public let partialPath: String
  private var fd: Int32 = -1

  /// Checks `output` as the command would (extension, an existing file without `force`, a
  /// directory under that name, the parent directory: created when missing, and writable),
  /// then locks `OUT.partial`.
  public init(_ output: String, force: Bool) throws(ExportError) {
    path = output
    partialPath = output + ".partial"
    try Self.check(output, force: force)
    try Self.makeParent(of: output)
    try claim()
  }

  deinit { release() }

  /// The checks that need no file system changes: `-o` names a `.tar.gz` (or `.tgz`),
  /// `.tar.zst` or `.tar` file (any case) that is not a directory and, without `force`, does
  /// not exist.
  public static func check(_ output: String, force: Bool) throws(ExportError) {
    do {
      _ = try ArchiveCompression.forOutput(path: output)
    } catch {
      throw .invalidInput(
        "\(output): the artifact name must end in .tar.gz (or .tgz), .tar.zst or .tar")
    }
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory) {
      if isDirectory.boolValue {
        throw .invalidInput(
          "\(output) is a directory; -o names the artifact file, e.g. "
            + "\(output)/kubekey-artifact.tar.gz")
      }
      if !force { throw .outputExists(path: output) }
    }
  }

  /// The directory the artifact goes into ("." for a bare name).
  public var directory: String { Self.directory(of: path) }

  static func directory(of output: String) -> String {
    parentDirectory(of: output)
  }

  /// Creates the output's directory now: finding out after the downloads that `-o` points
  /// into a missing directory would waste them.
  private static func makeParent(of output: String) throws(ExportError) {
    let parent = parentDirectory(of: output)
    guard parent != "." else { return }
    do {
      try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
    } catch {
      throw .invalidInput(
        "\(output): cannot create the directory \(parent) (\(error.localizedDescription)); "
          + "choose another -o")
    }
  }

  /// Opens (or creates) `OUT.partial` without truncating it and takes the lock. Between
  /// another export's rename and our lock the name may have moved on to a new file: then the
  /// lock guards nothing, and the open is repeated.
  private func claim() throws(ExportError) {
    for _ in 0..<8 {
      let fd = open(partialPath, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
      guard fd >= 0 else { throw Self.openFailure(partialPath, directory: directory, errno) }
      if flock(fd, LOCK_EX | LOCK_NB) != 0 {
        let error = errno
        close(fd)
        if error == EWOULDBLOCK || error == EAGAIN { throw Self.busy(path) }
        throw .store("\(partialPath): cannot lock: \(String(cString: strerror(error)))")
      }
      if Self.sameFile(fd, partialPath) {
        self.fd = fd
        return
      }
      close(fd)
    }
    throw Self.busy(path)
  }

  /// For the second attempt of an export (after a torn cache blob): the first attempt's
  /// writer deleted `OUT.partial`, so the lock is taken again on the name.
  func reclaimIfGone() throws(ExportError) {
    guard fd < 0 || !Self.sameFile(fd, partialPath) else { return }
    let old = fd
    fd = -1
    defer { if old >= 0 { close(old) } }
    try claim()
  }

  /// Drops the lock. `OUT.partial`, when it is still the (empty or abandoned) file this
  /// export locked, is deleted first: a failed export leaves nothing under the output's name.
  public func release() {
    guard fd >= 0 else { return }
    if Self.sameFile(fd, partialPath) { unlink(partialPath) }
    close(fd)
    fd = -1
  }

  /// `ExportError` gains no case for this: a new case changed the enum's layout and the
  /// typed-throws paths of other commands (`kk cache info` on a file) crashed at run time
  /// (Swift 6 compiler; seen with this toolchain).
  private static func busy(_ output: String) -> ExportError {
    .invalidInput(
      "another kk export is writing \(output) (\(output).partial is locked); wait for it or "
        + "choose another -o")
  }

  private static func sameFile(_ fd: Int32, _ path: String) -> Bool {
    var held = stat()
    var named = stat()
    return fstat(fd, &held) == 0 && stat(path, &named) == 0 && held.st_dev == named.st_dev
      && held.st_ino == named.st_ino
  }

  private static func openFailure(_ path: String, directory: String, _ code: Int32) -> ExportError {
    let reason = String(cString: strerror(code))
    switch code {
    case EACCES, EPERM, EROFS, ENOENT, ENOTDIR:
      return .invalidInput(
        "the output directory \(directory) is not writable (cannot create \(path): \(reason)); "
          + "choose another -o")
    default:
      return .store("cannot create \(path): \(reason) (errno \(code)); choose another -o")
    }
  }
}
