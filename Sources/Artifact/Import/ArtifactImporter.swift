import Blobstore
import Foundation
import OCI

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What an import did.
public struct ImportReport: Sendable {
  /// True when the stamp showed this very artifact (same `index.json` digest) was already
  /// imported into the directory; nothing was read past `index.json` and nothing written.
  public var alreadyImported: Bool
  /// sha256 of the artifact's `index.json`: the identity the stamp records.
  public var indexDigest: Digest
  /// Image references placed in `images/index.json`.
  public var images: [String]
  /// Per-architecture entries (`<ref>-<arch>`) added for KubeKey 3.x's push.
  public var archEntries: [String]
  /// KubeKey work-dir paths of the files written, relative to the directory.
  public var files: [String]
  /// Blobs read and verified from the archive, and their total size.
  public var blobsVerified: Int
  public var bytesVerified: Int64
  /// Archive entries that are neither layout files nor blobs; skipped.
  public var ignoredEntries: [String]
}

/// `kk artifact import`: unpacks an artifact into KubeKey's work-dir layout, safely.
///
/// Why stage first: an archive in SPEC order lets a reader plan before the large blobs come,
/// but any order must work (`tar czf` of a layout), and which blob is an image layer and which
/// is a file only follows from `index.json` and the manifests. So every blob is streamed once
/// into a hidden staging store in the target directory, hashed on the way (a blob that does not
/// match its name is never committed), and only then hard-linked to its place: image blobs into
/// `images/blobs`, file layers to a temp name beside their KubeKey path and renamed over it.
/// Staging lives on the same file system as the result, so placing is link + rename, no copy.
public enum ArtifactImporter {
  /// The stamp file in the target directory; holds the imported `index.json` digest.
  public static let stampName = ".kk-import-stamp"
  static let stagingName = ".kk-import-staging"
  static let jsonLimit = 16 << 20

  /// Imports `archive` into `directory` (created if missing).
  ///
  /// When the import fails, a directory this call created is removed again (everything in
  /// it was written by this failed import), so a typo'd or refused import leaves no empty
  /// `--dir` behind; a directory that existed before is never removed.
  ///
  /// - Parameter freeSpace: bytes free on the file system of a path (`statvfs`); checked
  ///   against what the archive's front says its blobs need before anything is written.
  public static func importArtifact(
    archive: String, into directory: String,
    freeSpace: (String) -> Int64? = DiskSpace.available(at:)
  ) throws(ImportError) -> ImportReport {
    let created = missingAncestors(of: directory)
    do {
      return try importInto(archive: archive, directory: directory, freeSpace: freeSpace)
    } catch {
      // Refused because another import holds the directory: it is that import's, even when
      // this one saw it missing a moment before.
      if case .busy = error { throw error }
      if let outermost = created.first { try? FileManager.default.removeItem(atPath: outermost) }
      throw error
    }
  }

  /// What to remove when an import into `directory` is killed by a signal, decided before it
  /// starts: the outermost directory the import would create (all of it is the import's),
  /// else its staging store. Files already placed in an existing directory are whole (each
  /// was renamed into place) and stay; placing removed the stamp first, so the next import
  /// places them again.
  public static func discardOnInterrupt(directory: String) -> [String] {
    if let outermost = missingAncestors(of: directory).first { return [outermost] }
    return [directory + "/" + stagingName]
  }

  /// `path` and those of its parents that do not exist yet, outermost first.
  static func missingAncestors(of path: String) -> [String] {
    var missing: [String] = []
    var probe = (path as NSString).standardizingPath
    if !probe.hasPrefix("/") {
      probe = FileManager.default.currentDirectoryPath + "/" + probe
    }
    while probe != "/" && !probe.isEmpty && !FileManager.default.fileExists(atPath: probe) {
      missing.insert(probe, at: 0)
      probe = parentDirectory(of: probe)
    }
    return missing
  }

