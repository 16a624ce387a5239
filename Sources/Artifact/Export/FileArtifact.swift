import Blobstore
import Foundation
import OCI

/// A file stored as an OCI artifact manifest (SPEC §1.3): the second kind of export work item
/// beside images. Binaries, ISOs and the manifest YAML all take this shape, so the packer and
/// every reader treat them exactly like images (one descriptor in `index.json`, blobs by
/// digest).
public struct FileArtifact: Sendable, Hashable {
  /// `file`, `iso` or `manifest` (`io.kubekey.artifact.kind`).
  public enum Kind: String, Sendable, Hashable {
    case file
    case iso
    case manifest

    /// The manifest's `artifactType`.
    public var artifactType: String {
      switch self {
      case .file: return MediaType.kubekeyFile
      case .iso: return MediaType.kubekeyISO
      case .manifest: return MediaType.kubekeyManifest
      }
    }

    /// The layer's media type.
    public var layerMediaType: String { self == .manifest ? MediaType.yaml : MediaType.octetStream }
  }

  public var kind: Kind
  /// `io.kubekey.path`: where the file lives in KubeKey's work dir (`kube/v1.22.12/amd64/kubeadm`).
  public var path: String
  /// `io.kubekey.component`, `io.kubekey.version`, `io.kubekey.arch` when known.
  public var component: String?
  public var version: String?
  public var arch: String?

  public init(
    kind: Kind, path: String, component: String? = nil, version: String? = nil,
    arch: String? = nil
  ) {
    self.kind = kind
    self.path = path
    self.component = component
    self.version = version
    self.arch = arch
  }

  /// The annotations of the `index.json` entry (SPEC §1.2).
  public func entryAnnotations(layerDigest: Digest) -> [String: String] {
    var annotations = [
      AnnotationKey.artifactKind: kind.rawValue,
      AnnotationKey.path: path,
      AnnotationKey.upstreamDigest: layerDigest.description,
    ]
    annotations[AnnotationKey.component] = component
    annotations[AnnotationKey.version] = version
    annotations[AnnotationKey.arch] = arch
    return annotations
  }

  /// Stores the empty config and the artifact manifest for a layer blob that is already in
  /// `store`, and returns the `index.json` entry. Deterministic: the same file gives the same
  /// manifest bytes and digest. With `batch`, the directory fsync is left to it.
  public func storeManifest(layer: StoredBlob, in store: BlobStore, batch: BlobBatch? = nil)
    throws(ExportError) -> Descriptor
  {
    let title = (path as NSString).lastPathComponent
    let manifest = ImageManifest(
      schemaVersion: 2, mediaType: MediaType.ociManifest, artifactType: kind.artifactType,
      config: Descriptor.emptyJSON,
      layers: [
        Descriptor(
          mediaType: kind.layerMediaType, digest: layer.digest, size: layer.size,
          annotations: [AnnotationKey.title: title])
      ])
    do {
      let bytes = try CanonicalJSON.encode(manifest)
      try store.ingest(bytes: Descriptor.emptyJSONBytes, batch: batch)
      let stored = try store.ingest(bytes: bytes, batch: batch)
      return Descriptor(
        mediaType: MediaType.ociManifest, digest: stored.digest, size: stored.size,
        annotations: entryAnnotations(layerDigest: layer.digest),
        artifactType: kind.artifactType)
    } catch {
      throw .store("cannot store the artifact manifest of \(path): \(error)")
    }
  }

  /// Stores `bytes` (a small file such as the manifest YAML) and its artifact manifest.
  public func store(bytes: [UInt8], in store: BlobStore, batch: BlobBatch? = nil)
    throws(ExportError) -> Descriptor
  {
    let layer: StoredBlob
    do {
      layer = try store.ingest(bytes: bytes, batch: batch)
    } catch {
      throw .store("cannot store \(path): \(error)")
    }
    return try storeManifest(layer: layer, in: store, batch: batch)
  }
}
