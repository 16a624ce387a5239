import Foundation
import OCI
import TestSupport
import Testing

/// `kk artifact import --dir DIR` meeting a DIR it cannot use as it is: a symlinked
/// `DIR/images` (exit 1, nothing written through the link) and a read-only file system (the
/// message names the directory, the real cause and the fix).
@Suite struct ImportWorkDirCLITests {
  @Test func symlinkedImagesIsRefusedWithExitOneAndNothingWrittenThroughIt() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-import-link")
    defer { scratch.remove() }
    let images = try await TestImages.generate(into: scratch.path + "/layout", images: 1)
    let archive = scratch.path + "/artifact.tgz"
    try await ProcessRunner.checked(
      "tar", ["czf", archive, "-C", images.layout, "--exclude", ".ingest", "."])
    let dir = scratch.path + "/kubekey"
    let elsewhere = scratch.path + "/elsewhere/images"
    try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(
      atPath: dir + "/images", withDestinationPath: elsewhere)

    let run = try await KKBinary.run(["artifact", "import", "-a", archive, "--dir", dir])
    #expect(run.exitCode == 1, "\(run)")
    #expect(
      run.stderr.contains(
        "\(dir)/images is a symlink to \(elsewhere); kk writes only inside \(dir): remove the link or import with --dir \(scratch.path)/elsewhere"
      ), "\(run.stderr)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).isEmpty)
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["images"])
  }

  /// A read-only tmpfs in a private mount namespace (root here; skipped where it cannot be
  /// mounted): creating DIR's parent fails with EROFS, said as such, with the fix.
  @Test(.enabled(if: TmpfsProbe.canMount))
  func readOnlyFileSystemIsNamedWithTheFix() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-import-rofs")
    defer { scratch.remove() }
    let images = try await TestImages.generate(into: scratch.path + "/layout", images: 1)
    let archive = scratch.path + "/artifact.tgz"
    try await ProcessRunner.checked(
      "tar", ["czf", archive, "-C", images.layout, "--exclude", ".ingest", "."])
    let mount = scratch.path + "/mnt"
    try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
    let script = """
      mount -t tmpfs -o ro,size=64k tmpfs "$1" || exit 99
      "$2" artifact import -a "$3" --dir "$1/parent/kk"
      """
    let run = try await ProcessRunner.run(
      "unshare", ["-m", "sh", "-c", script, "sh", mount, KKBinary.path, archive])
    #expect(run.exitCode == 1, "\(run)")
    #expect(
      run.stderr.contains(
        "create directory \(mount)/parent failed: Read-only file system (errno 30); choose a writable --dir"
      ), "\(run.stderr)")
    #expect(!run.stderr.contains("Permission denied"), "\(run.stderr)")
  }
}
