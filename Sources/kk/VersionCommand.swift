import ArgumentParser

enum KKVersion {
  /// The release of this binary; the artifact format it writes is in SPEC.md.
  static let current = "0.1.0"
  static let artifactFormat = "1"
}

struct VersionCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "version",
    abstract: "Print the version of kk and of the artifact format it writes.")

  func run() {
    print("kk \(KKVersion.current) (artifact format \(KKVersion.artifactFormat))")
  }
}
