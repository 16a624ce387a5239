import Foundation

/// A FIFO of transfer jobs shared by the pool's threads.
private final class JobQueue: @unchecked Sendable {
  typealias Job = (CurlEasy?) -> Void
  private let condition = NSCondition()
  /// Taken jobs are cleared at once: a job holds its request, and so its sink and source.
  private var jobs: [Job?] = []
  private var head = 0
  private var closed = false

  func push(_ job: @escaping Job) -> Bool {
    condition.lock()
    defer { condition.unlock() }
    guard !closed else { return false }
    jobs.append(job)
    condition.signal()
    return true
  }

  /// The next job, or nil once the queue is closed and drained.
  func pop() -> Job? {
    condition.lock()
    defer { condition.unlock() }
    while head == jobs.count && !closed { condition.wait() }
    guard head < jobs.count else { return nil }
    let job = jobs[head]
    jobs[head] = nil
    head += 1
    if head > 64 && head * 2 > jobs.count {
      jobs.removeFirst(head)
      head = 0
    }
    return job
  }

  func close() {
    condition.lock()
    closed = true
    condition.broadcast()
    condition.unlock()
  }
}

/// A bounded set of threads that run blocking curl transfers.
///
/// curl_easy_perform blocks its thread for the whole transfer; doing that on Swift's
/// cooperative pool (one thread per core, two here) would starve every other task. So the
/// transfers run on `threads` dedicated threads, which also bounds how many run at once
/// (`--parallel`), and each thread reuses one easy handle so connections stay open.
public final class TransferPool: Sendable {
  private let queue = JobQueue()
  public let threadCount: Int
  /// The transfers queued or running now, and (after ``abort(allowing:)``) which requests
  /// are still let through: one lock, so no request slips between the check and the abort.
  private let admission = Locked(Admission())

  private struct Admission {
    var running: [ObjectIdentifier: (flag: CancelFlag, method: String, url: String)] = [:]
    var allowed: (@Sendable (_ method: String, _ url: String) -> Bool)?
  }

  public init(threads: Int = 4, options: TransportOptions = TransportOptions()) {
    threadCount = max(1, threads)
    // libcurl's global init (OpenSSL's with it) runs here, on the creating thread, and not
    // in whichever pool thread starts first: it is then over before anything can end the
    // process, and no pool thread races another through it.
    _ = CurlRuntime.ready
    for index in 0..<threadCount {
      let queue = self.queue
      let thread = Thread {
        let easy = CurlEasy(options: options)
        while let job = queue.pop() { job(easy) }
      }
      thread.name = "kk-transfer-\(index)"
      thread.stackSize = 1 << 20
      thread.start()
    }
  }

  deinit { queue.close() }

  /// Aborts every transfer queued or running now that `allowed` does not accept (method,
  /// URL), as cancelling its task would (its `send` throws `CancellationError` within about
  /// a second), and from now on refuses those requests the same way.
  ///
  /// Why not cancel the tasks: an interrupted push must still send the `DELETE`s that
  /// cancel its upload sessions, from tasks that would be cancelled too, and let the `POST`s
  /// opening sessions finish (an aborted one may have opened a session nobody knows). Why
  /// refuse later requests: a task that decided to upload just before the abort would
  /// otherwise start its transfer just after it, and send on.
  public func abort(allowing allowed: @escaping @Sendable (_ method: String, _ url: String) -> Bool)
  {
    let running = admission.withLock {
      $0.allowed = allowed
      return Array($0.running.values)
    }
    for transfer in running where !allowed(transfer.method, transfer.url) { transfer.flag.set() }
  }

  /// Runs `request` on a pool thread and resumes when it has completed.
  ///
  /// Throws `TransportError` for failures below HTTP, or whatever the request's sink or
  /// source threw. Any HTTP status is a successful exchange here.
  public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
    // Cancelling the task aborts the transfer from curl's progress callback, so a failed
    // sibling in a task group does not wait for every other blob to finish.
    let cancel = CancelFlag()
    let admitted = admission.withLock {
      if let allowed = $0.allowed, !allowed(request.method, request.url) { return false }
      $0.running[ObjectIdentifier(cancel)] = (cancel, request.method, request.url)
      return true
    }
    guard admitted else { throw CancellationError() }
    defer { _ = admission.withLock { $0.running.removeValue(forKey: ObjectIdentifier(cancel)) } }
    return try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation {
        (continuation: CheckedContinuation<HTTPResponse, any Error>) in
        let accepted = queue.push { easy in
          guard !cancel.isSet else {
            continuation.resume(throwing: CancellationError())
            return
          }
          guard let easy else {
            continuation.resume(
              throwing: TransportError(
                kind: .other, curlCode: 0, message: "libcurl could not be initialised",
                url: request.url))
            return
          }
          continuation.resume(with: Result { try easy.perform(request, cancel: cancel) })
        }
        if !accepted {
          continuation.resume(
            throwing: TransportError(
              kind: .other, curlCode: 0, message: "transfer pool is shut down", url: request.url))
        }
      }
    } onCancel: {
      cancel.set()
    }
  }
}

/// Set by a cancelled task, read by curl's progress callback on the transfer thread.
final class CancelFlag: Sendable {
  private let flag = Locked(false)

  var isSet: Bool { flag.withLock { $0 } }

  func set() { flag.withLock { $0 = true } }
}
