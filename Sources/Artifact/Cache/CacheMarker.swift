import Blobstore
import Foundation
import OCI

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// How `kk cache` tells its own cache from any other directory (QA F9).
///
/// Why: a cache is an OCI layout, and so are an imported `kubekey/images` and every skopeo
/// `oci:` directory; `prune` deletes every blob, so pointed at one of those by mistake it
/// destroyed the user's layout. Export writes a marker file when it opens a cache; `prune`
/// refuses a directory without it, and nothing in `kk cache` ever creates a cache.
extension ExportCache {
  /// The marker file export writes at the cache root.
  public static let markerName = "kk-cache.json"

  static let markerBytes =
    Array(
      #"{"kind":"kk export cache","note":"kk cache prune deletes the blobs of this directory"}"#
        .utf8) + [0x0A]

  /// What a directory is, as far as `kk cache` is concerned; found without writing anything.
  public enum Recognition: Sendable, Hashable {
    /// Nothing is there.
    case missing
    /// A kk export cache: it holds the marker.
    case cache
    /// A cache made before the marker existed (see `recognize(_:)`); `prune` accepts it and
    /// writes the marker.
    case unmarkedCache
    /// Something else; `reason` says what gave it away.
    case notACache(reason: String)
  }

  /// Looks at `directory` read-only.
  ///
  /// A cache made before the marker is recognised by what only an export leaves: a valid
  /// `oci-layout`, a `.ingest/` directory holding the index lock or a download's `.resume`
  /// file (an import or skopeo never writes those), and an `index.json` whose every entry is
  /// an image recorded by export (`org.opencontainers.image.ref.name` equal to
  /// `io.containerd.image.name`, a full reference with a registry host, no file entries).
  ///
  /// - Throws: `.invalidInput` when `directory` is a file.
  public static func recognize(_ directory: String, remedy: String) throws(ExportError)
    -> Recognition
  {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
      return .missing
    }
    guard isDirectory.boolValue else {
      throw .invalidInput("the cache \(directory) is a file, not a directory; \(remedy)")
    }
    if FileManager.default.fileExists(atPath: directory + "/" + markerName) { return .cache }
    guard (try? BlobStore.open(at: directory)) != nil else {
      return .notACache(reason: "no \(markerName) and no OCI layout")
    }
    let ingest = (try? FileManager.default.contentsOfDirectory(atPath: directory + "/.ingest"))
    guard let ingest, ingest.contains(where: { $0 == "index.lock" || $0.hasSuffix(".resume") })
    else {
      return .notACache(reason: "no \(markerName), and no .ingest/ lock or download of an export")
    }
    guard let data = FileManager.default.contents(atPath: directory + "/index.json"),
      let index = try? JSONDecoder().decode(ImageIndex.self, from: data)
    else {
      return .notACache(reason: "its index.json is not an image index")
    }
    for entry in index.manifests {
      let name = entry.annotation(AnnotationKey.refName)
      guard let name, name == entry.annotation(AnnotationKey.containerdImageName),
        entry.annotation(AnnotationKey.path) == nil,
        let reference = try? Reference(parsing: name), reference.description == name
      else {
        return .notACache(
          reason: "index.json entry \(entry.digest) is not an image recorded by kk export")
      }
    }
    return .unmarkedCache
  }

  /// Opens the cache at `directory` for `prune` without creating anything: nil when nothing
  /// is there, an error when it is a file or not a kk cache. An unmarked cache (made before
  /// the marker) gets the marker now.
  public static func openExisting(at directory: String, remedy: String) throws(ExportError)
    -> ExportCache?
  {
    switch try recognize(directory, remedy: remedy) {
    case .missing:
      return nil
    case .notACache(let reason):
      throw .invalidInput(
        "\(directory) is not a kk cache; refusing to delete its blobs (\(reason)); \(remedy)")
    case .cache, .unmarkedCache:
      let store: BlobStore
      do {
        store = try BlobStore.open(at: directory)
      } catch {
        throw .store("cannot open the cache \(directory): \(error); \(remedy)")
      }
      try writeMarker(in: directory, remedy: remedy)
      return ExportCache(store: store)
    }
  }

  /// Writes the marker unless it is there (export's `open` calls this for every cache).
  static func writeMarker(in directory: String, remedy: String) throws(ExportError) {
    let path = directory + "/" + markerName
    guard !FileManager.default.fileExists(atPath: path) else { return }
    let temp = path + ".\(getpid()).tmp"
    guard FileManager.default.createFile(atPath: temp, contents: Data(markerBytes)),
      rename(temp, path) == 0
    else {
      let code = errno
      unlink(temp)
      throw .store(
        "cannot write \(path): \(String(cString: strerror(code))) (errno \(code)); \(remedy)")
    }
  }
}
