import Blobstore
import Foundation
import OCI

@testable import Artifact

/// A small OCI layout on disk (one image: config + two layers, one of them multi-MiB so it
/// spans several scanner chunks) and helpers to pack it into archives.
struct VerifyLayoutFixture {
  let scratch: ScratchDir
  let store: BlobStore
  let config: StoredBlob
  let layers: [StoredBlob]
  let manifest: StoredBlob
  static let ref = "docker.io/library/busybox:1.36"

  var root: String { store.root }

  init(bigLayer: Int = 3 << 20) throws {
    scratch = try ScratchDir()
    store = try BlobStore.create(at: scratch.path + "/layout")
    config = try store.ingest(
      bytes: Array(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}}"#.utf8))
    layers = [
      try store.ingest(bytes: [0x1f, 0x8b] + pseudoRandomBytes(bigLayer, seed: 21)),
      try store.ingest(bytes: Array(String(repeating: "binary-ish text ", count: 5000).utf8)),
    ]
    let layerJSON = layers.map {
      #"{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"\#($0.digest)","size":\#($0.size)}"#
    }
    manifest = try store.ingest(
      bytes: Array(
        #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\#(config.digest)","size":\#(config.size)},"layers":[\#(layerJSON.joined(separator: ","))]}"#
          .utf8))
    try writeIndex(
      #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"\#(manifest.digest)","size":\#(manifest.size),"annotations":{"org.opencontainers.image.ref.name":"\#(Self.ref)"}}]}"#
    )
  }

  func writeIndex(_ text: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: root + "/index.json"))
  }

  func blobName(_ blob: StoredBlob) -> String { "blobs/sha256/\(blob.digest.encoded)" }

  /// Rewrites a blob's bytes in place, keeping its (now wrong) name.
  func damage(_ blob: StoredBlob, _ change: (inout [UInt8]) -> Void) throws {
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: store.path(for: blob.digest))))
    change(&bytes)
    try Data(bytes).write(to: URL(fileURLWithPath: store.path(for: blob.digest)))
  }

  /// Packs the layout with our writer in SPEC-like order (layout files, JSON, then the rest),
  /// leaving out `omit`.
  func pack(to name: String, omit: Set<String> = []) throws -> String {
    let path = scratch.path + "/" + name
    let writer = try ArchiveWriter(path: path)
    let json = [manifest, config].map(blobName)
    let rest = layers.map(blobName).sorted()
    for entry in ["oci-layout", "index.json"] + json + rest where !omit.contains(entry) {
      try writer.addFile(name: entry, path: root + "/" + entry)
    }
    try writer.finish()
    return path
  }
}
