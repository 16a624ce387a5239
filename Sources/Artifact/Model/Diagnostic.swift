/// One problem found while reading a KubeKey YAML file, with the place it was found.
///
/// KubeKey ignored most mistakes in a manifest and failed much later (during a download or a
/// push) with no hint of the line at fault. Every problem we find carries `file:line:column`
/// so the user can jump straight to it, and we collect all of them in one pass.
public struct Diagnostic: Hashable, Sendable, CustomStringConvertible {
  public enum Severity: String, Hashable, Sendable {
    /// The file is still usable; something looks wrong or was normalised.
    case warning
    /// What an explicit setting does (never an error, also not under `--strict`).
    case note
    /// The file cannot be used as written.
    case error
  }

  public var severity: Severity
  /// The file name as the user gave it (or a label such as `<stdin>`).
  public var file: String
  /// 1-based line; `nil` when the problem concerns the whole file (for example, it is empty).
  public var line: Int?
  /// 1-based column, counted in Unicode scalars as libyaml does.
  public var column: Int?
  /// What is wrong and, where we can tell, what to write instead.
  public var message: String

  public init(severity: Severity, file: String, line: Int?, column: Int?, message: String) {
    self.severity = severity
    self.file = file
    self.line = line
    self.column = column
    self.message = message
  }

  /// `file:line:column: message`, the form compilers use, so editors can link to it.
  public var description: String {
    var place = file
    if let line {
      place += ":\(line)"
      if let column { place += ":\(column)" }
    }
    let label =
      switch severity {
      case .warning: "warning: "
      case .note: "note: "
      case .error: ""
      }
    return "\(place): \(label)\(message)"
  }
}

/// A KubeKey YAML file that could not be used, with every problem found in it.
///
/// Thrown by ``KubeKeyManifest/parse(yaml:file:options:)`` and
/// ``ClusterRegistryConfig/parse(yaml:file:options:)``. `diagnostics` holds the errors and
/// the warnings, in file order, so a user fixes everything in one round.
public struct ModelError: Error, Sendable, CustomStringConvertible {
  public var diagnostics: [Diagnostic]

  public init(diagnostics: [Diagnostic]) {
    self.diagnostics = diagnostics
  }

  /// Only the problems that make the file unusable.
  public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }

  /// The errors first (file order), then the warnings: printed after `kk: error:`, the
  /// first line must be an error, not a `warning:` that reads as the reason for failing.
  public var description: String {
    (errors + diagnostics.filter { $0.severity == .warning }).map(\.description)
      .joined(separator: "\n")
  }
}

/// How strictly a KubeKey YAML file is checked.
public struct ParseOptions: Hashable, Sendable {
  /// Treat every warning (unknown field, duplicate image, normalised arch alias) as an error.
  /// Useful in CI, where a typo such as `imgaes:` must not silently drop every image.
  public var strict: Bool

  public init(strict: Bool = false) {
    self.strict = strict
  }
}
