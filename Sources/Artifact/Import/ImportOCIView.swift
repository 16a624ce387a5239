import OCI

/// The OCI form of a Docker schema 2 platform manifest, for the `<ref>-<arch>` views of an
/// imported work dir.
///
/// Why: containers/image (skopeo, and Go KubeKey, which reads its work dir through it) finds
/// an `oci:` layout entry only when its media type is OCI's, so a view pointing at a Docker
/// manifest is invisible to them (`no descriptor found for reference`); most images on
/// docker.io are Docker-typed. A view is a reading aid, not what kk pushes (kk pushes the
/// image entry byte for byte), so it may be the same manifest in OCI's words, as
/// `skopeo copy` into an `oci:` layout writes it: config and layers are the same blobs, only
/// their media types are OCI's, and the manifest is a new blob with its own digest.
enum ImportOCIView {
  /// The OCI manifest bytes and their descriptor (platform kept), or nil when `manifest` is
  /// not a Docker schema 2 manifest (an OCI one is a view as it is).
  static func convert(_ descriptor: Descriptor, bytes: [UInt8]) throws -> ManifestBytes? {
    guard MediaType.essence(descriptor.mediaType) == MediaType.dockerManifest else {
      return nil
    }
    let docker = try ManifestBytes(
      bytes: bytes, mediaType: descriptor.mediaType, expected: descriptor.digest)
    guard case .manifest(let manifest) = docker.content else { return nil }
    var config = manifest.config
    config.mediaType = MediaType.ociConfig
    let layers = manifest.layers.map { layer -> Descriptor in
      var converted = layer
      converted.mediaType = ociLayerType(layer.mediaType)
      return converted
    }
    return try ManifestBytes(
      encoding: ImageManifest(
        mediaType: MediaType.ociManifest, config: config, layers: layers,
        annotations: manifest.annotations))
  }

  /// Docker's layer media types in OCI's words (what containers/image maps them to).
  static func ociLayerType(_ type: String) -> String {
    switch MediaType.essence(type) {
    case MediaType.dockerLayerGzip: return MediaType.ociLayerGzip
    case "application/vnd.docker.image.rootfs.diff.tar": return MediaType.ociLayer
    case "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip":
      return "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
    default: return type
    }
  }
}
