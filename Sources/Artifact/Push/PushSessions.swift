import Foundation
import OCI

/// Upload sessions opened ahead, per repository, so that a blob's bytes start flowing without
/// waiting for its `POST`.
///
/// Why: docker-registry creates a directory and writes and fsyncs a file for every `POST` of
/// an upload session; on the bench machine that took 10-50 ms per blob, during which the
/// blob's lane sent nothing. From an archive it is worse: the single reader waits for each
/// entry's `POST` before it can stream the entry. A session names no digest until its final
/// `PUT ?digest=`, so one can be opened for "the next blob of repository R" while the current
/// blob is sent.
///
/// Only as many sessions are opened as uploads are expected into each repository (blobs no
/// repository has, counted by the repository that gets the upload), `depth` at a time; any
/// left over at the end are deleted. A `POST` that fails here is dropped: the upload then
/// opens its own session, which reports the error.
final class UploadSessions: @unchecked Sendable {
  // @unchecked: the fields are guarded by `lock`.
  private let lock = NSLock()
  private let client: RegistryClient
  private var depth = 1
  /// Uploads still expected per repository (not yet taken).
  private var expected: [String: Int] = [:]
  /// Sessions opened or being opened, oldest first.
  private var open: [String: [Task<UploadSession?, Never>]] = [:]
  private var closed = false

  init(client: RegistryClient) { self.client = client }

  /// Sets the expected uploads per repository; with `upfront`, opens the first session of
  /// each repository now (from an archive, whose single reader would wait for each `POST`),
  /// else only when a repository's first upload takes its session (a directory push starts
  /// `parallel` uploads at once: a burst of `POST`s ahead of them would only delay them).
  func expect(_ uploads: [String: Int], depth: Int, upfront: Bool) {
    lock.withLock {
      self.depth = max(1, depth)
      expected = uploads.filter { $0.value > 0 }
      if upfront { for repository in expected.keys.sorted() { refillLocked(repository) } }
    }
  }

  /// A session of `repository` opened ahead, or nil (none ready yet, none expected there, or
  /// its `POST` failed); opens the next ones for that repository while more uploads are
  /// expected there.
  func take(_ repository: String) async -> UploadSession? {
    let task: Task<UploadSession?, Never>? = lock.withLock {
      guard !closed else { return nil }
      expected[repository] = max(0, (expected[repository] ?? 0) - 1)
      var queue = open[repository] ?? []
      let first = queue.isEmpty ? nil : queue.removeFirst()
      open[repository] = queue
      refillLocked(repository)
      return first
    }
    return await task?.value
  }

  /// Deletes every session opened and not taken.
  func close() async {
    let left: [Task<UploadSession?, Never>] = lock.withLock {
      closed = true
      defer { open.removeAll() }
      return open.values.flatMap { $0 }
    }
    await withTaskGroup(of: Void.self) { group in
      for task in left {
        group.addTask {
          if let session = await task.value { await self.client.cancelUploadSession(session) }
        }
      }
    }
  }

  /// Starts `POST`s until `repository` has `depth` sessions or as many as uploads expected.
  private func refillLocked(_ repository: String) {
    var queue = open[repository] ?? []
    let client = client
    while !closed, queue.count < min(depth, expected[repository] ?? 0) {
      queue.append(Task { try? await client.openUploadSession(repository: repository) })
    }
    open[repository] = queue
  }
}

extension ImagePusher {
  /// Counts the uploads the plan still needs per repository (blobs that no repository has:
  /// the first repository gets the upload, the others a mount) and lets `sessions` open
  /// theirs ahead.
  func expectUploads(upfront: Bool) {
    var uploads: [String: Int] = [:]
    for use in plan.blobUses
    where !ledger.isDone(use.blob.digest) && ledger.failure(of: use.blob.digest) == nil {
      guard let first = use.repositories.first,
        use.repositories.allSatisfy({ presence.present(use.blob.digest, in: $0) == false })
      else { continue }
      uploads[first, default: 0] += 1
    }
    sessions.expect(uploads, depth: upfront ? 1 : 2, upfront: upfront)
  }
}
