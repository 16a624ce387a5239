/// The character-level rules of the Docker reference grammar, kept apart from ``Reference`` so
/// that each rule is small enough to check against docker/distribution's regular expressions.
extension Reference {
  /// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
  static func isValidTag(_ tag: String) -> Bool {
    let bytes = Array(tag.utf8)
    guard let first = bytes.first, bytes.count <= 128, isWord(first) else { return false }
    return bytes.dropFirst().allSatisfy {
      isWord($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
    }
  }

  /// Why `registry` is not `host[:port]`, or nil when it is.
  static func registryProblem(_ registry: String) -> String? {
    var host = Substring(registry)
    var port: Substring?
    if host.hasPrefix("[") {
      guard let close = host.firstIndex(of: "]") else {
        return "registry '\(registry)' opens an IPv6 '[' without closing it"
      }
      let inside = host[host.index(after: host.startIndex)..<close]
      guard !inside.isEmpty, inside.contains(":"),
        inside.utf8.allSatisfy({ isHex($0) || $0 == UInt8(ascii: ":") })
      else { return "registry '\(registry)' has an invalid IPv6 address '[\(inside)]'" }
      let after = host[host.index(after: close)...]
      if !after.isEmpty {
        guard after.first == ":" else {
          return "registry '\(registry)' has text after ']' that is not ':port'"
        }
        port = after.dropFirst()
      }
      host = host[...close]
    } else {
      if let colon = host.firstIndex(of: ":") {
        port = host[host.index(after: colon)...]
        host = host[..<colon]
      }
      for label in host.split(separator: ".", omittingEmptySubsequences: false) {
        let bytes = Array(label.utf8)
        guard let first = bytes.first, let last = bytes.last else {
          return "registry host '\(host)' has an empty label (leading, trailing or doubled '.')"
        }
        guard isAlnum(first), isAlnum(last),
          bytes.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "-") })
        else {
          return
            "registry host '\(host)' may only contain letters, digits, '-' inside labels, and '.'"
        }
      }
    }
    if let port {
      guard !port.isEmpty, port.utf8.count <= 5, port.utf8.allSatisfy(isDigit),
        let number = Int(port),
        (1...65535).contains(number)
      else { return "registry '\(registry)' has an invalid port '\(port)' (expected 1-65535)" }
    }
    return nil
  }

  /// Why `path` is not a valid repository path, or nil when it is.
  static func pathProblem(_ path: Substring) -> String? {
    if path.contains(where: \.isUppercase) {
      return "repository '\(path)' must be lower-case"
    }
    for component in path.split(separator: "/", omittingEmptySubsequences: false) {
      if component.isEmpty {
        return "repository '\(path)' has an empty path component (leading, trailing or doubled '/')"
      }
      if !isValidPathComponent(Array(component.utf8)) {
        return "repository component '\(component)' must be lower-case letters and digits, "
          + "separated by '.', '_', '__' or dashes, and start and end with a letter or digit"
      }
    }
    return nil
  }

  /// `[a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*`
  static func isValidPathComponent(_ bytes: [UInt8]) -> Bool {
    guard let first = bytes.first, let last = bytes.last, isLowerAlnum(first), isLowerAlnum(last)
    else {
      return false
    }
    var index = 0
    while index < bytes.count {
      if isLowerAlnum(bytes[index]) {
        index += 1
        continue
      }
      // A separator run: ".", "_", "__" or one or more "-".
      var end = index
      while end < bytes.count, !isLowerAlnum(bytes[end]) { end += 1 }
      let separator = bytes[index..<end]
      let valid =
        separator.elementsEqual([UInt8(ascii: ".")]) || separator.elementsEqual([UInt8(ascii: "_")])
        || separator.elementsEqual([UInt8(ascii: "_"), UInt8(ascii: "_")])
        || separator.allSatisfy { $0 == UInt8(ascii: "-") }
      guard valid else { return false }
      index = end
    }
    return true
  }

  static func isHexIdentifier(_ text: Substring) -> Bool {
    text.utf8.count == 64 && text.utf8.allSatisfy { isDigit($0) || ($0 >= 0x61 && $0 <= 0x66) }
  }

  /// The reason part of a digest error, for embedding into a reference error.
  static func reason(of error: OCIError) -> String {
    if case .invalidDigest(_, let reason) = error { return reason }
    return error.description
  }

  static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
  static func isLowerAlnum(_ byte: UInt8) -> Bool {
    isDigit(byte) || (byte >= 0x61 && byte <= 0x7a)
  }
  static func isAlnum(_ byte: UInt8) -> Bool {
    isLowerAlnum(byte) || (byte >= 0x41 && byte <= 0x5a)
  }
  static func isWord(_ byte: UInt8) -> Bool { isAlnum(byte) || byte == UInt8(ascii: "_") }
  static func isHex(_ byte: UInt8) -> Bool {
    isDigit(byte) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46)
  }
}
