import ArgumentParser
import Artifact
import Foundation

/// `kk artifact inspect -a PATH [--json]`: what is in a bundle, and what it weighs.
struct ArtifactInspectCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "inspect",
    abstract: "List the images and files of an artifact with their sizes.",
    discussion: """
      Reads index.json and the manifests only, so it is quick on any size of bundle; it does \
      not check digests (use `kk artifact verify`). --json prints the schema documented in SPEC.md.
      """)

  @Option(
    name: [.short, .customLong("artifact")], help: "The artifact: a layout directory or an archive."
  )
  var artifact: String

  @Flag(help: "Print JSON (stable schema, see SPEC.md) instead of tables.")
  var json = false

  func run() async throws {
    try await reportingFailures {
      let inspection = try await ArtifactInspector.inspect(path: artifact)
      if json {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(inspection), as: UTF8.self))
      } else {
        print(Self.render(inspection))
      }
    }
  }

  static func render(_ inspection: ArtifactInspection) -> String {
    var out: [String] = []
    if !inspection.images.isEmpty {
      out.append(
        Output.table(
          ["IMAGE", "PLATFORMS", "DIGEST", "SIZE"],
          inspection.images.map {
            [
              $0.reference, $0.platforms.isEmpty ? "-" : $0.platforms.joined(separator: ","),
              Output.shortDigest($0.digest), Output.bytes($0.size),
            ]
          }))
      out.append("")
    }
    if !inspection.files.isEmpty {
      out.append(
        Output.table(
          ["FILE", "COMPONENT", "VERSION", "ARCH", "DIGEST", "SIZE"],
          inspection.files.map {
            [
              $0.path, $0.component ?? "-", $0.version ?? "-", $0.arch ?? "-",
              $0.digest.map(Output.shortDigest) ?? "-", Output.bytes($0.size),
            ]
          }))
      out.append("")
    }
    let saved = inspection.totalBytes - inspection.uniqueBytes
    out.append(
      "\(Output.count(inspection.images.count, "image")), "
        + "\(Output.count(inspection.files.count, "file")), "
        + "\(Output.count(inspection.blobCount, "blob")): \(Output.bytes(inspection.totalBytes)) in total, "
        + "\(Output.bytes(inspection.uniqueBytes)) stored"
        + (saved > 0 ? " (\(Output.bytes(saved)) saved by deduplication)" : ""))
    out.append("top digest \(inspection.topDigest)")
    return out.joined(separator: "\n")
  }
}
