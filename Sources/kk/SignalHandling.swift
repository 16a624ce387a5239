import Artifact
import Foundation

/// Catches the first SIGINT, SIGTERM or SIGHUP and runs a handler for it, with the default
/// actions restored first, so a second signal ends the process at once.
///
/// Why: a command that leaves something behind when it is killed (a throw-away cache, a
/// staging store, upload sessions in a registry) gets a moment to undo it, and then dies by
/// the signal, so the shell sees the usual 128+N status.
final class SignalTrap: @unchecked Sendable {
  static let signals = [SIGINT, SIGTERM, SIGHUP]
  // @unchecked: `caught` is guarded by `lock`; `sources` is only touched by init and disarm.
  private var sources: [DispatchSourceSignal] = []
  private let lock = NSLock()
  private var caught: Int32?

  init(_ handler: @escaping @Sendable (Int32) -> Void) {
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
        let first: Bool = lock.withLock {
          guard caught == nil else { return false }
          caught = number
          return true
        }
        guard first else { return }
        for other in Self.signals { signal(other, SIG_DFL) }
        handler(number)
      }
      source.resume()
      sources.append(source)
    }
  }

  /// The signal caught, if any.
  var caughtSignal: Int32? { lock.withLock { caught } }

  /// Called on a command's failure path: when the handler fired, wait for it to end the
  /// process with the signal instead of exiting 1 with the error its cleanup caused.
  func awaitDeathIfFired() {
    guard caughtSignal != nil else { return }
    for _ in 0..<100 { usleep(100_000) }
  }

  /// Ends the process by `number`, its default action restored.
  static func die(by number: Int32) -> Never {
    signal(number, SIG_DFL)
    fflush(nil)
    kill(getpid(), number)
    while true { pause() }
  }

  /// Back to the default actions (the command is over; its own cleanup ran).
  func disarm() {
    for source in sources { source.cancel() }
    sources = []
    if caughtSignal == nil { for number in Self.signals { signal(number, SIG_DFL) } }
  }
}

/// Removes paths when the process gets SIGINT, SIGTERM or SIGHUP, then dies by that signal.
/// Without it an interrupted `--no-cache` export left `.kk-export-<pid>` (a whole cache)
/// beside the output, and an interrupted import its staging store (as large as the
/// artifact's blobs) in the work dir.
final class InterruptCleanup: Sendable {
  private let trap: SignalTrap

  init(paths: [String]) {
    trap = SignalTrap { number in
      for path in paths { Self.discard(path) }
      SignalTrap.die(by: number)
    }
  }

  /// Removes `path` even while other threads still write into it: it is renamed away first
  /// (atomic; writers then fail instead of recreating files under the old name; the store
  /// never recreates its root), then deleted.
  static func discard(_ path: String) {
    let name = (path as NSString).lastPathComponent
    let trash = parentDirectory(of: path) + "/.kk-discard-\(getpid())-\(name)"
    let target = rename(path, trash) == 0 ? trash : path
    for _ in 0..<5 {
      try? FileManager.default.removeItem(atPath: target)
      if !FileManager.default.fileExists(atPath: target) { return }
    }
  }

  /// See ``SignalTrap/awaitDeathIfFired()``.
  func awaitSignalDeathIfFired() { trap.awaitDeathIfFired() }

  /// Back to the default actions (the command is over; its own cleanup ran).
  func disarm() { trap.disarm() }
}

/// Interrupts a push on SIGINT, SIGTERM or SIGHUP: the transfers in flight are aborted and
/// the upload sessions cancelled with `DELETE` where the registry allows it (docker-registry
/// keeps a session that already received bytes, SPEC 5.2); then the command says so and
/// dies by the signal. Before the pusher exists (planning) there is nothing to undo: the
/// process dies at once. A second signal, or 10 s without the push returning, ends it at
/// once too.
final class PushInterruption: @unchecked Sendable {
  // @unchecked: `pusher` is guarded by `lock`; `trap` is set once, in init.
  private let lock = NSLock()
  private var pusher: ImagePusher?
  private var trap: SignalTrap?

  init() {
    trap = SignalTrap { [weak self] number in
      guard let pusher = self?.lock.withLock({ self?.pusher }) else {
        SignalTrap.die(by: number)
      }
      pusher.interrupt()
      DispatchQueue.global().asyncAfter(deadline: .now() + 10) { SignalTrap.die(by: number) }
    }
  }

  /// The pusher to interrupt from now on.
  func attach(_ pusher: ImagePusher) {
    let caught: Int32? = lock.withLock {
      self.pusher = pusher
      return trap?.caughtSignal
    }
    if caught != nil { pusher.interrupt() }
  }

  /// After the push returned: when a signal interrupted it, says how far it got (`pushed`
  /// of `total` images tagged; the signal may come after some, or after all) and dies by
  /// the signal.
  func finishIfInterrupted(pushed: Int, of total: Int) {
    guard let number = trap?.caughtSignal else { return }
    let tagged =
      pushed == 0
      ? "no image was tagged" : "\(pushed) of \(total) images were pushed, no other was tagged"
    Output.error(
      "interrupted: the uploads in flight were cancelled and \(tagged); run the same command "
        + "again to go on (blobs already in the registry are not sent again)")
    SignalTrap.die(by: number)
  }

  func disarm() { trap?.disarm() }
}
