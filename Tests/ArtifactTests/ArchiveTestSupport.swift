import Foundation

/// Hand-built ustar archives, so tests can produce exactly the hostile entries a reader must
/// refuse (links, `..`, devices, truncation) without depending on a tar binary.
enum TarFixture {
  enum Kind: UInt8 {
    case file = 0x30  // '0'
    case hardlink = 0x31  // '1'
    case symlink = 0x32  // '2'
    case charDevice = 0x33  // '3'
    case fifo = 0x36  // '6'
    case directory = 0x35  // '5'
  }

  static func header(name: String, size: Int, kind: Kind = .file, link: String = "") -> [UInt8] {
    var h = [UInt8](repeating: 0, count: 512)
    func put(_ string: String, at offset: Int, width: Int) {
      for (i, byte) in string.utf8.prefix(width).enumerated() { h[offset + i] = byte }
    }
    func octal(_ value: Int, at offset: Int, width: Int) {
      let digits = String(value, radix: 8)
      put(
        String(repeating: "0", count: width - 1 - digits.count) + digits, at: offset,
        width: width - 1)
    }
    put(name, at: 0, width: 100)
    octal(kind == .directory ? 0o755 : 0o644, at: 100, width: 8)
    octal(0, at: 108, width: 8)
    octal(0, at: 116, width: 8)
    octal(size, at: 124, width: 12)
    octal(0, at: 136, width: 12)
    h[156] = kind.rawValue
    put(link, at: 157, width: 100)
    put("ustar", at: 257, width: 6)
    put("00", at: 263, width: 2)
    for i in 148..<156 { h[i] = 0x20 }
    let sum = h.reduce(0) { $0 + Int($1) }
    octal(sum, at: 148, width: 7)
    h[155] = 0x20
    return h
  }

  static func entry(_ name: String, _ data: [UInt8], kind: Kind = .file, link: String = "")
    -> [UInt8]
  {
    var out = header(name: name, size: kind == .file ? data.count : 0, kind: kind, link: link)
    if kind == .file {
      out += data
      out += [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
    }
    return out
  }

  static func archive(_ entries: [[UInt8]]) -> [UInt8] {
    entries.flatMap { $0 } + [UInt8](repeating: 0, count: 1024)
  }
}

/// A scratch directory removed when the test ends.
final class ScratchDir {
  let path: String

  init(_ label: String = #function) throws {
    let safe = label.filter { $0.isLetter || $0.isNumber }
    path = NSTemporaryDirectory() + "kk-archive-\(safe)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(atPath: path) }

  func file(_ name: String, _ bytes: [UInt8]) throws -> String {
    let full = path + "/" + name
    try FileManager.default.createDirectory(
      atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(bytes).write(to: URL(fileURLWithPath: full))
    return full
  }

  func read(_ name: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path + "/" + name)))
  }

  func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path + "/" + name) }

  func listing() throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: path).sorted()
  }
}

/// Deterministic pseudo-random bytes (xorshift) so sizes and contents are reproducible.
func pseudoRandomBytes(_ count: Int, seed: UInt64 = 0x9e37_79b9_7f4a_7c15) -> [UInt8] {
  var state = seed | 1
  var out = [UInt8](repeating: 0, count: count)
  for i in 0..<count {
    state ^= state << 13
    state ^= state >> 7
    state ^= state << 17
    out[i] = UInt8(truncatingIfNeeded: state)
  }
  return out
}
