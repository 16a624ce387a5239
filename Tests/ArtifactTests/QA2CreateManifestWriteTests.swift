import Foundation
import TestSupport
import Testing

@testable import Artifact

/// `kk create manifest` output handling (QA, session 2): an existing file is reported before
/// the cluster is contacted, and a write never leaves a half file or a temporary behind.
@Suite struct QA2CreateManifestWriteTests {
  static func created() throws -> CreatedManifest {
    try ManifestCreator.planned(kubernetes: ["v1.23.17"], arches: [.amd64], name: "qa2")
  }

  static func names(in dir: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
  }

  @Test func existingFileIsKeptAndReportedEarly() throws {
    let dir = try TemporaryDirectory(prefix: "kk-qa2-create")
    defer { dir.remove() }
    let path = dir.path + "/manifest-qa2.yaml"
    try "mine\n".write(toFile: path, atomically: true, encoding: .utf8)
    #expect(throws: CreateManifestError.self) {
      try CreatedManifest.checkWritable(path, force: false)
    }
    try CreatedManifest.checkWritable(path, force: true)
    #expect(throws: CreateManifestError.self) { try Self.created().write(to: path, force: false) }
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "mine\n")
    #expect(try Self.names(in: dir.path) == ["manifest-qa2.yaml"])
  }

  @Test func writeAndForcedReplaceLeaveOnlyTheManifest() throws {
    let dir = try TemporaryDirectory(prefix: "kk-qa2-create")
    defer { dir.remove() }
    let path = dir.path + "/m.yaml"
    let manifest = try Self.created()
    try manifest.write(to: path, force: false)
    #expect(try String(contentsOfFile: path, encoding: .utf8) == manifest.yaml)
    try "old\n".write(toFile: path, atomically: true, encoding: .utf8)
    try manifest.write(to: path, force: true)
    #expect(try String(contentsOfFile: path, encoding: .utf8) == manifest.yaml)
    #expect(try Self.names(in: dir.path) == ["m.yaml"])
    #expect(try KubeKeyManifest.load(path: path).manifest.images == manifest.manifest.images)
  }

  /// A directory that cannot be written: one error naming the path, nothing left behind.
  @Test func unwritableDirectoryNamesThePath() throws {
    let path = "/proc/kk-qa2-manifest.yaml"
    let error = #expect(throws: CreateManifestError.self) {
      try Self.created().write(to: path, force: false)
    }
    #expect(error?.description.hasPrefix("cannot write \(path): ") == true)
    #expect(!FileManager.default.fileExists(atPath: path))
  }
}
