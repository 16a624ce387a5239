import OCI
import Yams

/// Whether `string` looks like a release version: `v1.21.5`, `20.10.8`, `2`, `v1.0.0-rc.1`,
/// `v1.21.5+k3s1`. One to four dot-separated numbers, an optional `v`, an optional
/// `-pre-release` / `+build` suffix.
///
/// This catches `latest`, `stable`, empty strings and typos such as `v1.21,5` before a download
/// URL is built from them, without pretending to know every upstream's versioning.
func looksLikeVersion(_ string: String) -> Bool {
  var core = Substring(string)
  if core.hasPrefix("v") { core = core.dropFirst() }
  var suffix: Substring = ""
  if let cut = core.firstIndex(where: { $0 == "-" || $0 == "+" }) {
    suffix = core[cut...].dropFirst()
    core = core[..<cut]
    guard !suffix.isEmpty,
      suffix.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-+.".contains($0)) })
    else { return false }
  }
  let parts = core.split(separator: ".", omittingEmptySubsequences: false)
  return (1...4).contains(parts.count)
    && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }
}

/// Parses a sha256 value written either as 64 hex digits or as `sha256:<64 hex>`; upper-case
/// hex (as some Windows tools print it) is accepted and lower-cased.
func parseSHA256(_ string: String) -> Digest? {
  var hex = string.lowercased()
  if hex.hasPrefix("sha256:") { hex.removeFirst("sha256:".count) }
  guard hex.utf8.count == 64 else { return nil }
  return try? Digest(parsing: "sha256:" + hex)
}

extension NodeReader {
  /// A version string that must be present and look like a version.
  mutating func version(
    _ fields: [String: (key: Node, value: Node)], path: String, parent: Node, example: String
  ) -> String? {
    guard let value = requiredString(fields, "version", path: path, parent: parent) else {
      return nil
    }
    if !looksLikeVersion(value) {
      error(
        "\(path).version '\(value)' does not look like a version (e.g. \(example))",
        at: fields["version"]?.value.mark)
      return nil
    }
    return value
  }

  mutating func sha256(_ node: Node, path: String) -> Digest? {
    guard let value = string(node, path: path) else {
      if Self.isNull(node) {
        error("\(path) is empty; expected 64 hex digits", at: node.mark)
      }
      return nil
    }
    guard let digest = parseSHA256(value) else {
      error("\(path) '\(value)' is not a sha256 (expected 64 hex digits)", at: node.mark)
      return nil
    }
    return digest
  }

  /// An arch, normalising `x86_64`-style aliases with a warning.
  mutating func arch(_ node: Node, path: String) -> Arch? {
    guard let value = string(node, path: path) else {
      error("\(path) is empty; expected one of \(Arch.knownList)", at: node.mark)
      return nil
    }
    guard let arch = Arch(normalising: value) else {
      error("unknown arch '\(value)' (known: \(Arch.knownList))", at: node.mark)
      return nil
    }
    if arch.rawValue != value {
      warning("arch '\(value)' is written '\(arch.rawValue)'", then: "normalised", at: node.mark)
    }
    return arch
  }

  /// `{amd64: hex, arm64: hex}`; warns about arches the manifest does not build for.
  mutating func archChecksums(_ node: Node, path: String, arches: [Arch]) -> [Arch: Digest] {
    if Self.isNull(node) { return [:] }
    guard case .mapping(let mapping) = node else {
      error(
        "\(path) must be a mapping of arch to sha256, found \(Self.kind(of: node))",
        at: node.mark)
      return [:]
    }
    var result: [Arch: Digest] = [:]
    for (key, value) in mapping {
      guard let arch = arch(key, path: path) else { continue }
      guard let digest = sha256(value, path: "\(path).\(arch)") else { continue }
      if result[arch] != nil {
        error("\(path) gives arch '\(arch)' twice", at: key.mark)
        continue
      }
      if !arches.isEmpty && !arches.contains(arch) {
        warning(
          "\(path).\(arch): '\(arch)' is not in spec.arches", then: "the value is unused",
          at: key.mark)
      }
      result[arch] = digest
    }
    return result
  }
}
