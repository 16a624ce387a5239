import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `kk cache prune` while an export uses the same cache deleted the export's blobs and
/// `.resume` downloads. Exports hold a shared flock on `kk-cache.json` for their whole run;
/// prune takes the exclusive one without waiting and refuses while any export holds it.
@Suite struct CachePruneLockCLITests {
  /// Every path under `directory` with its size.
  func tree(_ directory: String) throws -> [String: Int] {
    var result: [String: Int] = [:]
    let enumerator = FileManager.default.enumerator(atPath: directory)
    while let path = enumerator?.nextObject() as? String {
      let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/" + path)
      result[path] = (attributes[.size] as? Int) ?? -1
    }
    return result
  }

  /// True when some other open file holds a lock on `path` (our exclusive try fails).
  func isLocked(_ path: String) -> Bool {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    return flock(fd, LOCK_EX | LOCK_NB) != 0
  }

  @Test func pruneRefusesWhileAnExportRunsAndWorksAfter() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-prune-lock")
    defer { dir.remove() }
    let silent = try ExportInterruptCLITests.SilentPort()
    let cache = dir.path + "/cache"
    let hanging = dir.path + "/hang.yaml"
    try """
    apiVersion: kubekey.kubesphere.io/v1alpha2
    kind: Manifest
    metadata: {name: hang}
    spec:
      arches: [amd64]
      images:
      - 127.0.0.1:\(silent.port)/hang/app:1
      registry:
        auths:
          "127.0.0.1:\(silent.port)": {plainHTTP: true}

    """.write(toFile: hanging, atomically: true, encoding: .utf8)
    let quick = try LocalISOManifest.write(in: dir.path, name: "quick")
    // A finished export leaves blobs; a kept download stands for a running one's `.resume`.
    let first = try await KKBinary.run([
      "artifact", "export", "-m", quick, "-o", dir.path + "/first.tar", "--cache-dir", cache,
    ])
    #expect(first.exitCode == 0, "\(first)")
    _ = FileManager.default.createFile(
      atPath: cache + "/.ingest/\(String(repeating: "a", count: 64)).resume",
      contents: Data(repeating: 2, count: 100))
    let blobs = try FileManager.default.contentsOfDirectory(atPath: cache + "/blobs/sha256")
    #expect(!blobs.isEmpty)

    let process = Process()
    process.executableURL = URL(fileURLWithPath: KKBinary.path)
    process.arguments = [
      "artifact", "export", "-m", hanging, "-o", dir.path + "/hang.tar", "--cache-dir", cache,
    ]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
    let marker = cache + "/kk-cache.json"
    for _ in 0..<200 where !isLocked(marker) { try await Task.sleep(for: .milliseconds(25)) }
    #expect(isLocked(marker), "the running export does not hold the cache lock")
    #expect(process.isRunning, "the export did not hang on the silent registry")

    let before = try tree(cache)
    for arguments in [["cache", "prune"], ["cache", "prune", "--older-than", "0"]] {
      let prune = try await KKBinary.run(arguments + ["--cache-dir", cache])
      #expect(prune.exitCode == 1, "\(prune)")
      #expect(
        prune.stderr
          == "kk: error: an export is using \(cache) (it holds the cache lock); "
          + "run prune when it has finished\n", "\(prune.stderr)")
      #expect(try tree(cache) == before, "prune changed the cache of a running export")
    }
    let info = try await KKBinary.run(["cache", "info", "--cache-dir", cache])
    #expect(info.exitCode == 0 && info.stdout.contains("blobs  \(blobs.count)"), "\(info)")
    // Exports share the lock: a second export on the same cache runs to the end.
    let second = try await KKBinary.run([
      "artifact", "export", "-m", quick, "-o", dir.path + "/second.tar", "--cache-dir", cache,
    ])
    #expect(second.exitCode == 0, "\(second)")

    // The lock dies with its process, even on SIGKILL: prune works as before.
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    let prune = try await KKBinary.run(["cache", "prune", "--cache-dir", cache])
    #expect(prune.exitCode == 0, "\(prune)")
    #expect(prune.stdout.contains("removed \(blobs.count) blobs and 1 temp files"), "\(prune)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: cache + "/blobs/sha256").isEmpty)
  }
}
