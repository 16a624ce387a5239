import Blobstore
import Foundation
import OCI
import Testing

@testable import Artifact
@testable import TestSupport

/// What killed copies leave behind is removed by the next copy, but only when the process
/// that wrote it is gone: partial files in a destination layout, staging directories in the
/// temp directory.
@Suite("kk image copy: leftovers of killed copies")
struct ImageCopyLeftoverTests {
  /// The pid of a process that has exited and been reaped.
  static func deadPid() throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/true")
    try process.run()
    process.waitUntilExit()
    return process.processIdentifier
  }

  @Test("a copy into a layout removes dead processes' partial files, not a live one's")
  func copyIntoLayoutRemovesDeadPartials() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-copy-partials")
    defer { scratch.remove() }
    let images = try await TestImages.generate(into: scratch.path + "/gen", preset: .small)
    let image = try #require(images.images.first)
    let destination = scratch.path + "/dest"
    let store = try BlobStore.create(at: destination)
    let dead = try Self.deadPid()
    #expect(processIsGone(dead))
    #expect(!processIsGone(getpid()))
    let hex = String(repeating: "cd", count: 32)
    let deadFile = "\(hex).\(dead).7.partial"
    let liveFile = "\(hex).\(getpid()).7.partial"
    let other = "\(hex).resume"
    for name in [deadFile, liveFile, other] {
      #expect(
        FileManager.default.createFile(
          atPath: store.ingestDirectory + "/" + name, contents: Data(count: 4096)))
    }
    let copier = ImageCopier(pool: TransferPool(threads: 2))
    let copied = try await copier.copy(
      from: .layout(path: images.layout, reference: image.ref),
      to: .layout(path: destination, reference: "x"), options: ImageCopyOptions(parallel: 2))
    #expect(copied.digest == image.digest)
    let left = Set(try FileManager.default.contentsOfDirectory(atPath: store.ingestDirectory))
    #expect(!left.contains(deadFile), "\(left)")
    #expect(left.contains(liveFile) && left.contains(other), "\(left)")
  }

  @Test("registry to registry removes dead processes' staging directories, not a live one's")
  func registryCopyRemovesDeadStaging() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-copy-staging")
    defer { scratch.remove() }
    let parent = CopyLeftovers.temporaryDirectory
    let dead = try Self.deadPid()
    let deadDir = "\(parent)/kk-copy-\(dead)-\(UUID().uuidString)"
    let liveDir = "\(parent)/kk-copy-\(getpid())-\(UUID().uuidString)"
    // Not named as a staging directory (no pid): never touched.
    let oldStyle = "\(parent)/kk-copy-\(UUID().uuidString)"
    for path in [deadDir, liveDir, oldStyle] {
      try FileManager.default.createDirectory(
        atPath: path + "/.ingest", withIntermediateDirectories: true)
    }
    defer {
      for path in [deadDir, liveDir, oldStyle] { try? FileManager.default.removeItem(atPath: path) }
    }
    try await withTestRegistry(.plain) { registry in
      let images = try await TestImages.generate(into: scratch.path + "/gen", preset: .small)
      try await TestImages.push(images, to: registry)
      let image = try #require(images.images.first)
      let access = RegistryOptions(scheme: .http)
      let copier = ImageCopier(pool: TransferPool(threads: 2))
      let copied = try await copier.copy(
        from: .registry(try Reference(parsing: "\(registry.host)/\(image.ref)")),
        // Another host name for the same registry: no mount, every blob goes through staging.
        to: .registry(try Reference(parsing: "localhost:\(registry.port)/kk-left/app:v1")),
        options: ImageCopyOptions(source: access, destination: access, parallel: 2))
      #expect(copied.digest == image.digest)
    }
    #expect(!FileManager.default.fileExists(atPath: deadDir))
    #expect(FileManager.default.fileExists(atPath: liveDir))
    #expect(FileManager.default.fileExists(atPath: oldStyle))
    // The copy's own staging directory is gone too.
    #expect(CopyLeftovers.ownStagingDirectories == [liveDir])
  }
}
