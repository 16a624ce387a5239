import Foundation
import OCI

/// One PUT per (repository, manifest reference) across every image of a push, awaited by all
/// images that need it.
///
/// Why: two images of one repository may share a child manifest (a platform-filtered tag and
/// the same image pinned by digest). Each image pushes children before its index; when only
/// the first image's task sent the shared child, the second image's index could reach the
/// registry before that PUT had finished and be refused (MANIFEST_BLOB_UNKNOWN). Awaiting the
/// one shared task orders them.
final class ManifestPutOnce: @unchecked Sendable {
  // @unchecked: `tasks` is guarded by `lock`.
  private let lock = NSLock()
  private var tasks: [String: Task<Bool, any Error>] = [:]

  /// Runs `put` once for `repository` + `reference`; every caller gets its outcome (true:
  /// sent now, false: the registry already had these bytes).
  func run(
    repository: String, reference: String, _ put: @escaping @Sendable () async throws -> Bool
  ) async throws -> Bool {
    let key = repository + "@" + reference
    let task = lock.withLock {
      if let running = tasks[key] { return running }
      let task = Task { try await put() }
      tasks[key] = task
      return task
    }
    return try await task.value
  }
}

/// Repositories the account may not push to, with the registry's reason.
///
/// Why: a blob shared by several repositories is uploaded into one and mounted into the
/// others. When the registry refuses the first repository (no push right there, or a Harbor
/// project that does not exist), the blob goes to the next one instead, so that every image
/// the account may push is pushed; the images of the refused repository fail with the reason.
final class RepositoryRefusals: @unchecked Sendable {
  // @unchecked: `reasons` is guarded by `lock`.
  private let lock = NSLock()
  private var reasons: [String: String] = [:]

  /// Records the first reason for `repository`; true when it is new (log it once).
  func record(_ repository: String, _ reason: String) -> Bool {
    lock.withLock {
      guard reasons[repository] == nil else { return false }
      reasons[repository] = reason
      return true
    }
  }

  func reason(for repository: String) -> String? { lock.withLock { reasons[repository] } }

  /// Whether `error` is the registry refusing the account (not the bytes, not the network).
  static func isRefusal(_ error: any Error) -> Bool {
    guard let error = error as? RegistryError else { return false }
    switch error {
    case .unauthorized, .denied: return true
    default: return false
    }
  }
}
