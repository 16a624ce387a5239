import ArgumentParser
import Foundation

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

  /// Runs the command like ArgumentParser's own `main()`, but ends the process with `_exit`
  /// after flushing stdout and stderr instead of `exit`.
  ///
  /// Why: `exit` runs the C `atexit` handlers, OpenSSL's cleanup among them, while the
  /// transfer pool's threads may still be inside libcurl (starting up, or finishing a
  /// transfer that an error made moot). That race crashed kk on its way out after an early
  /// error (a missing `-a` file: the message, then SIGSEGV in a pool thread). Nothing kk
  /// writes depends on exit handlers: files are closed, synced and renamed before a command
  /// returns.
  static func main() async {
    let code: Int32
    do {
      var command = try parseAsRoot()
      if var command = command as? AsyncParsableCommand {
        try await command.run()
      } else {
        try command.run()
      }
      code = ExitCode.success.rawValue
    } catch {
      code = exitCode(for: error).rawValue
      let text =
        code == ExitCode.validationFailure.rawValue
        ? usageError(message(for: error), full: fullMessage(for: error))
        : fullMessage(for: error)
      if !text.isEmpty {
        if code == ExitCode.success.rawValue {
          print(text)
        } else {
          FileHandle.standardError.write(Data((text + "\n").utf8))
        }
      }
    }
    fflush(nil)  // every output stream
    _exit(code)
  }
}

extension KK {
  /// A usage error in kk's one-line form, `kk: error: <what>; see 'kk ... --help'`, instead
  /// of ArgumentParser's three lines (`Error:`, the usage, the hint), so that scripts and
  /// people read every kk error the same way.
  static func usageError(_ message: String, full: String) -> String {
    var what = message.trimmingCharacters(in: .whitespacesAndNewlines)
    if what.hasPrefix("Error: ") { what.removeFirst("Error: ".count) }
    what = what.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
      .filter { !$0.isEmpty }.joined(separator: "; ")
    guard !what.isEmpty else { return full }
    let help = full.range(of: "See '").flatMap { start in
      full[start.upperBound...].range(of: "'").map {
        String(full[start.upperBound..<$0.lowerBound])
      }
    }
    return "kk: error: \(what)" + (help.map { "; see '\($0)'" } ?? "")
  }
}

extension KKVersion {
  /// What `kk --version` prints: the same line as `kk version`, so scripts can parse either.
  static let line = "kk \(current) (artifact format \(artifactFormat))"
}
