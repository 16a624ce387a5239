import CCrypto
import Foundation

/// The one JSON encoding kk uses for documents it creates (manifests, indexes, index.json).
///
/// Deterministic so that the same inputs give the same digest and a byte-identical artifact
/// (SPEC.md §1.1): keys sorted, no whitespace, `/` not escaped, nil fields omitted.
public enum CanonicalJSON {
  /// Encodes `value`; failures (non-finite numbers and the like) name the type.
  public static func encode<Value: Encodable>(_ value: Value) throws(OCIError) -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    do {
      return Array(try encoder.encode(value))
    } catch {
      throw .encodingFailed("\(Value.self): \(error)")
    }
  }

  /// Encodes `value` and returns the bytes with their digest, for writing a blob.
  public static func encodeWithDigest<Value: Encodable>(_ value: Value) throws(OCIError) -> (
    bytes: [UInt8], digest: Digest
  ) {
    let bytes = try encode(value)
    return (bytes, SHA256Hasher.digest(bytes))
  }
}

extension Digest {
  /// The digest of in-memory bytes with any supported algorithm (sha512 through OpenSSL's
  /// one-shot EVP_Digest; streaming work uses ``SHA256Hasher``).
  public static func compute(_ algorithm: Algorithm, over bytes: [UInt8]) throws(OCIError) -> Digest
  {
    if algorithm == .sha256 { return SHA256Hasher.digest(bytes) }
    var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
    var length: UInt32 = 0
    let ok = bytes.withUnsafeBytes { input in
      EVP_Digest(input.baseAddress, input.count, &out, &length, EVP_sha512(), nil)
    }
    guard ok == 1 else {
      fatalError("OpenSSL could not compute \(algorithm.rawValue) (out of memory)")
    }
    let digits = Array("0123456789abcdef".utf8)
    var hex = [UInt8]()
    for byte in out.prefix(Int(length)) {
      hex.append(digits[Int(byte >> 4)])
      hex.append(digits[Int(byte & 0x0f)])
    }
    return try Digest(parsing: "\(algorithm.rawValue):" + String(decoding: hex, as: UTF8.self))
  }
}
