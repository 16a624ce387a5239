import Foundation
import OCI
import TestSupport
import Testing

/// Whether this process may mount a tmpfs in a private mount namespace (root, or user
/// namespaces allowed); the suite is skipped elsewhere.
enum TmpfsProbe {
  static let canMount: Bool = {
    guard ProcessRunner.which("unshare") != nil else { return false }
    let probe = Process()
    probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    probe.arguments = ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"]
    probe.standardError = FileHandle.nullDevice
    guard (try? probe.run()) != nil else { return false }
    probe.waitUntilExit()
    return probe.terminationStatus == 0
  }()
}

/// QA F1 as the user met it: `kk artifact import` into a small tmpfs. Each run mounts its own
/// tmpfs in a private mount namespace (`unshare -m`), so nothing outlives the process.
@Suite(.enabled(if: TmpfsProbe.canMount))
struct ImportSpaceCLITests {
  /// Runs `kk artifact import -a ARCHIVE --dir MNT/kk` with a tmpfs of `kib` KiB on MNT, then
  /// lists what the import left in MNT/kk.
  func importIntoTmpfs(_ archive: String, kib: Int64, mount: String) async throws
    -> ProcessOutput
  {
    try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
    let script = """
      mount -t tmpfs -o size=\(kib)k tmpfs "$1" || exit 99
      "$2" artifact import -a "$3" --dir "$1/kk"; rc=$?
      echo "left: $(ls -A "$1/kk" 2>/dev/null | tr '\\n' ' ')"
      exit $rc
      """
    return try await ProcessRunner.run(
      "unshare", ["-m", "sh", "-c", script, "sh", mount, KKBinary.path, archive])
  }

  /// A `tar czf` with the layout files and every JSON blob first (SPEC 1.1's point: the
  /// metadata comes before the layers), then the rest, plus `extra` entries at the end.
  func specOrderArchive(_ layout: String, to path: String, extra: [String] = []) async throws
    -> Int64
  {
    let blobs = layout + "/blobs/sha256"
    var json: [String] = []
    var rest: [String] = []
    var total: Int64 = 0
    for name in try FileManager.default.contentsOfDirectory(atPath: blobs).sorted() {
      let data = try Data(contentsOf: URL(fileURLWithPath: blobs + "/" + name))
      total += Int64(data.count)
      if data.first == UInt8(ascii: "{") {
        json.append("blobs/sha256/" + name)
      } else {
        rest.append("blobs/sha256/" + name)
      }
    }
    try await ProcessRunner.checked(
      "tar", ["czf", path, "-C", layout, "oci-layout", "index.json"] + json + rest + extra)
    return total
  }

  @Test func tooSmallTmpfsIsRefusedUpFrontNotCalledCorrupt() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-import-space")
    defer { scratch.remove() }
    let images = try await TestImages.generate(into: scratch.path + "/layout", images: 2)
    let archive = scratch.path + "/artifact.tar.gz"
    let total = try await specOrderArchive(images.layout, to: archive)
    #expect(total > 3 << 20, "the artifact must not fit in 2 MiB (\(total) bytes)")

    let run = try await importIntoTmpfs(archive, kib: 2048, mount: scratch.path + "/mnt")
    #expect(run.exitCode == 1, "\(run)")
    let mib = String(format: "%.1f MiB", Double(total) / 1_048_576)
    #expect(
      run.stderr.contains(
        "no space left in \(scratch.path)/mnt/kk: the artifact's blobs need \(mib)"),
      "\(run.stderr)")
    #expect(run.stderr.contains("free space or choose another --dir"))
    #expect(!run.stderr.contains("corrupt") && !run.stderr.contains("intact copy"))
  }

  @Test func diskFullDuringThePassSaysNoSpaceAndPlacesNothing() async throws {
    // The referenced blobs fit, so the up-front check passes; an unreferenced 3 MiB blob at
    // the end of the archive does not: refused when its entry comes (more than is free), or
    // its write fails with ENOSPC if the free space was read before other writes landed.
    let scratch = try TemporaryDirectory(prefix: "kk-import-enospc")
    defer { scratch.remove() }
    let images = try await TestImages.generate(into: scratch.path + "/layout", images: 1)
    var extra = [UInt8](repeating: 0, count: 3 << 20)
    for index in extra.indices {
      extra[index] = UInt8(truncatingIfNeeded: (index &* 2_654_435_761) >> 7)
    }
    let extraDigest = SHA256Hasher.digest(extra)
    let extraDir = scratch.path + "/extra/blobs/sha256"
    try FileManager.default.createDirectory(atPath: extraDir, withIntermediateDirectories: true)
    try Data(extra).write(to: URL(fileURLWithPath: extraDir + "/" + extraDigest.encoded))
    let archive = scratch.path + "/artifact.tar.gz"
    let total = try await specOrderArchive(
      images.layout, to: archive,
      extra: ["-C", scratch.path + "/extra", "blobs/sha256/" + extraDigest.encoded])

    let run = try await importIntoTmpfs(
      archive, kib: total / 1024 + 1024, mount: scratch.path + "/mnt")
    #expect(run.exitCode == 1, "\(run)")
    // Which blob fails first depends on the two hashing lanes; the words do not.
    let mount = "\(scratch.path)/mnt/kk"
    #expect(
      run.stderr.contains("no space left in \(mount) for blobs/sha256/")
        || run.stderr.contains("no space left in \(mount) while writing blobs/sha256/"),
      "\(run.stderr)")
    #expect(run.stderr.contains("free space or choose another --dir"))
    #expect(!run.stderr.contains("corrupt") && !run.stderr.contains("intact copy"))
    #expect(run.stdout.contains("left: \n"), "nothing placed, staging removed: \(run.stdout)")
  }

  /// A decompression bomb: an entry whose header declares 1 GiB (its data a run of zeros,
  /// cut short after 32 MiB) into an 8 MiB tmpfs. It is refused from its header, before a
  /// byte of it is written, and the reading stops there (it never meets the cut), and the
  /// import leaves nothing.
  @Test func aBombEntryIsRefusedFromItsHeader() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-import-bomb")
    defer { scratch.remove() }
    let archive = scratch.path + "/bomb.tar.gz"
    let script = """
      import gzip, io, sys, tarfile
      out = sys.argv[1]
      def entry(name, data):
          info = tarfile.TarInfo(name); info.size = len(data)
          return info.tobuf(tarfile.PAX_FORMAT) + data + b"\\0" * (-len(data) % 512)
      index = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'
      bomb = tarfile.TarInfo("blobs/sha256/" + "0" * 64); bomb.size = 1 << 30
      with gzip.open(out, "wb") as f:
          f.write(entry("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'))
          f.write(entry("index.json", index))
          f.write(bomb.tobuf(tarfile.PAX_FORMAT))
          f.write(b"\\0" * (32 << 20))
      """
    try await ProcessRunner.checked("python3", ["-c", script, archive])
    let run = try await importIntoTmpfs(archive, kib: 8192, mount: scratch.path + "/mnt")
    #expect(run.exitCode == 1, "\(run)")
    #expect(
      run.stderr.contains(
        "no space left in \(scratch.path)/mnt/kk for blobs/sha256/\(String(repeating: "0", count: 64)): it is 1024.0 MiB"
      ), "\(run.stderr)")
    #expect(run.stdout.contains("left: \n"), "nothing left behind: \(run.stdout)")
  }
}
