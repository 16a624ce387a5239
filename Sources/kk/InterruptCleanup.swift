import Foundation

/// Removes paths when the process gets SIGINT, SIGTERM or SIGHUP, then dies by that signal
/// (so the shell sees the usual 128+N status). Without it an interrupted `--no-cache` export
/// left `.kk-export-<pid>` (a whole cache) beside the output, and an interrupted import its
/// staging store (as large as the artifact's blobs) in the work dir.
final class InterruptCleanup: @unchecked Sendable {
  private static let signals = [SIGINT, SIGTERM, SIGHUP]
  private var sources: [DispatchSourceSignal] = []
  private let firedLock = NSLock()
  private var fired = false

  init(paths: [String]) {
    // A parent (a test runner, a service manager) may hand us these signals blocked; then
    // they would stay pending and Ctrl-C would do nothing.
    var unblock = sigset_t()
    sigemptyset(&unblock)
    for number in Self.signals { sigaddset(&unblock, number) }
    pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
    for number in Self.signals {
      // Dispatch sees the signal only when its default action (terminate) is off.
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler { [self] in
        firedLock.withLock { fired = true }
        for other in Self.signals { signal(other, SIG_DFL) }
        for path in paths { Self.discard(path) }
        kill(getpid(), number)
      }
      source.resume()
      sources.append(source)
    }
  }

  /// Removes `path` even while other threads still write into it: it is renamed away first
  /// (atomic; writers then fail instead of recreating files under the old name; the store
  /// never recreates its root), then deleted.
  static func discard(_ path: String) {
    let parent = (path as NSString).deletingLastPathComponent
    let name = (path as NSString).lastPathComponent
    let trash = (parent.isEmpty ? "." : parent) + "/.kk-discard-\(getpid())-\(name)"
    let target = rename(path, trash) == 0 ? trash : path
    for _ in 0..<5 {
      try? FileManager.default.removeItem(atPath: target)
      if !FileManager.default.fileExists(atPath: target) { return }
    }
  }

  /// Called on the failure path: when the handler fired, wait for it to end the process
  /// with the signal instead of exiting 1 with the error its cleanup caused.
  func awaitSignalDeathIfFired() {
    guard firedLock.withLock({ fired }) else { return }
    for _ in 0..<100 { usleep(100_000) }
  }

  /// Back to the default actions (the export is over; its own cleanup ran).
  func disarm() {
    for source in sources { source.cancel() }
    sources = []
    for number in Self.signals { signal(number, SIG_DFL) }
  }
}
