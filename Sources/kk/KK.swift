import ArgumentParser

/// The `kk` root command: the offline-bundle half of KubeKey, as an OCI toolkit.
@main
struct KK: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "kk",
    abstract: "Offline Kubernetes bundles as content-addressed OCI artifacts.",
    discussion: """
      Export what an air-gapped install needs into one verified artifact, then push its \
      images into a private registry. Exit codes: 0 success, 1 failure, 2 partial success, \
      64 usage error.
      """,
    version: KKVersion.line,
    subcommands: [
      VersionCommand.self,
      ArtifactCommand.self,
      CacheCommand.self,
      CreateCommand.self,
      ImageCommand.self,
    ]
  )
}

extension KKVersion {
  /// What `kk --version` prints: the same line as `kk version`, so scripts can parse either.
  static let line = "kk \(current) (artifact format \(artifactFormat))"
}
