import Foundation

/// Plain-language text for a JSON type mismatch, for messages users read.
///
/// Foundation's `debugDescription` names Swift types ("Expected to decode
/// Dictionary<String, Any> but found a string instead."); users of a registry or an OCI
/// layout think in JSON kinds ("expected an object, found a string").
public enum DecodingErrorText {
  /// `expected an object, found a string` for a `typeMismatch`/`valueNotFound` error.
  public static func mismatch(expected type: Any.Type, context: DecodingError.Context) -> String {
    let debug = context.debugDescription
    var found = "something else"
    if let start = debug.range(of: "but found ") {
      let rest = debug[start.upperBound...]
      found = String(rest[..<(rest.range(of: " instead")?.lowerBound ?? rest.endIndex)])
    } else if debug.contains("null") || debug.hasPrefix("Cannot get") {
      found = "null"
    }
    return "expected \(jsonKind(type)), found \(found)"
  }

  /// The JSON kind a Swift type decodes from.
  public static func jsonKind(_ type: Any.Type) -> String {
    let name = String(describing: type)
    if name.hasPrefix("Dictionary") || name.hasPrefix("[") && name.contains(":") {
      return "an object"
    }
    if name.hasPrefix("Array") || name.hasPrefix("[") { return "an array" }
    if name.hasPrefix("String") || name == "Substring" { return "a string" }
    if name == "Bool" { return "true or false" }
    if name.hasPrefix("Int") || name.hasPrefix("UInt") || name == "Double" || name == "Float" {
      return "a number"
    }
    return "an object"
  }
}
