import Foundation
import OCI

/// Sends an image's platform manifests as soon as all of its blobs are in, while other
/// images' blobs are still uploading.
///
/// Why: docker-registry writes and fsyncs several files per manifest PUT. Pushed after every
/// blob, an image's manifests were two or three rounds of those at the very end of a push,
/// with the CPU idle. Platform manifests are addressed by digest and tag nothing, so sending
/// them early changes nothing a user sees if the push then fails: tags (the root, under its
/// tags) still go only after every blob, and only for images whose blobs all arrived.
final class EarlyManifests: @unchecked Sendable {
  // @unchecked: the fields are guarded by `lock`.
  private let lock = NSLock()
  /// Images (index in `plan.images`) that use each blob.
  private let users: [Digest: [Int]]
  /// Blobs each image still waits for.
  private var waiting: [Int: Set<Digest>]
  /// Where manifest bytes come from, once the blob phase has started; nil: not yet.
  private var source: (@Sendable (Digest) -> [UInt8]?)?

  init(_ plan: PushPlan) {
    var users: [Digest: [Int]] = [:]
    var waiting: [Int: Set<Digest>] = [:]
    for (index, image) in plan.images.enumerated() {
      let digests = Set(image.blobs.map(\.digest))
      waiting[index] = digests
      for digest in digests { users[digest, default: []].append(index) }
    }
    self.users = users
    self.waiting = waiting
  }

  /// Starts the early sends with `manifest` as the source of manifest bytes; returns the
  /// images already ready (every blob was done before).
  func start(_ manifest: @escaping @Sendable (Digest) -> [UInt8]?) -> [Int] {
    lock.withLock {
      source = manifest
      let ready = waiting.filter { $0.value.isEmpty }.map(\.key).sorted()
      for index in ready { waiting[index] = nil }
      return ready
    }
  }

  /// Records that `digest` is in every repository that needs it; returns the images now
  /// ready, with the manifest source (nil before ``start(_:)``: they are sent then).
  func finished(_ digest: Digest) -> (images: [Int], source: (@Sendable (Digest) -> [UInt8]?)?) {
    lock.withLock {
      var ready: [Int] = []
      for index in users[digest] ?? [] {
        guard var left = waiting[index] else { continue }
        left.remove(digest)
        waiting[index] = left
        if left.isEmpty && source != nil {
          waiting[index] = nil
          ready.append(index)
        }
      }
      return (ready, source)
    }
  }
}

extension ImagePusher {
  /// `ledger.finished`, and the early manifests of images that became complete.
  func blobDone(_ digest: Digest) {
    ledger.finished(digest)
    progress?.blobDone()
    let (ready, source) = early.finished(digest)
    if let source { sendEarly(ready, source) }
  }

  /// Begins sending platform manifests early (see ``EarlyManifests``).
  func startEarlyManifests(_ manifest: @escaping @Sendable (Digest) -> [UInt8]?) {
    sendEarly(early.start(manifest), manifest)
  }

  private func sendEarly(_ images: [Int], _ manifest: @escaping @Sendable (Digest) -> [UInt8]?) {
    for index in images where !complete.contains(index) && !ledger.isStopped {
      let image = plan.images[index]
      let leaves = image.manifests.filter {
        !MediaType.isIndex($0.mediaType) && $0.digest != image.root.digest
      }
      for leaf in leaves {
        // The outcome is kept by `manifestPuts`: the image's own manifest push awaits the
        // same PUT and reports its failure.
        earlyWork.add {
          _ = try? await self.putManifest(leaf, of: image, complete: false, manifest)
        }
      }
    }
  }
}
