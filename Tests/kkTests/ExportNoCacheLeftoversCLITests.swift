import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A `--no-cache` export killed with SIGKILL cannot remove its throw-away cache
/// `.kk-export-<pid>`; the next `--no-cache` export beside the same output removes those whose
/// process is gone, and nothing else.
@Suite struct ExportNoCacheLeftoversCLITests {
  /// The pid of a process that has certainly exited (and been reaped).
  static func deadPid() throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/true")
    try process.run()
    process.waitUntilExit()
    return process.processIdentifier
  }

  @Test func noCacheExportRemovesThrowAwayCachesOfDeadExportsOnly() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-nocache-stale")
    defer { dir.remove() }
    let manifest = try LocalISOManifest.write(in: dir.path, name: "stale")
    let out = dir.path + "/out"
    let files = FileManager.default
    func leftover(_ name: String) throws -> String {
      let path = out + "/" + name
      try files.createDirectory(atPath: path + "/blobs/sha256", withIntermediateDirectories: true)
      try Data(repeating: 1, count: 1000).write(to: URL(fileURLWithPath: path + "/blobs/sha256/x"))
      return path
    }
    let dead = try Self.deadPid()
    #expect(kill(dead, 0) != 0 && errno == ESRCH)
    let stale = try leftover(".kk-export-\(dead)")
    // Our own pid is alive: that export may still be running.
    let live = try leftover(".kk-export-\(getpid())")
    // Not the exact pattern, or not a directory: never touched.
    let padded = try leftover(".kk-export-0\(dead)")
    let elsewhere = try leftover("elsewhere")
    let link = out + "/.kk-export-\(try Self.deadPid())"
    try files.createSymbolicLink(atPath: link, withDestinationPath: elsewhere)

    let result = try await KKBinary.run([
      "artifact", "export", "-m", manifest, "-o", out + "/a.tar", "--no-cache",
    ])
    #expect(result.exitCode == 0, "\(result)")
    #expect(!files.fileExists(atPath: stale), "the dead export's throw-away cache stayed")
    #expect(
      result.stderr.contains(
        "kk: removed 1 throw-away cache of killed --no-cache exports from \(out) "
          + "(.kk-export-\(dead); 1000 B)"),
      "\(result.stderr)")
    #expect(files.fileExists(atPath: live + "/blobs/sha256/x"))
    #expect(files.fileExists(atPath: padded + "/blobs/sha256/x"))
    #expect(files.fileExists(atPath: elsewhere + "/blobs/sha256/x"))
    #expect((try? files.destinationOfSymbolicLink(atPath: link)) == elsewhere)
    // The export's own throw-away cache went as before.
    let left = try files.contentsOfDirectory(atPath: out).sorted()
    let expected = [
      (link as NSString).lastPathComponent, ".kk-export-0\(dead)", ".kk-export-\(getpid())",
      "a.tar", "elsewhere",
    ]
    #expect(left == expected.sorted(), "\(left)")

    // Nothing stale: no line.
    let again = try await KKBinary.run([
      "artifact", "export", "-m", manifest, "-o", out + "/b.tar", "--no-cache",
    ])
    #expect(again.exitCode == 0, "\(again)")
    #expect(!again.stderr.contains("throw-away cache"), "\(again.stderr)")
  }
}
