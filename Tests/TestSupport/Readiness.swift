import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Waits, on a thread of its own, until `condition` holds for `server`.
///
/// Why a thread: on a loaded 2-core CI machine other tests may keep Swift's cooperative
/// pool busy with blocking work for many seconds; a polling loop on that pool then sees
/// its deadline pass after only a few polls. Here the deadline is wall-clock time on a
/// dedicated thread, so a server that is up is noticed however busy the pool is.
/// `condition` must be cheap and non-blocking (a file read, a local connect()).
func waitUntilReady(
  _ server: GuardedProcess, timeout: Duration = .seconds(120),
  _ condition: @escaping @Sendable () -> Bool
) async throws {
  enum Outcome { case ready, exited, timedOut }
  let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
  let outcome: Outcome = await withCheckedContinuation { continuation in
    let thread = Thread {
      let deadline = Date().addingTimeInterval(seconds)
      while Date() < deadline {
        if condition() { return continuation.resume(returning: .ready) }
        if !server.isRunning { return continuation.resume(returning: .exited) }
        usleep(50_000)
      }
      continuation.resume(returning: .timedOut)
    }
    thread.start()
  }
  switch outcome {
  case .ready: return
  case .exited:
    throw TestSupportError.serverDidNotStart("\(server.name) (exited)", log: server.logTail())
  case .timedOut:
    throw TestSupportError.serverDidNotStart(
      "\(server.name) (not ready after \(timeout))", log: server.logTail())
  }
}

/// Retries an async check a fixed number of times (not for a fixed time, see
/// ``waitUntilReady(_:timeout:_:)``), for the final "does it answer" probe.
func retrying(
  _ server: GuardedProcess, attempts: Int = 20, _ check: () async throws -> Bool
) async throws {
  var lastError: Error?
  for _ in 0..<attempts {
    do {
      if try await check() { return }
    } catch {
      lastError = error
    }
    guard server.isRunning else { break }
    try await Task.sleep(for: .milliseconds(100))
  }
  let reason = lastError.map { "\($0)" } ?? "unexpected answers"
  throw TestSupportError.serverDidNotStart(
    "\(server.name) (does not answer: \(reason))", log: server.logTail())
}

/// True when the file at `path` contains `needle` (servers' "listening on" log lines).
func fileContains(_ path: String, _ needle: String) -> Bool {
  guard let data = FileManager.default.contents(atPath: path) else { return false }
  return String(decoding: data, as: UTF8.self).contains(needle)
}

/// The integer a fixture server logs on a line `prefix<N>` once it is listening (`PORT 43121`),
/// waited for with ``waitUntilReady(_:timeout:_:)``: the Python fixtures that bind port 0
/// announce their port this way.
func loggedNumber(
  _ server: GuardedProcess, logPath: String, prefix: String = "PORT ",
  timeout: Duration = .seconds(120)
) async throws -> Int {
  @Sendable func find() -> Int? {
    guard let data = FileManager.default.contents(atPath: logPath) else { return nil }
    return String(decoding: data, as: UTF8.self).split(separator: "\n")
      .first { $0.hasPrefix(prefix) }.flatMap { Int($0.dropFirst(prefix.count)) }
  }
  try await waitUntilReady(server, timeout: timeout) { find() != nil }
  guard let number = find() else {
    throw TestSupportError.serverDidNotStart(server.name, log: server.logTail())
  }
  return number
}

/// The port a server wrote to `path` once it was bound, if it has.
func portWritten(to path: String) -> UInt16? {
  guard let data = FileManager.default.contents(atPath: path) else { return nil }
  return UInt16(
    String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
}

/// True when something accepts connections on the Unix socket at `path`.
func unixSocketAccepts(_ path: String) -> Bool {
  let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
  guard fd >= 0 else { return false }
  defer { close(fd) }
  var address = sockaddr_un()
  address.sun_family = sa_family_t(AF_UNIX)
  let bytes = Array(path.utf8)
  let capacity = MemoryLayout.size(ofValue: address.sun_path)
  guard bytes.count < capacity else { return false }
  withUnsafeMutableBytes(of: &address.sun_path) { raw in
    raw.copyBytes(from: bytes)
    raw[bytes.count] = 0
  }
  let length = socklen_t(MemoryLayout<sockaddr_un>.size)
  let result = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
  }
  return result == 0
}
