import Foundation
import OCI
import TestSupport
import Testing

@testable import Artifact

/// Raw binaries in a .tar.gz: deflated fast, yet within 10% of `gzip -6` of the same bytes.
@Suite struct ArchiveBinaryLevelTests {
  /// A real ELF file of this machine, 2-16 MiB (large enough to take the binary level).
  static func elf() -> String? {
    for directory in ["/usr/bin", "/usr/lib/x86_64-linux-gnu", "/opt/swift/usr/bin"] {
      let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
      for name in names.sorted() {
        let path = directory + "/" + name
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
          attributes[.type] as? FileAttributeType == .typeRegular,
          let size = attributes[.size] as? Int, size >= 2 << 20, size <= 16 << 20,
          let handle = FileHandle(forReadingAtPath: path)
        else { continue }
        let magic = handle.readData(ofLength: 4)
        try? handle.close()
        if magic == Data([0x7f, 0x45, 0x4c, 0x46]) { return path }
      }
    }
    return nil
  }

  @Test func rawBinaryStaysWithinTenPercentOfGzip6() async throws {
    let elf = try #require(Self.elf(), "no 2-16 MiB ELF file on this machine")
    let scratch = try ScratchDir()
    let output = scratch.path + "/bin.tar.gz"
    let writer = try ArchiveWriter(path: output)
    try writer.addFile(name: "kube/v1/amd64/kubeadm", path: elf)
    let written = try writer.finish()
    let gzip = try await ProcessRunner.run("/bin/sh", ["-c", "gzip -6 -c '\(elf)' | wc -c"])
    let reference = try #require(Int64(gzip.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
    let size = try #require(
      (try FileManager.default.attributesOfItem(atPath: elf))[.size] as? Int64)
    // Deflated (well below the input), and at most 10% above gzip -6 (tar framing included).
    #expect(written.size < size * 9 / 10, "\(elf): \(written.size) of \(size)")
    #expect(written.size <= reference * 11 / 10, "\(elf): \(written.size) vs gzip -6 \(reference)")
  }
}
