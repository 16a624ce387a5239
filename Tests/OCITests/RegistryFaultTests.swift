import Foundation
import OCI
import Testing

@testable import TestSupport

/// Pulls and pushes through a proxy that cuts connections mid-body: retries, Range resume
/// and upload restarts must still deliver identical bytes.
@Suite("Registry client through a connection-cutting proxy", .serialized)
struct RegistryFaultTests {
  @Test("every 3rd connection cut after 50 kB: pull and push complete with identical digests")
  func cutConnections() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-faulttest")
    defer { scratch.remove() }
    try await withTestRegistry(.plain) { registry in
      let images = try await RegistryTestSetup.seed(registry, into: scratch)
      let proxy = try await FaultProxy(
        upstream: registry.host, every: 3, afterBytes: 50_000, scratch: scratch)
      do {
        var options = RegistryTestSetup.options(
          for: registry, retry: RetryPolicy(attempts: 10, baseDelay: 0.02, maxDelay: 0.2))
        options.scheme = .http
        let client = RegistryClient(
          host: proxy.host, options: options,
          // One connection per request, so that every 3rd request meets a cut.
          pool: TransferPool(threads: 3, options: TransportOptions(reuseConnections: false)))
        var resumed = 0
        for image in images.images {
          let graph = try await client.fetchImageGraph(
            repository: image.repository, reference: image.tag)
          #expect(graph.root?.digest == image.digest)
          for blob in graph.blobs {
            let sink = try FileSink(path: scratch.path + "/" + blob.digest.encoded)
            try await client.fetchBlob(repository: image.repository, descriptor: blob, into: sink)
            let data = try Data(contentsOf: URL(fileURLWithPath: sink.path))
            #expect(SHA256Hasher.digest(data) == blob.digest)
            resumed += sink.restarts
          }
          let target =
            "kk-fault/" + (image.repository.split(separator: "/").last.map(String.init) ?? "x")
          try await client.pushImageGraph(graph, repository: target, tag: image.tag, parallel: 2) {
            blob in try FileSource(path: scratch.path + "/" + blob.digest.encoded)
          }
          let back = try await RegistryTestSetup.skopeoRaw(registry, "\(target):\(image.tag)")
          #expect(SHA256Hasher.digest(back) == image.digest)
          // Every pushed blob reads back (directly, not through the proxy) with its digest.
          let direct = RegistryClient(
            host: registry.host, options: RegistryTestSetup.options(for: registry),
            pool: TransferPool(threads: 1))
          for blob in graph.blobs {
            let sink = BufferSink()
            try await direct.fetchBlob(repository: target, descriptor: blob, into: sink)
            #expect(SHA256Hasher.digest(sink.bytes) == blob.digest)
          }
        }
        // The proxy really did cut connections, and downloads resumed rather than restarting.
        #expect(proxy.cuts >= 5)
        #expect(resumed == 0)
      } catch {
        await proxy.stop()
        throw error
      }
      await proxy.stop()
    }
  }
}
