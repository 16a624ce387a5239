import Foundation
import OCI

@testable import Blobstore

/// A fresh directory under the system temp dir, removed by `remove()`.
struct TempDir {
  let path: String

  init() throws {
    path =
      FileManager.default.temporaryDirectory
      .appendingPathComponent("kk-blobstore-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Deterministic pseudo-random bytes (a different stream per seed).
func pseudoRandomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
  var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
  return (0..<count).map { _ in
    state ^= state << 13
    state ^= state >> 7
    state ^= state << 17
    return UInt8(truncatingIfNeeded: state)
  }
}

/// A small but realistic layout: a two-platform image (index → 2 manifests sharing a layer)
/// and a single-platform image, written through the store's own ingest path.
struct LayoutFixture {
  struct Blob {
    let digest: Digest
    let size: Int
  }

  let store: BlobStore
  let dir: TempDir
  var multiArchIndex: Blob
  var manifests: [Blob] = []
  var configs: [Blob] = []
  var layers: [Blob] = []
  var singleManifest: Blob
  var singleConfig: Blob

  static let multiRef = "docker.io/calico/cni:v3.23.2"
  static let singleRef = "docker.io/library/busybox:1.36"

  /// - Parameter mixDocker: make the arm64 manifest a Docker schema2 one (inside an OCI index).
  init(layerSize: Int = 300_000, mixDocker: Bool = true) throws {
    dir = try TempDir()
    store = try BlobStore.create(at: dir.path + "/layout")
    let shared = try Self.put(store, pseudoRandomBytes(layerSize, seed: 1))
    var entries: [String] = []
    var manifests: [Blob] = []
    var configs: [Blob] = []
    var layers = [shared]
    for (n, arch) in ["amd64", "arm64"].enumerated() {
      let own = try Self.put(store, pseudoRandomBytes(layerSize / 2, seed: UInt64(10 + n)))
      layers.append(own)
      let config = try Self.put(
        store, Array(#"{"architecture":"\#(arch)","os":"linux","rootfs":{"type":"layers"}}"#.utf8))
      configs.append(config)
      let manifest = try Self.put(
        store,
        Self.manifestJSON(config: config, layers: [shared, own], docker: mixDocker && n == 1))
      manifests.append(manifest)
      let type =
        mixDocker && n == 1
        ? "application/vnd.docker.distribution.manifest.v2+json"
        : "application/vnd.oci.image.manifest.v1+json"
      entries.append(
        #"{"mediaType":"\#(type)","digest":"\#(manifest.digest)","size":\#(manifest.size),"platform":{"architecture":"\#(arch)","os":"linux"}}"#
      )
    }
    let index = try Self.put(
      store,
      Array(
        #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[\#(entries.joined(separator: ","))]}"#
          .utf8))
    let config = try Self.put(
      store, Array(#"{"architecture":"arm","variant":"v7","os":"linux"}"#.utf8))
    let layer = try Self.put(store, pseudoRandomBytes(1000, seed: 99))
    layers.append(layer)
    let single = try Self.put(
      store, Self.manifestJSON(config: config, layers: [layer], docker: false))
    self.multiArchIndex = index
    self.manifests = manifests
    self.configs = configs
    self.layers = layers
    self.singleManifest = single
    self.singleConfig = config
    try writeIndex()
  }

  /// Writes index.json naming the two images; `mutate` may edit the entries' JSON text.
  func writeIndex(mutate: (String) -> String = { $0 }) throws {
    let text =
      #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":["#
      + #"{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"\#(multiArchIndex.digest)","size":\#(multiArchIndex.size),"annotations":{"org.opencontainers.image.ref.name":"\#(Self.multiRef)","io.containerd.image.name":"\#(Self.multiRef)"}},"#
      + #"{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"\#(singleManifest.digest)","size":\#(singleManifest.size),"annotations":{"org.opencontainers.image.ref.name":"\#(Self.singleRef)"}}"#
      + "]}"
    try Data(mutate(text).utf8).write(to: URL(fileURLWithPath: store.root + "/index.json"))
  }

  var allBlobs: [Blob] {
    [multiArchIndex, singleManifest, singleConfig] + manifests + configs + layers
  }

  func blobPath(_ blob: Blob) -> String { store.path(for: blob.digest) }

  /// Rewrites a stored blob's bytes in place (to simulate damage).
  func damage(_ blob: Blob, _ change: (inout [UInt8]) -> Void) throws {
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: blobPath(blob))))
    change(&bytes)
    try Data(bytes).write(to: URL(fileURLWithPath: blobPath(blob)))
  }

  static func put(_ store: BlobStore, _ bytes: [UInt8]) throws -> Blob {
    let stored = try store.ingest(bytes: bytes)
    return Blob(digest: stored.digest, size: Int(stored.size))
  }

  static func manifestJSON(config: Blob, layers: [Blob], docker: Bool) -> [UInt8] {
    let type =
      docker
      ? "application/vnd.docker.distribution.manifest.v2+json"
      : "application/vnd.oci.image.manifest.v1+json"
    let configType =
      docker
      ? "application/vnd.docker.container.image.v1+json"
      : "application/vnd.oci.image.config.v1+json"
    let layerType =
      docker
      ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
      : "application/vnd.oci.image.layer.v1.tar+gzip"
    let layerJSON = layers.map {
      #"{"mediaType":"\#(layerType)","digest":"\#($0.digest)","size":\#($0.size)}"#
    }
    return Array(
      #"{"schemaVersion":2,"mediaType":"\#(type)","config":{"mediaType":"\#(configType)","digest":"\#(config.digest)","size":\#(config.size)},"layers":[\#(layerJSON.joined(separator: ","))]}"#
        .utf8)
  }
}

/// Every file left in the ingest directory (should be none after any ingest finishes).
func leftoverIngestFiles(_ store: BlobStore) -> [String] {
  (try? FileManager.default.contentsOfDirectory(atPath: store.ingestDirectory)) ?? []
}
