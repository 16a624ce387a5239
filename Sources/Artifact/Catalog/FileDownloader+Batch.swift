import Blobstore

extension FileDownloader {
  /// Fetches every file of a plan, at most `parallel` at a time, and returns one result per
  /// file in plan order.
  ///
  /// One failed file does not stop the others (KubeKey aborted the whole export on the
  /// first network error): the caller decides whether any failure is fatal or, with
  /// `--continue-on-error`, reports the failures and exits 2. A file whose digest is already
  /// in the store is not fetched again.
  ///
  /// - Parameter progress: called as each file finishes, from any task.
  public func fetchAll(
    _ files: [FilePlan], parallel: Int = 4,
    progress: (@Sendable (FilePlan, Result<StoredBlob, DownloadError>) -> Void)? = nil
  ) async -> [Result<StoredBlob, DownloadError>] {
    await BoundedParallel.map(files, limit: parallel) { file in
      let result: Result<StoredBlob, DownloadError>
      do throws(DownloadError) {
        result = .success(try await fetch(file))
      } catch {
        result = .failure(error)
      }
      progress?(file, result)
      return result
    }
  }
}