  private static func importInto(
    archive: String, directory: String, freeSpace: (String) -> Int64?
  ) throws(ImportError) -> ImportReport {
    try ImportImagesDirectory.check(in: directory)
    // The directory is created and locked before anything in it is read: the stamp check
    // below must not race another import replacing what the stamp describes.
    try makeDirectories(directory)
    let lock = try ImportLock(directory)
    defer { withExtendedLifetime(lock) {} }
    if let stamp = readStamp(directory), let current = try indexDigest(of: archive),
      stamp == current, FileManager.default.fileExists(atPath: directory + "/images/index.json")
    {
      return ImportReport(
        alreadyImported: true, indexDigest: current, images: [], archEntries: [], files: [],
        blobsVerified: 0, bytesVerified: 0, ignoredEntries: [])
    }
    if let needed = neededBytes(of: archive), let free = freeSpace(directory), free < needed {
      throw .noSpace(directory: directory, needed: needed, available: free)
    }
    let stagingPath = directory + "/" + stagingName
    try? FileManager.default.removeItem(atPath: stagingPath)
    defer { try? FileManager.default.removeItem(atPath: stagingPath) }
    let staging: BlobStore
    do { staging = try BlobStore.create(at: stagingPath) } catch { throw .store(error) }

    let scanned = try stage(
      archive: archive, into: staging, directory: directory, freeSpace: freeSpace)
    try verifyStaged(scanned, archive: archive, staging: staging)
    let index: ImageIndex
    do {
      index = try JSONDecoder().decode(ImageIndex.self, from: Data(scanned.indexJSON))
    } catch {
      throw .malformedIndex(path: archive, reason: "is not an OCI image index")
    }
    let placer = ImportPlacer(directory: directory, staging: staging)
    let placed = try placer.place(index: index)
    let indexDigest = SHA256Hasher.digest(scanned.indexJSON)
    try writeStamp(directory, indexDigest)
    return ImportReport(
      alreadyImported: false, indexDigest: indexDigest, images: placed.images,
      archEntries: placed.archEntries, files: placed.files, blobsVerified: scanned.blobs,
      bytesVerified: scanned.bytes, ignoredEntries: scanned.ignored)
  }

  struct Staged {
    var indexJSON: [UInt8]
    var layout: [UInt8]
    /// Every committed blob and its size (each matched its digest on commit).
    var sizes: [Digest: Int64]
    var blobs: Int
    var bytes: Int64
    var ignored: [String]
  }

  /// One pass over the archive: every blob into the staging store (verified on commit), the
  /// layout files into memory. A failed write is reported as the directory's problem
  /// (`writeFailed`), only bytes that do not match their name as a corrupt blob.
  ///
  /// An entry larger than the free space left in `directory` is refused before its first
  /// byte is written (a decompression bomb must not fill the disk first).
  static func stage(
    archive: String, into staging: BlobStore, directory: String,
    freeSpace: (String) -> Int64? = DiskSpace.available(at:)
  ) throws(ImportError) -> Staged {
    var ignored: [String] = []
    var sinks: [ImportSink] = []
    var setupFailure: ImportError?
    let result: (compression: ArchiveCompression?, entries: [ArchiveScanner.Scanned<ImportSink>])
    do {
      result = try ArchiveScanner.scan(path: archive) { name, size in
        if name == "index.json" || name == "oci-layout" {
          let sink = ImportSink(entry: name, directory: directory, .memory(limit: jsonLimit))
          sinks.append(sink)
          return sink
        }
        guard let digest = blobDigest(name) else {
          ignored.append(name)
          return nil
        }
        if size > 0, let free = freeSpace(directory), size > free {
          let refusal = ImportError.entryTooLarge(
            directory: directory, entry: name, size: size, available: free)
          let sink = ImportSink(entry: name, directory: directory, .refuse(refusal))
          sinks.append(sink)
          return sink
        }
        do throws(BlobstoreError) {
          let writer = try staging.writer(expecting: digest, size: size)
          let sink = ImportSink(entry: name, directory: directory, .blob(digest, writer))
          sinks.append(sink)
          return sink
        } catch {
          if setupFailure == nil {
            setupFailure = .staging(entry: name, directory: directory, error)
          }
          return nil
        }
      }
    } catch {
      cancelWriters(sinks)
      if case .consumerFailed(_, let entry, let detail) = error {
        let recorded = sinks.first { $0.entry == entry }?.failure
        throw recorded ?? sinks.lazy.compactMap(\.failure).first
          ?? .corruptBlob(entry: entry, detail: detail)
      }
      throw .archive(error)
    }
    if let setupFailure {
      cancelWriters(sinks)
      throw setupFailure
    }
    var indexJSON: [UInt8]?
    var layout: [UInt8]?
    var sizes: [Digest: Int64] = [:]
    var blobs = 0
    var bytes: Int64 = 0
    var failure: ImportError?
    for entry in result.entries {
      switch entry.sink.kind {
      case .memory:
        if entry.name == "index.json" {
          indexJSON = entry.sink.bytes
        } else {
          layout = entry.sink.bytes
        }
      case .blob(let digest, let writer):
        if failure != nil {
          writer.cancel()
          continue
        }
        do throws(BlobstoreError) {
          try writer.commit()
          sizes[digest] = entry.size
          blobs += 1
          bytes += entry.size
        } catch {
          failure = .staging(entry: entry.name, directory: directory, error)
        }
      case .refuse(let refusal):
        // Its first write stops the pass; kept for completeness.
        failure = failure ?? refusal
      }
    }
    if let failure { throw failure }
    guard let layout else {
      if let nested = ignored.lazy.compactMap(EntryName.nestedLayoutDirectory).first {
        throw .archive(EntryName.misplacedLayout(path: archive, directory: nested))
      }
      throw .notAnArtifact(path: archive, reason: "it has no oci-layout entry")
    }
    guard let indexJSON else {
      throw .notAnArtifact(path: archive, reason: "it has no index.json entry")
    }
    return Staged(
      indexJSON: indexJSON, layout: layout, sizes: sizes, blobs: blobs, bytes: bytes,
      ignored: ignored)
  }

