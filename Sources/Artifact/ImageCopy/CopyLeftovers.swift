import Blobstore
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What a copy that did not finish leaves on disk, and how the next one finds it.
///
/// Why: a copy killed mid-download (SIGKILL, or a signal before it could clean up) left its
/// `.ingest/<hex>.<pid>.<n>.partial` files in the destination layout and, registry to
/// registry, a whole staging layout in the temp directory; nothing removed them, so every
/// interrupted run added its downloaded bytes for good. Both carry the writer's pid in their
/// names: an interrupted copy removes its own, and a later copy removes those whose process
/// is gone. A live process's files are never touched.
public enum CopyLeftovers {
  /// Staging directories are `kk-copy-<pid>-<UUID>` in the temp directory.
  static let stagingPrefix = "kk-copy-"

  /// Where a copy stages blobs when it is given no directory (`$TMPDIR`).
  public static var temporaryDirectory: String {
    FileManager.default.temporaryDirectory.path
  }

  /// A new staging directory path for this process in `parent`.
  static func newStagingPath(in parent: String) -> String {
    "\(parent)/\(stagingPrefix)\(getpid())-\(UUID().uuidString)"
  }

  /// The staging directories in `parent` whose pid `matches`: only directories (not links)
  /// named exactly `kk-copy-<pid>-<UUID>` and owned by this user.
  public static func stagingDirectories(
    in parent: String = temporaryDirectory, writtenBy matches: (Int32) -> Bool
  ) -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []
    return names.compactMap { name -> String? in
      guard name.hasPrefix(stagingPrefix) else { return nil }
      let rest = name.dropFirst(stagingPrefix.count)
      guard let dash = rest.firstIndex(of: "-") else { return nil }
      let digits = rest[..<dash]
      guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
        let pid = Int32(digits), pid > 0,
        UUID(uuidString: String(rest[rest.index(after: dash)...])) != nil
      else { return nil }
      let path = parent + "/" + name
      var info = stat()
      guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR,
        info.st_uid == geteuid(), matches(pid)
      else { return nil }
      return path
    }
  }

  /// Removes the staging directories in `parent` left by processes that are gone; returns
  /// their paths. Run before a copy stages anything.
  @discardableResult
  public static func removeAbandonedStaging(in parent: String = temporaryDirectory) -> [String] {
    stagingDirectories(in: parent, writtenBy: processIsGone).filter { path in
      (try? FileManager.default.removeItem(atPath: path)) != nil
    }
  }

  /// Removes the partial files in `store` left by processes that are gone; returns their
  /// paths. Run before a copy writes into the layout.
  @discardableResult
  public static func removeAbandonedPartials(in store: BlobStore) -> [String] {
    store.removePartialFiles(writtenBy: processIsGone)
  }

  /// For an interrupt handler: removes this process's partial files in `destination`, when
  /// it is a layout.
  public static func removeOwnPartials(in destination: ImageLocation) {
    let pid = getpid()
    if case .layout(let path, _) = destination, let store = try? BlobStore.open(at: path) {
      store.removePartialFiles { $0 == pid }
    }
  }

  /// For an interrupt handler: this process's staging directories in the temp directory,
  /// for the caller to discard (rename, then delete: transfers may still write into them).
  public static var ownStagingDirectories: [String] {
    let pid = getpid()
    return stagingDirectories { $0 == pid }
  }
}
