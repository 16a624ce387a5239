import ArgumentParser

/// `kk artifact ...`: everything that makes, reads or ships a bundle.
struct ArtifactCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "artifact",
    abstract: "Export, verify, inspect and push offline artifacts.",
    subcommands: [
      ArtifactVerifyCommand.self, ArtifactInspectCommand.self, ArtifactImportCommand.self,
      ArtifactExportCommand.self,
      ArtifactImagesCommand.self,
    ]
  )
}
