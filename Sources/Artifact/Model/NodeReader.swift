import Yams

/// Walks a composed YAML tree and records every problem with the node's `line:column`.
///
/// Decoding through `Codable` would stop at the first error and lose the position; walking
/// `Yams.Node` keeps the libyaml marks so each diagnostic points at the exact key or value.
struct NodeReader {
  let file: String
  let strict: Bool
  private(set) var diagnostics: [Diagnostic] = []

  init(file: String, strict: Bool) {
    self.file = file
    self.strict = strict
  }

  var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

  mutating func record(
    _ severity: Diagnostic.Severity, _ message: String, line: Int?, column: Int?
  ) {
    diagnostics.append(
      Diagnostic(severity: severity, file: file, line: line, column: column, message: message)
    )
  }

  mutating func error(_ message: String, at mark: Mark?) {
    record(.error, message, line: mark?.line, column: mark?.column)
  }

  /// A warning, or an error under `strict`. `consequence` says what kk does about it
  /// ("it is ignored", "listed once"): true of a warning, false of an error, so it is left
  /// out under `strict`.
  mutating func warning(_ message: String, then consequence: String? = nil, at mark: Mark?) {
    let text = strict ? message : message + (consequence.map { "; \($0)" } ?? "")
    record(strict ? .error : .warning, text, line: mark?.line, column: mark?.column)
  }

  /// Information, never an error (also under `strict`): what the file asks for explicitly,
  /// such as KubeKey's `version: ""` opt-out, said so the user sees its effect.
  mutating func note(_ message: String, at mark: Mark?) {
    record(.note, message, line: mark?.line, column: mark?.column)
  }

  /// Diagnostics in file order (whole-file problems first), stable for equal positions.
  var sortedDiagnostics: [Diagnostic] {
    diagnostics.enumerated().sorted { lhs, rhs in
      let l = (lhs.element.line ?? 0, lhs.element.column ?? 0, lhs.offset)
      let r = (rhs.element.line ?? 0, rhs.element.column ?? 0, rhs.offset)
      return l < r
    }.map(\.element)
  }

  // MARK: Shapes

  /// True when the node is an explicit or implicit YAML null (`~`, `null`, or nothing).
  static func isNull(_ node: Node) -> Bool {
    guard case .scalar = node else { return false }
    // Quoted scalars carry the `str` tag, so `""` and `"null"` are strings, not null.
    return Resolver.default.resolveTag(of: node) == .null
  }

  static func kind(of node: Node) -> String {
    switch node {
    case .scalar: return isNull(node) ? "nothing" : "a scalar"
    case .mapping: return "a mapping"
    case .sequence: return "a list"
    case .alias: return "an alias"
    }
  }

  /// The mapping's fields by key. Unknown keys are warned about (with a suggestion when one
  /// known key is a near miss), non-string keys are errors.
  mutating func fields(
    _ node: Node, path: String, known: [String]
  ) -> [String: (key: Node, value: Node)]? {
    guard case .mapping(let mapping) = node else {
      error("\(path) must be a mapping, found \(Self.kind(of: node))", at: node.mark)
      return nil
    }
    var result: [String: (key: Node, value: Node)] = [:]
    for (key, value) in mapping {
      guard case .scalar(let scalar) = key else {
        error("\(path) has a key that is not a string", at: key.mark)
        continue
      }
      let name = scalar.string
      if !known.isEmpty && !known.contains(name) {
        var message = "unknown field '\(name)' in \(path)"
        if let guess = Self.nearest(name, in: known) {
          message += " (did you mean '\(guess)'?)"
        } else {
          message += " (known: \(known.joined(separator: ", ")))"
        }
        warning(message, then: "it is ignored", at: key.mark)
        continue
      }
      result[name] = (key, value)
    }
    return result
  }

  /// A string scalar; `nil` (without a diagnostic) for YAML null.
  mutating func string(_ node: Node, path: String) -> String? {
    if Self.isNull(node) { return nil }
    guard case .scalar(let scalar) = node else {
      error("\(path) must be a string, found \(Self.kind(of: node))", at: node.mark)
      return nil
    }
    return scalar.string
  }

  /// A non-empty string that must be present.
  mutating func requiredString(
    _ fields: [String: (key: Node, value: Node)], _ name: String, path: String, parent: Node
  ) -> String? {
    guard let field = fields[name] else {
      error("\(path) is missing '\(name)'", at: parent.mark)
      return nil
    }
    guard let value = string(field.value, path: "\(path).\(name)") else {
      if Self.isNull(field.value) {
        error("\(path).\(name) is empty", at: field.value.mark ?? field.key.mark)
      }
      return nil
    }
    if value.isEmpty {
      error("\(path).\(name) is empty", at: field.value.mark)
      return nil
    }
    return value
  }

  mutating func bool(_ node: Node, path: String) -> Bool? {
    if Self.isNull(node) { return nil }
    guard case .scalar = node, Resolver.default.resolveTag(of: node) == .bool,
      let value = node.bool
    else {
      error("\(path) must be true or false", at: node.mark)
      return nil
    }
    return value
  }

  /// A list; YAML null counts as an empty list (KubeKey writes `images:` with no entries).
  mutating func sequence(_ node: Node, path: String) -> [Node]? {
    if Self.isNull(node) { return [] }
    guard case .sequence(let sequence) = node else {
      error("\(path) must be a list, found \(Self.kind(of: node))", at: node.mark)
      return nil
    }
    return Array(sequence)
  }

  /// A list of strings, each with its node for positions.
  mutating func strings(_ node: Node, path: String) -> [(String, Node)] {
    guard let items = sequence(node, path: path) else { return [] }
    var result: [(String, Node)] = []
    for (index, item) in items.enumerated() {
      if let value = string(item, path: "\(path)[\(index)]") {
        result.append((value, item))
      } else if Self.isNull(item) {
        error("\(path)[\(index)] is empty", at: item.mark)
      }
    }
    return result
  }

  // MARK: Suggestions

  /// The known name within edit distance 2 (case-insensitive), if exactly one is closest.
  static func nearest(_ name: String, in known: [String]) -> String? {
    let scored = known.map { ($0, distance(name.lowercased(), $0.lowercased())) }
    guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= 2 else { return nil }
    return scored.filter { $0.1 == best.1 }.count == 1 ? best.0 : nil
  }

  static func distance(_ a: String, _ b: String) -> Int {
    let a = Array(a)
    let b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
      var current = [i] + Array(repeating: 0, count: b.count)
      for j in 1...b.count {
        let cost = a[i - 1] == b[j - 1] ? 0 : 1
        current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
      }
      previous = current
    }
    return previous[b.count]
  }
}
