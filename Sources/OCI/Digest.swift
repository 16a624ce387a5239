/// A content digest, `algorithm:encoded`, as the OCI image spec defines it.
///
/// Everything in a bundle is addressed by one of these, so parsing is strict: a digest that
/// does not validate is an error the user sees, never something we guess around.
public struct Digest: Hashable, Sendable, Comparable, CustomStringConvertible {
  public enum Algorithm: String, Sendable, Hashable {
    case sha256
    case sha512

    /// Length of the lower-case hex encoding.
    public var hexLength: Int { self == .sha256 ? 64 : 128 }
  }

  public let algorithm: Algorithm
  /// Lower-case hex.
  public let encoded: String

  public init(parsing string: String) throws(OCIError) {
    guard let colon = string.firstIndex(of: ":") else {
      throw .invalidDigest(string, reason: "expected algorithm:hex, e.g. sha256:<64 hex digits>")
    }
    let name = String(string[..<colon])
    let hex = String(string[string.index(after: colon)...])
    guard let algorithm = Algorithm(rawValue: name) else {
      throw .invalidDigest(
        string, reason: "unsupported digest algorithm '\(name)' (sha256 and sha512 are supported)")
    }
    guard hex.utf8.count == algorithm.hexLength,
      hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
    else {
      throw .invalidDigest(
        string, reason: "\(name) needs \(algorithm.hexLength) lower-case hex digits")
    }
    self.algorithm = algorithm
    self.encoded = hex
  }

  init<Bytes: Sequence>(sha256Bytes bytes: Bytes) where Bytes.Element == UInt8 {
    let digits = Array("0123456789abcdef".utf8)
    var hex = [UInt8]()
    hex.reserveCapacity(64)
    for byte in bytes {
      hex.append(digits[Int(byte >> 4)])
      hex.append(digits[Int(byte & 0x0f)])
    }
    self.algorithm = .sha256
    self.encoded = String(decoding: hex, as: UTF8.self)
  }

  public var description: String { "\(algorithm.rawValue):\(encoded)" }

  public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.description < rhs.description }
}

extension Digest: Codable {
  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    let string = try container.decode(String.self)
    do {
      try self.init(parsing: string)
    } catch {
      throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}
