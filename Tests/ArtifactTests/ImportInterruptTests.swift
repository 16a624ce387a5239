import Foundation
import TestSupport
import Testing

@testable import Artifact

#if canImport(Glibc)
  import Glibc
#endif

/// An import killed by Ctrl-C or TERM leaves neither its staging store (as large as the
/// artifact's blobs) nor a work dir it created; a work dir that existed keeps what it had.
@Suite(.serialized) struct ImportInterruptTests {
  /// A plain-tar artifact with a 160 MiB file, so the import is still staging when the
  /// signal comes.
  static func largeArtifact() async throws -> (ImportFixture, String) {
    let fixture = try await ImportFixture(filePaths: [])
    try ImportFixture.addFile(
      to: fixture.store, path: "kube/v1.0.0/amd64/large",
      bytes: [UInt8](repeating: 7, count: 160 << 20))
    return (fixture, try fixture.pack("large.tar"))
  }

  /// Runs `kk artifact import` into `directory`, signals it once its staging store exists,
  /// and expects it to die by that signal.
  static func interruptedImport(
    _ archive: String, into directory: String, signal signalNumber: Int32
  ) async throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: KKBinary.path)
    process.arguments = ["artifact", "import", "-a", archive, "--dir", directory]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
    let staging = directory + "/" + ArtifactImporter.stagingName + "/blobs"
    for _ in 0..<1000 where !FileManager.default.fileExists(atPath: staging) && process.isRunning {
      try await Task.sleep(for: .milliseconds(2))
    }
    try #require(process.isRunning, "the import ended before it could be interrupted")
    kill(process.processIdentifier, signalNumber)
    for _ in 0..<400 where process.isRunning { try await Task.sleep(for: .milliseconds(25)) }
    #expect(!process.isRunning)
    #expect(process.terminationReason == .uncaughtSignal)
    #expect(process.terminationStatus == signalNumber)
  }

  @Test(arguments: [SIGINT, SIGTERM])
  func interruptedImportRemovesTheWorkDirItCreated(_ signalNumber: Int32) async throws {
    let (fixture, archive) = try await Self.largeArtifact()
    let parent = fixture.scratch.path + "/new"
    try await Self.interruptedImport(archive, into: parent + "/kubekey", signal: signalNumber)
    #expect(!FileManager.default.fileExists(atPath: parent), "the created work dir was left")
  }

  @Test func interruptedImportIntoAnExistingDirKeepsItsContent() async throws {
    let (fixture, archive) = try await Self.largeArtifact()
    let directory = fixture.scratch.path + "/kubekey"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try "mine".write(toFile: directory + "/notes.txt", atomically: true, encoding: .utf8)
    try await Self.interruptedImport(archive, into: directory, signal: SIGINT)
    let left = try FileManager.default.contentsOfDirectory(atPath: directory)
    #expect(left == ["notes.txt"], "left: \(left)")
    #expect(try String(contentsOfFile: directory + "/notes.txt", encoding: .utf8) == "mine")
    // The next import completes as if nothing had happened.
    let again = try await KKBinary.run(["artifact", "import", "-a", archive, "--dir", directory])
    #expect(again.exitCode == 0, "\(again)")
    let large =
      try FileManager.default.attributesOfItem(
        atPath: directory + "/kube/v1.0.0/amd64/large")[.size] as? Int
    #expect(large == 160 << 20)
  }
}
