import Artifact
import Foundation

/// Shows a push's progress on stderr: on a terminal one line rewritten four times a second
/// (bytes, blobs, rate, ETA); otherwise (CI logs, pipes) the same line every 30 s, so a long
/// push still shows signs of life without filling a log with carriage returns.
final class PushProgressPrinter: @unchecked Sendable {
  // @unchecked: the mutable fields are guarded by `lock`.
  private let progress: PushProgress
  private let tty: Bool
  private let lock = NSLock()
  private let started = Date()
  private var timer: DispatchSourceTimer?
  private var drawn = false
  /// Bytes and blobs at the last change, and when: a registry that stops answering shows
  /// as "no progress for N s" instead of a falling rate and an ETA that means nothing.
  private var lastChange: (bytes: Int64, blobs: Int, at: Date) = (0, 0, Date())
  /// `log` lines go to stderr (stdout carries a JSON summary).
  private let linesToStderr: Bool

  /// Seconds without change before the line says so (15, or half a shorter stall timeout).
  private let quietAfter: Double

  init(_ progress: PushProgress, tty: Bool, linesToStderr: Bool = false, quietAfter: Double = 15) {
    self.progress = progress
    self.quietAfter = quietAfter
    self.tty = tty
    self.linesToStderr = linesToStderr
    let timer = DispatchSource.makeTimerSource(queue: .global())
    let interval: DispatchTimeInterval = tty ? .milliseconds(250) : .seconds(30)
    timer.schedule(deadline: .now() + interval, repeating: interval)
    timer.setEventHandler { [weak self] in self?.draw() }
    timer.resume()
    self.timer = timer
  }

  /// Prints `line` on stdout (or stderr) with the progress line out of its way.
  func log(_ line: String) {
    lock.withLock {
      clearLocked()
      if linesToStderr {
        write(line + "\n")
      } else {
        print(line)
        fflush(nil)
      }
    }
  }

  /// Stops drawing and clears the line (before the summary is printed).
  func stop() {
    lock.withLock {
      timer?.cancel()
      timer = nil
      clearLocked()
    }
  }

  /// `312.4 MiB / 750.3 MiB  61/115 blobs  280.1 MiB/s  ETA 2 s`, or nil before the
  /// registry has said what it holds. After `idle` seconds (`quietAfter` or more) without a
  /// byte or a blob done, rate and ETA give way to `no progress for N s (waiting on the
  /// registry)`.
  static func line(
    _ snapshot: PushProgress.Snapshot, seconds: Double, idle: Double = 0, quietAfter: Double = 15
  ) -> String? {
    guard snapshot.started else { return nil }
    let total = snapshot.bytesToSend
    let sent = min(snapshot.bytesRead, total)
    let blobs = "\(min(snapshot.blobsDone, snapshot.blobsTotal))/\(snapshot.blobsTotal) blobs"
    guard total > 0 else { return "kk: push: nothing to upload, \(blobs)" }
    let head = "kk: push: \(Output.bytes(sent)) / \(Output.bytes(total))  \(blobs)  "
    if idle >= quietAfter {
      return head + String(format: "no progress for %.0f s (waiting on the registry)", idle)
    }
    let rate = seconds > 0 ? Double(sent) / seconds : 0
    let eta = rate > 0 ? String(format: "ETA %.0f s", Double(total - sent) / rate) : "ETA -"
    return head + "\(Output.rate(sent, seconds: seconds))  \(eta)"
  }

  private func draw() {
    lock.withLock {
      let snapshot = progress.snapshot
      let now = Date()
      if snapshot.bytesRead != lastChange.bytes || snapshot.blobsDone != lastChange.blobs {
        lastChange = (snapshot.bytesRead, snapshot.blobsDone, now)
      }
      guard timer != nil,
        let text = Self.line(
          snapshot, seconds: now.timeIntervalSince(started),
          idle: now.timeIntervalSince(lastChange.at), quietAfter: quietAfter)
      else { return }
      if tty {
        write("\r\u{1B}[K" + text)
        drawn = true
      } else {
        write(text + "\n")
      }
    }
  }

  private func clearLocked() {
    guard drawn else { return }
    write("\r\u{1B}[K")
    drawn = false
  }

  private func write(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
  }
}