  static func cancelWriters(_ sinks: [ImportSink]) {
    for sink in sinks {
      if case .blob(_, let writer) = sink.kind { writer.cancel() }
    }
  }

  /// The sha256 of the archive's `index.json`, reading only up to that entry (the second
  /// entry in SPEC order). Nil when there is none.
  static func indexDigest(of archive: String) throws(ImportError) -> Digest? {
    do {
      let reader = try ArchiveReader(path: archive)
      while let entry = try reader.next() {
        if entry.name == "index.json" {
          return SHA256Hasher.digest(try entry.readAll(limit: jsonLimit))
        }
      }
      return nil
    } catch {
      throw .archive(error)
    }
  }

  static func readStamp(_ directory: String) -> Digest? {
    guard let data = FileManager.default.contents(atPath: directory + "/" + stampName) else {
      return nil
    }
    let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    return try? Digest(parsing: text)
  }

  /// Removes the stamp, durably (unlink, then fsync of DIR), before the import changes
  /// anything placed in DIR. Why: the stamp says "DIR holds this artifact"; an import that
  /// does not finish (a failure, SIGINT/SIGTERM, a crash) must leave none beside a half-
  /// replaced `images/` or files, or importing the stamped artifact again finds "nothing to
  /// do" and keeps the other artifact's layout (QA: `push --images-dir` pushed it).
  static func removeStamp(_ directory: String) throws(ImportError) {
    let path = directory + "/" + stampName
    guard unlink(path) == 0 || errno == ENOENT else {
      throw .io(path: path, operation: "remove", errno: errno)
    }
    let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { throw .io(path: directory, operation: "open directory", errno: errno) }
    defer { close(fd) }
    // EINVAL: a file system that cannot sync a directory; the unlink is all it offers.
    guard fsync(fd) == 0 || errno == EINVAL else {
      throw .io(path: directory, operation: "sync", errno: errno)
    }
  }

  static func writeStamp(_ directory: String, _ digest: Digest) throws(ImportError) {
    let path = directory + "/" + stampName
    try ImportPlacer.writeAtomically(Array("\(digest)\n".utf8), to: path)
  }

  /// Creates `path` and its missing parents one `mkdir` at a time, so a failure names the
  /// directory and the real errno (FileManager reported EROFS as "Permission denied").
  static func makeDirectories(_ path: String) throws(ImportError) {
    var info = stat()
    for missing in missingAncestors(of: path) {
      guard mkdir(missing, 0o755) != 0 else { continue }
      let code = errno
      if code == EEXIST && stat(missing, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR {
        continue
      }
      throw .io(path: missing, operation: "create directory", errno: code)
    }
    guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
      throw .io(path: path, operation: "create directory", errno: ENOTDIR)
    }
  }
}
