import Dispatch
import Foundation
import OCI

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

extension BlobStore {
  /// Re-hashes every blob and checks the whole graph; see `LayoutVerifier`.
  public func verify(threads: Int = 2) throws(BlobstoreError) -> VerifyReport {
    LayoutVerifier.verify(try snapshot(threads: threads))
  }

  /// `verify()` off the Swift concurrency pool: hashing blocks threads for seconds.
  public func verify(threads: Int = 2) async throws -> VerifyReport {
    try await withCheckedThrowingContinuation { continuation in
      DispatchQueue.global().async {
        continuation.resume(
          with: Result { () throws(BlobstoreError) in try self.verify(threads: threads) })
      }
    }
  }

  /// Reads the layout into a `LayoutSnapshot`: hashes every blob with 1 MiB reads, on
  /// `threads` threads at once (different blobs in parallel; one blob's hash is sequential),
  /// keeping the bytes of small JSON blobs.
  public func snapshot(threads: Int = 2) throws(BlobstoreError) -> LayoutSnapshot {
    var snapshot = LayoutSnapshot(source: root)
    // A link inside the layout is not followed (it could point anywhere): named, not
    // reported as a missing file.
    for path in [layoutPath, indexPath] where FileIO.isSymbolicLink(path) {
      throw .symbolicLink(path: path)
    }
    snapshot.ociLayout = try? FileIO.readFile(layoutPath, limit: 64 * 1024)
    if FileIO.fileInfo(indexPath) != nil {
      snapshot.indexJSON = try FileIO.readFile(
        indexPath, limit: Int64(4 * LayoutSnapshot.contentLimit))
    }
    var work: [(Digest, String, Int64)] = []
    for algorithm in FileIO.list(root + "/blobs").sorted() {
      let directory = "\(root)/blobs/\(algorithm)"
      guard FileIO.isDirectory(directory) else {
        snapshot.strayFiles.append("blobs/\(algorithm)")
        continue
      }
      for name in FileIO.list(directory).sorted() {
        let relative = "blobs/\(algorithm)/\(name)"
        if FileIO.isSymbolicLink(root + "/" + relative) {
          throw .symbolicLink(path: root + "/" + relative)
        }
        guard case .blob(let digest) = LayoutSnapshot.classify(path: relative),
          let info = FileIO.fileInfo(root + "/" + relative)
        else {
          snapshot.strayFiles.append(relative)
          continue
        }
        work.append((digest, root + "/" + relative, info.size))
      }
    }
    // Largest first, so two threads finish close together.
    work.sort { $0.2 > $1.2 }
    let results = try Self.inspectAll(work.map { ($0.0, $0.1) }, threads: max(1, threads))
    snapshot.blobs = results
    return snapshot
  }

  private static func inspectAll(
    _ work: [(Digest, String)], threads: Int
  ) throws(BlobstoreError) -> [Digest: BlobFacts] {
    final class Shared: @unchecked Sendable {
      let lock = NSLock()
      var next = 0
      var facts: [Digest: BlobFacts] = [:]
      var failure: BlobstoreError?
    }
    let shared = Shared()
    DispatchQueue.concurrentPerform(iterations: min(threads, max(work.count, 1))) { _ in
      let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ioBufferSize, alignment: 16)
      defer { buffer.deallocate() }
      while true {
        shared.lock.lock()
        let index = shared.next
        shared.next += 1
        let stop = shared.failure != nil
        shared.lock.unlock()
        guard !stop, index < work.count else { return }
        let (digest, path) = work[index]
        do throws(BlobstoreError) {
          let facts = try inspect(path, hashing: digest.algorithm == .sha256, buffer: buffer)
          shared.lock.lock()
          shared.facts[digest] = facts
          shared.lock.unlock()
        } catch {
          shared.lock.lock()
          shared.failure = shared.failure ?? error
          shared.lock.unlock()
        }
      }
    }
    if let failure = shared.failure { throw failure }
    return shared.facts
  }

  private static func inspect(
    _ path: String, hashing: Bool, buffer: UnsafeMutableRawBufferPointer
  ) throws(BlobstoreError) -> BlobFacts {
    let fd = try FileIO.openRead(path)
    defer { close(fd) }
    // Tell the kernel to read ahead aggressively: every blob is read once, start to end.
    _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
    let inspector = BlobInspector(hashing: hashing)
    while true {
      let n = try FileIO.read(fd, into: buffer, path: path)
      if n == 0 { break }
      inspector.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
    }
    return inspector.finish()
  }

  /// Walks the graph from `index.json` (see `LayoutGraph`), reading manifests and indexes
  /// from disk and checking each against its digest before trusting it.
  public func walk() throws(BlobstoreError) -> GraphWalk {
    let index = try FileIO.readFile(indexPath, limit: Int64(4 * LayoutSnapshot.contentLimit))
    return LayoutGraph.walk(indexJSON: index) { digest in
      guard contains(digest) else { return .absent }
      let bytes: [UInt8]
      do throws(BlobstoreError) {
        bytes = try readJSON(digest)
      } catch {
        return .unusable(error.description)
      }
      guard (try? Digest.compute(digest.algorithm, over: bytes)) == digest else {
        return .unusable("content does not match its digest; run verify")
      }
      return .bytes(bytes)
    }
  }
}
