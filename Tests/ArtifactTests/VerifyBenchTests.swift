import Blobstore
import Foundation
import OCI
import Testing

@testable import Artifact

/// The measuring half of bench/verify.sh: runs only when KK_BENCH_LAYOUT names a layout
/// directory (build with `-c release`). Packs it with `ArchiveWriter` into KK_BENCH_OUT as
/// .tar, .tar.gz and .tar.zst, verifies the directory and each archive, and prints one
/// `BENCH <what> <bytes> <wall s> <cpu s>` line per measurement for the script to turn into a table.
/// With KK_BENCH_ELF set (a file listing paths), also packs those binaries as .tar.gz.
/// Serialized: CPU time is per process, so the two measurements must not overlap.
@Suite(
  "VerifyBench", .serialized,
  .enabled(if: ProcessInfo.processInfo.environment["KK_BENCH_LAYOUT"] != nil))
struct VerifyBenchTests {
  static let environment = ProcessInfo.processInfo.environment

  /// Wall and CPU (user + system, all threads) seconds: on a shared machine the CPU time
  /// is the figure that does not depend on what else is running.
  struct Timing {
    var wall: Double
    var cpu: Double
  }

  static func cpuSeconds() -> Double {
    var usage = rusage()
    #if os(Linux)
      getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    #else
      getrusage(RUSAGE_SELF, &usage)
    #endif
    let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
    return user + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
  }

  static func seconds(_ work: () throws -> Void) rethrows -> Timing {
    let start = DispatchTime.now().uptimeNanoseconds
    let cpu = cpuSeconds()
    try work()
    return Timing(
      wall: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, cpu: cpuSeconds() - cpu)
  }

  static func size(_ path: String) -> Int64 {
    var info = stat()
    return stat(path, &info) == 0 ? Int64(info.st_size) : -1
  }

  static func report(_ what: String, bytes: Int64, seconds: Timing) {
    print("BENCH \(what) \(bytes) \(String(format: "%.3f %.3f", seconds.wall, seconds.cpu))")
  }

  @Test func packAndVerify() throws {
    let layout = try #require(Self.environment["KK_BENCH_LAYOUT"])
    let out = Self.environment["KK_BENCH_OUT"] ?? NSTemporaryDirectory()
    let store = try BlobStore.open(at: layout)
    // SPEC order: layout files, then JSON blobs, then the rest by digest.
    let names = try FileManager.default.contentsOfDirectory(atPath: layout + "/blobs/sha256")
      .sorted()
    let blobs = names.map { "blobs/sha256/\($0)" }
    let sizes = blobs.map { Self.size(layout + "/" + $0) }
    let isJSON = try blobs.map { name in
      let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: layout + "/" + name))
      defer { try? handle.close() }
      return try handle.read(upToCount: 1) == Data("{".utf8)
    }
    let order =
      ["oci-layout", "index.json"] + zip(blobs, isJSON).filter(\.1).map(\.0)
      + zip(blobs, isJSON).filter { !$0.1 }.map(\.0)
    let total = sizes.reduce(0, +)

    let direct = try store.verify(threads: 2)
    #expect(direct.isValid, "\(direct.problems)")
    Self.report(
      "verify-dir", bytes: total, seconds: try Self.seconds { _ = try store.verify(threads: 2) })

    for name in ["artifact.tar", "artifact.tar.gz", "artifact.tar.zst"] {
      let path = out + "/" + name
      let written = try Self.seconds {
        let writer = try ArchiveWriter(path: path)
        for entry in order { try writer.addFile(name: entry, path: layout + "/" + entry) }
        try writer.finish()
      }
      Self.report("write-\(name) archive=\(Self.size(path))", bytes: total, seconds: written)
      var report: VerifyReport?
      let verified: Timing = try Self.seconds {
        report = try ArtifactVerifier.verifyBlocking(path: path)
      }
      #expect(report?.isValid == true, "\(report?.problems ?? [])")
      #expect(report?.summary == direct.summary)
      Self.report("verify-\(name)", bytes: total, seconds: verified)
    }
  }

  @Test(.enabled(if: ProcessInfo.processInfo.environment["KK_BENCH_ELF"] != nil))
  func packBinaries() throws {
    let list = try String(
      contentsOfFile: try #require(Self.environment["KK_BENCH_ELF"]), encoding: .utf8)
    let files = list.split(separator: "\n").map(String.init)
    let out = (Self.environment["KK_BENCH_OUT"] ?? NSTemporaryDirectory()) + "/elf.tar.gz"
    var total: Int64 = 0
    let elapsed = try Self.seconds {
      let writer = try ArchiveWriter(path: out)
      for (n, file) in files.enumerated() {
        try writer.addFile(name: "f\(n)", path: file)
        total += Self.size(file)
      }
      try writer.finish()
    }
    Self.report("write-elf.tar.gz archive=\(Self.size(out))", bytes: total, seconds: elapsed)
  }
}
