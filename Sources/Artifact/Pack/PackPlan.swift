import Blobstore
import Foundation
import OCI

/// The tar entries of an artifact, in SPEC §1.1 order, planned from a content store before any
/// large byte is written.
///
/// Why a separate plan: the order is the contract (readers plan from the small JSON blobs that
/// come first), the free-space check needs the total before writing, and the same plan must
/// give the same bytes every time, so it is a pure function of the store's content and the
/// entries.
public struct PackPlan: Sendable {
  /// `index.json` of the artifact: the entries, CanonicalJSON.
  public var indexJSON: [UInt8]
  /// Indexes, manifests and configs in walk order (depth first, parents first, each once).
  public var metadata: [Descriptor]
  /// Every other blob (layers, files), sorted by digest.
  public var data: [Descriptor]

  /// Every blob, in the order they go into the archive.
  public var blobs: [Descriptor] { metadata + data }
  /// Bytes of all blobs (each once): what the archive holds besides tar framing.
  public var blobBytes: Int64 { blobs.reduce(0) { $0 + $1.size } }

  /// Plans the archive of `entries` (the artifact's `index.json` entries, in order) whose
  /// blobs are all in `store`.
  public init(store: BlobStore, entries: [Descriptor]) throws(ExportError) {
    let index = ImageIndex(schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: entries)
    do {
      indexJSON = try CanonicalJSON.encode(index)
    } catch {
      throw .invalidInput("cannot encode index.json: \(error)")
    }
    var seen = Set<Digest>()
    var metadata: [Descriptor] = []
    var data: [Descriptor] = []
    var dataSeen = Set<Digest>()
    // An explicit stack keeps the walk depth first without recursion limits.
    var stack = entries.reversed().map { $0 }
    while let node = stack.popLast() {
      guard seen.insert(node.digest).inserted else { continue }
      guard MediaType.isManifestOrIndex(node.mediaType) else {
        // A config reached as a manifest's first child is metadata; everything else is data.
        if node.mediaType.hasSuffix("json") && node.size <= BlobStore.jsonLimit
          && node.annotations?[Self.configMarker] != nil
        {
          metadata.append(Self.unmarked(node))
        } else if dataSeen.insert(node.digest).inserted {
          data.append(node)
        }
        continue
      }
      metadata.append(node)
      let bytes: [UInt8]
      do {
        bytes = try store.readJSON(node.digest)
      } catch {
        throw .badContent(digest: node.digest, detail: "\(error)")
      }
      let parsed: ManifestBytes
      do {
        parsed = try ManifestBytes(bytes: bytes, mediaType: node.mediaType, expected: node.digest)
      } catch {
        throw .badContent(digest: node.digest, detail: "\(error)")
      }
      var children: [Descriptor] = []
      if let index = parsed.index {
        children = index.manifests
      } else if let manifest = parsed.manifest {
        var config = manifest.config
        var marked = config.annotations ?? [:]
        marked[Self.configMarker] = "1"
        config.annotations = marked
        children = [config] + manifest.layers
      }
      stack.append(contentsOf: children.reversed())
    }
    // A blob first met as a config stays metadata even if something else lists it as data.
    let metaDigests = Set(metadata.map(\.digest))
    self.metadata = metadata
    self.data = data.filter { !metaDigests.contains($0.digest) }.sorted { $0.digest < $1.digest }
  }

  /// Marks a config descriptor during the walk only; never written anywhere.
  private static let configMarker = "io.kubekey.internal.config"

  private static func unmarked(_ descriptor: Descriptor) -> Descriptor {
    var copy = descriptor
    copy.annotations?[configMarker] = nil
    if copy.annotations?.isEmpty == true { copy.annotations = nil }
    return copy
  }
}
