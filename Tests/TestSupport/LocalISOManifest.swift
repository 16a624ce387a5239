import Foundation

/// A manifest that bundles one local ISO and nothing else: an export that needs no registry
/// and no download server, for tests about the export's own mechanics (output, cache, locks).
public enum LocalISOManifest {
  /// Writes `<name>.yaml` and the ISO it names (`bytes`) into `directory`; returns the
  /// manifest's path.
  @discardableResult
  public static func write(
    in directory: String, name: String, iso: String = "local.iso",
    bytes: Data = Data(repeating: 7, count: 4096)
  ) throws -> String {
    let isoPath = directory + "/" + iso
    try bytes.write(to: URL(fileURLWithPath: isoPath))
    let manifest = directory + "/\(name).yaml"
    try """
    apiVersion: kubekey.kubesphere.io/v1alpha2
    kind: Manifest
    metadata: {name: \(name)}
    spec:
      arches: [amd64]
      operatingSystems:
      - arch: amd64
        type: linux
        id: ubuntu
        version: "20.04"
        repository:
          iso:
            localPath: \(isoPath)
      images: []

    """.write(toFile: manifest, atomically: true, encoding: .utf8)
    return manifest
  }
}
