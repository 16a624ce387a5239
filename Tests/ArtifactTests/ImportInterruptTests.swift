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

  /// Runs `kk artifact import` into `directory` and signals it as soon as its staging store
  /// exists; true when the import died by that signal, false when it finished first (a
  /// loaded machine: the caller tries again). A plain thread watches for the store, so a
  /// busy cooperative pool cannot make it late.
  static func interruptImport(
    _ archive: String, into directory: String, signal signalNumber: Int32
  ) throws -> Bool {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: KKBinary.path)
    process.arguments = ["artifact", "import", "-a", archive, "--dir", directory]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    let staging = directory + "/" + ArtifactImporter.stagingName + "/blobs"
    try process.run()
    defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
    let watcher = Thread {
      while process.isRunning && !FileManager.default.fileExists(atPath: staging) {
        usleep(200)
      }
      if process.isRunning { kill(process.processIdentifier, signalNumber) }
    }
    watcher.start()
    process.waitUntilExit()
    guard process.terminationReason == .uncaughtSignal else {
      #expect(process.terminationStatus == 0, "the import failed instead of finishing")
      return false
    }
    #expect(process.terminationStatus == signalNumber)
    return true
  }

  /// ``interruptImport(_:into:signal:)`` until it interrupts (at most 4 tries); `reset`
  /// restores the starting state between tries.
  static func interruptedImport(
    _ archive: String, into directory: String, signal signalNumber: Int32,
    reset: () throws -> Void
  ) throws {
    for _ in 0..<4 {
      if try interruptImport(archive, into: directory, signal: signalNumber) { return }
      try reset()
    }
    Issue.record("every import finished before the signal")
  }

  @Test(arguments: [SIGINT, SIGTERM])
  func interruptedImportRemovesTheWorkDirItCreated(_ signalNumber: Int32) async throws {
    let (fixture, archive) = try await Self.largeArtifact()
    let parent = fixture.scratch.path + "/new"
    try Self.interruptedImport(archive, into: parent + "/kubekey", signal: signalNumber) {
      try FileManager.default.removeItem(atPath: parent)
    }
    #expect(!FileManager.default.fileExists(atPath: parent), "the created work dir was left")
  }

  @Test func interruptedImportIntoAnExistingDirKeepsItsContent() async throws {
    let (fixture, archive) = try await Self.largeArtifact()
    let directory = fixture.scratch.path + "/kubekey"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try "mine".write(toFile: directory + "/notes.txt", atomically: true, encoding: .utf8)
    try Self.interruptedImport(archive, into: directory, signal: SIGINT) {
      for name in try FileManager.default.contentsOfDirectory(atPath: directory)
      where name != "notes.txt" {
        try FileManager.default.removeItem(atPath: directory + "/" + name)
      }
    }
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
