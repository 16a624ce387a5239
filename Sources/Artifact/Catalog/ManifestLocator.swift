import Yams

/// Finds where a manifest field is, or would go, in the manifest's text.
///
/// ``KubeKeyManifest`` is a clean value without YAML positions, which keeps it easy to build
/// in code and compare in tests. A refusal such as "add spec.components.helm.sha256.amd64"
/// is much more useful with `manifest.yaml:12:11:` in front, so the command edge hands the
/// text it parsed to the catalog and this type re-reads it (once) to place field paths.
public struct ManifestLocator: Sendable {
  /// The file name diagnostics carry, as the user gave it.
  public let file: String
  private let yaml: String

  /// `yaml` is the text the manifest was parsed from; unreadable text only means no
  /// positions (the manifest parser has already reported its problems). The text is read
  /// again only when a position is asked for, which happens only on a refusal.
  public init(yaml: String, file: String) {
    self.file = file
    self.yaml = yaml
  }

  /// The position of `field` (`spec.components.containerRuntimes[0].sha256.amd64`) or, when
  /// it does not exist yet, of the nearest existing node on its path: the place to add it.
  public func locate(_ field: String) -> MissingChecksum.SourceLocation? {
    guard var node = (try? Yams.compose(yaml: yaml)) ?? nil else { return nil }
    for step in Self.steps(field) {
      guard let next = Self.child(of: node, step) else { break }
      node = next
    }
    guard let mark = node.mark else { return nil }
    return MissingChecksum.SourceLocation(file: file, line: mark.line, column: mark.column)
  }

  private enum Step {
    case key(String)
    case index(Int)
  }

  /// `a.b[0].c` → key a, key b, index 0, key c.
  private static func steps(_ field: String) -> [Step] {
    var steps: [Step] = []
    for part in field.split(separator: ".") {
      var rest = Substring(part)
      if let open = rest.firstIndex(of: "[") {
        if open > rest.startIndex { steps.append(.key(String(rest[..<open]))) }
        rest = rest[open...]
        while rest.first == "[", let close = rest.firstIndex(of: "]") {
          if let index = Int(rest[rest.index(after: rest.startIndex)..<close]) {
            steps.append(.index(index))
          }
          rest = rest[rest.index(after: close)...]
        }
      } else {
        steps.append(.key(String(rest)))
      }
    }
    return steps
  }

  private static func child(of node: Node, _ step: Step) -> Node? {
    switch step {
    case .key(let key):
      guard let mapping = node.mapping else { return nil }
      return mapping.first { $0.key.string == key }?.value
    case .index(let index):
      guard let sequence = node.sequence, index >= 0, index < sequence.count else {
        return nil
      }
      return sequence[index]
    }
  }
}
