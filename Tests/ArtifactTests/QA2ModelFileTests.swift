import Foundation
import TestSupport
import Testing

@testable import Artifact

/// What a user sees when `-m`/`-f` points at the wrong thing, and manifests saved by editors
/// other than vim (found by QA in session 2).
@Suite struct QA2ModelFileTests {
  static let manifest = """
    apiVersion: kubekey.kubesphere.io/v1alpha2
    kind: Manifest
    metadata:
      name: qa2
    spec:
      arches: [amd64]
      images:
      - docker.io/library/busybox:1.36

    """

  /// A directory used to give "The operation could not be completed. (NSCocoaErrorDomain
  /// error 256.)"; now it says what the path is.
  @Test func aDirectoryIsNamedAsADirectory() throws {
    let dir = try TemporaryDirectory(prefix: "kk-qa2-model")
    defer { dir.remove() }
    let error = #expect(throws: ModelError.self) {
      try KubeKeyManifest.load(path: dir.path)
    }
    #expect(error?.description == "\(dir.path): is a directory; give the YAML file itself")
    let config = #expect(throws: ModelError.self) {
      try ClusterRegistryConfig.load(path: dir.path)
    }
    #expect(config?.description == "\(dir.path): is a directory; give the YAML file itself")
  }

  @Test func anUnreadableFileSaysPermissionDenied() throws {
    guard getuid() != 0 else { return }  // root reads anything
    let dir = try TemporaryDirectory(prefix: "kk-qa2-model")
    defer { dir.remove() }
    let path = dir.path + "/m.yaml"
    try Self.manifest.write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0)
    let error = #expect(throws: ModelError.self) { try KubeKeyManifest.load(path: path) }
    #expect(error?.description == "\(path): permission denied; check the file's permissions")
  }

  /// Windows editors save UTF-16 with a byte-order mark, or UTF-8 with one; Go KubeKey reads
  /// both, so kk does too. UTF-8 without a BOM that is not UTF-8 is refused, naming the fix.
  @Test func byteOrderMarksAreHonoured() throws {
    let dir = try TemporaryDirectory(prefix: "kk-qa2-model")
    defer { dir.remove() }
    let utf16 = dir.path + "/utf16.yaml"
    var bytes = Data([0xFF, 0xFE])
    bytes.append(Self.manifest.data(using: .utf16LittleEndian) ?? Data())
    try bytes.write(to: URL(fileURLWithPath: utf16))
    let parsed = try KubeKeyManifest.load(path: utf16)
    #expect(parsed.manifest.images.map(\.description) == ["docker.io/library/busybox:1.36"])

    let bom = dir.path + "/bom.yaml"
    try (Data([0xEF, 0xBB, 0xBF]) + Data(Self.manifest.utf8)).write(to: URL(fileURLWithPath: bom))
    #expect(try KubeKeyManifest.load(path: bom).manifest.arches == [.amd64])

    let latin1 = dir.path + "/latin1.yaml"
    let text = Self.manifest.replacingOccurrences(of: "name: qa2", with: "name: caf\u{e9}")
    try (text.data(using: .isoLatin1) ?? Data()).write(to: URL(fileURLWithPath: latin1))
    let error = #expect(throws: ModelError.self) { try KubeKeyManifest.load(path: latin1) }
    #expect(error?.description == "\(latin1): the file is not UTF-8 text; save it as UTF-8")
  }

  /// `kk: error: <first line>` must start with an error: a warning that comes earlier in the
  /// file used to be printed first and read as the reason for the failure.
  @Test func errorsComeBeforeWarningsInTheMessage() {
    let yaml = """
      apiVersion: kubekey.kubesphere.io/v1alpha2
      kind: Manifest
      spec:
        arches: [amd64]
        images: ["http://docker.io/library/busybox:1.36"]

      """
    do {
      _ = try KubeKeyManifest.parse(yaml: yaml, file: "m.yaml")
      Issue.record("a scheme in an image name was accepted")
    } catch {
      let lines = error.description.split(separator: "\n").map(String.init)
      #expect(
        lines.first
          == "m.yaml:5:12: image 'http://docker.io/library/busybox:1.36': 'http://' is a URL "
          + "scheme; an image name has none: write docker.io/library/busybox:1.36")
      #expect(lines.last?.contains("warning: missing metadata.name") == true)
      #expect(error.diagnostics.first?.severity == .warning)  // file order kept in the list
    }
  }
}
