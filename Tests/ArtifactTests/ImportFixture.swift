import Blobstore
import Foundation
import OCI
import TestSupport

@testable import Artifact

/// A small artifact to import: the generator's multi-arch images (4 × amd64/arm64) plus two
/// files stored as SPEC 1.3 file artifacts with `io.kubekey.path` annotations.
struct ImportFixture {
  let scratch: ScratchDir
  let images: GeneratedImages
  let store: BlobStore
  /// KubeKey path → file bytes.
  let files: [String: [UInt8]]
  /// Digests of the file layers (must not end up in images/blobs).
  let fileLayers: [Digest]

  init(filePaths: [String] = ["kube/v1.22.12/amd64/kubeadm", "cni/v0.9.1/amd64/cni.tgz"])
    async throws
  {
    scratch = try ScratchDir()
    images = try await TestImages.generate(into: scratch.path + "/layout")
    store = try BlobStore.open(at: images.layout)
    var files: [String: [UInt8]] = [:]
    var layers: [Digest] = []
    for (number, path) in filePaths.enumerated() {
      let bytes = pseudoRandomBytes(200_000 + number * 1000, seed: UInt64(77 + number))
      let entry = try Self.addFile(to: store, path: path, bytes: bytes)
      files[path] = bytes
      layers.append(entry)
    }
    self.files = files
    fileLayers = layers
  }

  /// Stores `bytes` as a file artifact and adds its index entry; returns the layer digest.
  @discardableResult
  static func addFile(to store: BlobStore, path: String, bytes: [UInt8]) throws -> Digest {
    let layer = try store.ingest(bytes: bytes)
    try store.ingest(bytes: Descriptor.emptyJSONBytes)
    let name = (path as NSString).lastPathComponent
    let manifest = ImageManifest(
      mediaType: MediaType.ociManifest, artifactType: MediaType.kubekeyFile,
      config: Descriptor.emptyJSON,
      layers: [
        Descriptor(
          mediaType: MediaType.octetStream, digest: layer.digest, size: layer.size,
          annotations: [AnnotationKey.title: name])
      ])
    let encoded = try ManifestBytes(encoding: manifest)
    try store.ingest(bytes: encoded.bytes)
    var entry = encoded.descriptor
    entry.artifactType = MediaType.kubekeyFile
    entry.annotations = [
      AnnotationKey.artifactKind: "file", AnnotationKey.path: path,
      AnnotationKey.upstreamDigest: layer.digest.description,
    ]
    try store.putEntry(entry)
    return layer.digest
  }

  /// Packs the layout in SPEC order: layout files, manifests/indexes/configs, then the rest
  /// sorted by digest.
  ///
  /// - Parameters:
  ///   - damaging: a blob whose middle byte is flipped.
  ///   - ociLayout, indexJSON: bytes written instead of the layout's own files.
  func pack(
    _ name: String, damaging: Digest? = nil, ociLayout: [UInt8]? = nil, indexJSON: [UInt8]? = nil
  ) throws -> String {
    let path = scratch.path + "/" + name
    let writer = try ArchiveWriter(path: path)
    if let ociLayout {
      try writer.add(name: "oci-layout", bytes: ociLayout)
    } else {
      try writer.addFile(name: "oci-layout", path: images.layout + "/oci-layout")
    }
    if let indexJSON {
      try writer.add(name: "index.json", bytes: indexJSON)
    } else {
      try writer.addFile(name: "index.json", path: images.layout + "/index.json")
    }
    let walk = try store.walk()
    var first: [Digest] = []
    var seen: Set<Digest> = []
    for node in walk.nodes {
      guard let digest = node.descriptor.digest, seen.insert(digest).inserted else { continue }
      let type = node.descriptor.mediaType
      if MediaType.isManifestOrIndex(type) || type.contains("config") || type == MediaType.ociEmpty
      {
        first.append(digest)
      }
    }
    let rest = seen.subtracting(first).sorted()
    for digest in first + rest {
      let name = "blobs/sha256/\(digest.encoded)"
      if digest == damaging {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: store.path(for: digest))))
        bytes[bytes.count / 2] ^= 0x01
        try writer.add(name: name, bytes: bytes)
      } else {
        try writer.addFile(name: name, path: store.path(for: digest))
      }
    }
    try writer.finish()
    return path
  }

  /// The layout's own `index.json` bytes.
  func indexJSON() throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: images.layout + "/index.json")))
  }

  /// Bytes of every distinct blob the layout holds: what an import stages.
  func blobBytes() throws -> Int64 {
    let directory = images.layout + "/blobs/sha256"
    var total: Int64 = 0
    for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
      let size = try FileManager.default.attributesOfItem(atPath: directory + "/" + name)[.size]
      total += (size as? Int64) ?? Int64((size as? Int) ?? 0)
    }
    return total
  }

  /// `tar czf` of the layout directory: tar's own order, `./` prefixes, directory entries.
  func systemTar(_ name: String) throws -> String {
    let out = scratch.path + "/" + name
    let tar = Process()
    tar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    tar.arguments = ["tar", "czf", out, "-C", images.layout, "--exclude", ".ingest", "."]
    try tar.run()
    tar.waitUntilExit()
    guard tar.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
    return out
  }
}
