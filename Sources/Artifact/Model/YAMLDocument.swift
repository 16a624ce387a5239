import Yams

/// Turning text into a YAML tree, with libyaml's own errors kept at their `line:column`.
enum YAMLDocument {
  /// All documents in `yaml` (a cluster config file often holds a second, KubeSphere one).
  static func composeAll(_ yaml: String, into reader: inout NodeReader) -> [Node] {
    do {
      var documents: [Node] = []
      var sequence = try Yams.compose_all(yaml: yaml)
      while let node = sequence.next() { documents.append(node) }
      if let error = sequence.error { report(error, yaml: yaml, into: &reader) }
      return documents
    } catch {
      report(error, yaml: yaml, into: &reader)
      return []
    }
  }

  /// The single document in `yaml`; `nil` after recording an error (including "empty").
  static func composeSingle(_ yaml: String, expected: String, into reader: inout NodeReader)
    -> Node?
  {
    let root: Node?
    do {
      root = try Yams.compose(yaml: yaml)
    } catch {
      report(error, yaml: yaml, into: &reader)
      return nil
    }
    guard let root, !NodeReader.isNull(root) else {
      reader.error("the file is empty; expected \(expected)", at: nil)
      return nil
    }
    return root
  }

  static func report(_ error: any Error, yaml: String, into reader: inout NodeReader) {
    guard let yamlError = error as? YamlError else {
      reader.error("cannot read YAML: \(error)", at: nil)
      return
    }
    switch yamlError {
    case .scanner(let context, let problem, let mark, _),
      .parser(let context, let problem, let mark, _),
      .composer(let context, let problem, let mark, _):
      var message = "invalid YAML: \(problem)"
      if let context {
        message += " (\(context.text) at \(context.mark.line):\(context.mark.column))"
      }
      if problem == "but found another document" {
        message =
          "the file holds more than one YAML document ('---'); a manifest is a single document"
      } else if character(at: mark, in: yaml) == "\t" {
        message += "; YAML cannot be indented with tabs, use spaces"
      }
      reader.error(message, at: mark)
    case .reader(let problem, let offset, _, _):
      let place = offset.map { position(atUTF8Offset: $0, in: yaml) }
      reader.record(
        .error, "invalid YAML text: \(problem)", line: place?.line, column: place?.column)
    case .duplicatedKeysInMapping(let duplicates, let context):
      let names = duplicates.map { "'\($0)'" }.joined(separator: ", ")
      reader.error(
        "key \(names) appears more than once in the same mapping (first occurrence here); keep one",
        at: context.mark)
    default:
      reader.error("cannot read YAML: \(yamlError)", at: nil)
    }
  }

  /// The character at a libyaml mark (1-based line and Unicode-scalar column), if any.
  static func character(at mark: Mark, in text: String) -> Unicode.Scalar? {
    var line = 1
    var column = 1
    for scalar in text.unicodeScalars {
      if line == mark.line && column == mark.column { return scalar }
      if scalar == "\n" {
        if line == mark.line { return nil }
        line += 1
        column = 1
      } else {
        column += 1
      }
    }
    return nil
  }

  static func position(atUTF8Offset offset: Int, in text: String) -> (line: Int, column: Int) {
    var line = 1
    var column = 1
    var consumed = 0
    for scalar in text.unicodeScalars {
      if consumed >= offset { break }
      consumed += String(scalar).utf8.count
      if scalar == "\n" {
        line += 1
        column = 1
      } else {
        column += 1
      }
    }
    return (line, column)
  }
}

/// Checks `apiVersion` and `kind` at the root, saying what was expected.
extension NodeReader {
  mutating func checkHeader(
    _ fields: [String: (key: Node, value: Node)], root: Node, apiVersion: String, kind: String,
    hint: (String) -> String?
  ) {
    if let field = fields["apiVersion"] {
      let value = string(field.value, path: "apiVersion")
      if value != apiVersion {
        error(
          "apiVersion is '\(value ?? "")'; expected '\(apiVersion)'", at: field.value.mark
        )
      }
    } else {
      error("missing apiVersion; expected 'apiVersion: \(apiVersion)'", at: root.mark)
    }
    if let field = fields["kind"] {
      let value = string(field.value, path: "kind") ?? ""
      if value != kind {
        var message = "kind is '\(value)'; expected '\(kind)'"
        if let extra = hint(value) { message += " (\(extra))" }
        error(message, at: field.value.mark)
      }
    } else {
      error("missing kind; expected 'kind: \(kind)'", at: root.mark)
    }
  }
}
