import ArgumentParser
import Artifact
import Foundation

/// `kk artifact import -a FILE [--dir DIR]`: unpack an artifact into KubeKey's work dir.
struct ArtifactImportCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "import",
    abstract: "Unpack an artifact into KubeKey's work-dir layout, verifying every blob.",
    discussion: """
      Writes DIR/images (an OCI layout holding only image blobs, with per-arch <ref>-<arch> \
      entries for KubeKey 3.x) and every file at its KubeKey path (kube/<v>/<arch>/kubeadm, \
      repository/...). Entries with '..', absolute paths, links, devices or duplicate names are \
      refused and nothing is written outside DIR. A stamp records the artifact's index digest: \
      importing the same artifact again does nothing.
      """)

  @Option(
    name: [.short, .customLong("artifact")], help: "The artifact archive (tar, gzip or zstd).")
  var artifact: String

  @Option(name: .customLong("dir"), help: "The KubeKey work directory.")
  var directory: String = "./kubekey"

  func run() async throws {
    try await reportingFailures {
      let started = Date()
      // Ctrl-C or a TERM mid-import must not leave the staging store (as large as the
      // artifact's blobs), nor a work dir this import created.
      let cleanup = InterruptCleanup(
        paths: ArtifactImporter.discardOnInterrupt(directory: directory))
      defer { cleanup.disarm() }
      let report: ImportReport
      do {
        report = try ArtifactImporter.importArtifact(archive: artifact, into: directory)
      } catch {
        // The handler removed the staging store under the import: the error is its echo,
        // and the process is about to die by the signal.
        cleanup.awaitSignalDeathIfFired()
        throw error
      }
      let seconds = Date().timeIntervalSince(started)
      if report.alreadyImported {
        print("already imported: \(directory) holds \(report.indexDigest) (stamp); nothing to do")
        return
      }
      for entry in report.ignoredEntries { Output.warning("ignored archive entry \(entry)") }
      print(
        [
          "artifact    \(artifact)",
          "directory   \(directory)",
          "images      \(report.images.count) (+\(report.archEntries.count) per-arch entries)",
          "files       \(report.files.count)",
          "blobs       \(report.blobsVerified) verified (\(Output.bytes(report.bytesVerified)))",
          "index       \(report.indexDigest)",
          String(format: "done        in %.2f s", seconds),
        ].joined(separator: "\n"))
    }
  }
}
