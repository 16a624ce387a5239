import Foundation

/// A value guarded by a lock, for the little shared mutable state the client keeps (the token
/// cache, a transfer's byte count) when it is touched from transfer threads and tasks alike.
final class Locked<Value>: @unchecked Sendable {
  private let lock = NSLock()
  private var value: Value

  init(_ value: Value) { self.value = value }

  func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
    lock.lock()
    defer { lock.unlock() }
    return try body(&value)
  }
}

/// JSON decoding from bytes without copying through `Data` at call sites.
enum JSONDecoding {
  static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
    try JSONDecoder().decode(type, from: Data(bytes))
  }
}
