import Yams

/// A tiny line-oriented YAML writer: we need KubeKey's field order and comments, which a
/// generic emitter cannot give, and every scalar must come back as the same string.
struct YAMLWriter {
  private(set) var text = ""

  mutating func line(_ indent: Int, _ content: String) {
    text += String(repeating: " ", count: indent) + content + "\n"
  }

  mutating func comment(_ indent: Int, _ content: String) {
    line(indent, content.isEmpty ? "#" : "# " + content)
  }

  mutating func field(_ indent: Int, _ key: String, _ value: String?) {
    guard let value else { return }
    line(indent, "\(Self.key(key)): \(Self.scalar(value))")
  }

  /// `- key: value`, the first field of a list item.
  mutating func item(_ indent: Int, _ key: String, _ value: String) {
    line(indent, "- \(Self.key(key)): \(Self.scalar(value))")
  }

  static func key(_ key: String) -> String {
    scalar(key)
  }

  /// `value` as a YAML scalar that reads back as exactly this string: plain when that is
  /// unambiguous, otherwise double-quoted (so `"20.04"` stays a string, not a float).
  static func scalar(_ value: String) -> String {
    isPlainSafe(value) ? value : quoted(value)
  }

  static func isPlainSafe(_ value: String) -> Bool {
    guard let first = value.unicodeScalars.first, let last = value.unicodeScalars.last else {
      return false
    }
    if "-?:,[]{}#&*!|>'\"%@`".unicodeScalars.contains(first) || first == " " || last == " " {
      return false
    }
    if last == ":" || value.contains(": ") || value.contains(" #") || value.contains("\t") {
      return false
    }
    if value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
      return false
    }
    // Go's yaml.v2 (which KubeKey reads with) also takes y/Y/n/N as booleans.
    if ["y", "Y", "n", "N"].contains(value) { return false }
    return Resolver.default.resolveTag(of: Node(value)) == .str
  }

  static func quoted(_ value: String) -> String {
    var out = "\""
    for scalar in value.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\t": out += "\\t"
      case "\r": out += "\\r"
      default:
        if scalar.value < 0x20 || scalar.value == 0x7f {
          let hex = String(scalar.value, radix: 16)
          out += "\\x" + String(repeating: "0", count: 2 - hex.count) + hex
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out + "\""
  }
}
