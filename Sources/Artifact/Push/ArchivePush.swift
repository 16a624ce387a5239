import Blobstore
import Foundation
import OCI

/// `images push -a FILE`: blobs go straight from the archive into the registry.
///
/// An archive kk wrote is first mapped (`ArchiveMap`: where each entry's data lies, learnt
/// from its headers alone), and then pushed like a layout directory, `parallel` blobs at a
/// time, each read by offset (`pushMapped`). Any other archive is read as a stream:
/// one reader goes through it. In SPEC order `index.json` and every manifest come
/// first, so the plan is complete after a few KiB and each following blob entry is uploaded
/// as it is read (the registry hashes it and commits it only when it matches its digest).
/// Nothing is unpacked and nothing is copied to disk.
///
/// Any other order (a `tar czf` of a skopeo layout) still works: while the plan is not
/// complete, small entries (≤ 4 MiB, up to 64 MiB in total) are kept in memory (they are the
/// manifests and configs the plan waits for) and larger ones are noted. Blobs that went by
/// before the plan was complete, or that need sending again (a retry, or a refused mount
/// after their entry went by), are sent in a second pass over the archive, which is logged.
extension ImagePusher {
  static let smallEntryLimit = ManifestBytes.maximumSize
  static let memoryBudget = 64 << 20
  /// Passes over the archive at most (the first included).
  static let maxPasses = 4

  /// Plans from the archive and pushes it.
  ///
  /// - Parameter makePusher: builds the pusher once the plan is known (and may first check
  ///   the registry: local mistakes in the plan are then reported before network ones).
  public static func pushArchive(
    path: String, target: @escaping (Reference) throws -> Reference?, patterns: [String],
    log: @escaping @Sendable (String) -> Void,
    makePusher: (PushPlan) async throws -> ImagePusher, dryRun: Bool = false
  ) async throws -> (plan: PushPlan, report: PushReport?) {
    if let map = try ArchiveMap.map(path: path),
      let mapped = try await pushMapped(
        map, target: target, patterns: patterns, log: log, makePusher: makePusher, dryRun: dryRun)
    {
      return mapped
    }
    let started = Date()
    let reader = try ArchiveReader(path: path)
    var indexJSON: [UInt8]?
    var small: [Digest: [UInt8]] = [:]
    var kept = 0
    var pusher: ImagePusher?
    var passedBy: Set<Digest> = []
    var corrupt: [Digest: PushError] = [:]
    var pending: Set<Digest> = []
    var waitingFor: Set<Digest>?
    var nested: String?
    let background = BackgroundWork()
    do {
      while let entry = try reader.next() {
        if pusher == nil {
          nested = nested ?? EntryName.nestedLayoutDirectory(entry.name)
          if entry.name == "index.json" {
            indexJSON = try entry.readAll(limit: smallEntryLimit * 4)
          } else if let digest = blobDigest(entry.name) {
            if entry.size <= Int64(smallEntryLimit) && kept + Int(entry.size) <= memoryBudget {
              let bytes = try entry.readAll(limit: smallEntryLimit)
              let actual = SHA256Hasher.digest(bytes)
              guard actual == digest else {
                // Not fatal: only the images using it fail (all of them without
                // --continue-on-error), once the plan says which those are.
                corrupt[digest] = PushError.blobCorrupt(digest, actual: actual, size: entry.size)
                continue
              }
              small[digest] = bytes
              kept += bytes.count
            } else {
              passedBy.insert(digest)
            }
          }
          guard let indexJSON else { continue }
          // Plan again only once everything the last attempt waited for has arrived: each
          // attempt decodes index.json and every manifest read so far, so planning after each
          // arrival was quadratic (70 ms of a push's start for 15 two-platform images). A
          // manifest that never arrives is reported by the planning after the last entry.
          if var waiting = waitingFor {
            guard let digest = blobDigest(entry.name), waiting.remove(digest) != nil else {
              continue
            }
            waitingFor = waiting
            guard waiting.isEmpty else { continue }
          }
          let frozen = small
          let outcome = try PushPlanner.plan(
            indexJSON: indexJSON, manifest: { frozen[$0] }, target: target, patterns: patterns)
          guard case .complete(let plan) = outcome else {
            if case .waiting(let missing) = outcome { waitingFor = missing }
            continue
          }
          if dryRun { return (plan, nil) }
          let made = try await makePusher(plan)
          pusher = made
          made.failCorrupt(corrupt)
          // Ask the registry what it has for the whole plan at once: a re-push then reads no
          // further, and every upload below skips its own HEAD.
          await made.learnPresence()
          made.startProgress()
          made.expectUploads(upfront: true)
          let manifests = small
          made.startEarlyManifests { manifests[$0] }
          // What the plan needs that is already in memory goes in the background.
          for use in plan.blobUses {
            if let bytes = small[use.blob.digest], !made.ledger.isDone(use.blob.digest) {
              background.add {
                await made.pushBlob(use.blob, to: use.repositories, rereadable: true) {
                  MemorySource(bytes)
                }
              }
            }
          }
          // Blobs still to come in this pass; once none is left, stop reading the archive.
          pending = Set(plan.blobUses.map(\.blob.digest)).filter {
            !made.ledger.isDone($0) && made.ledger.failure(of: $0) == nil && small[$0] == nil
              && !passedBy.contains($0)
          }
          if pending.isEmpty { break }
          continue
        }
        guard let pusher, let digest = blobDigest(entry.name) else { continue }
        if pending.remove(digest) != nil {
          try await pusher.streamEntry(entry, digest: digest, background: background)
        }
        if pending.isEmpty || pusher.ledger.isStopped { break }
      }
      await background.wait()
      guard let pusher else {
        guard let indexJSON else {
          if let nested { throw EntryName.misplacedLayout(path: path, directory: nested) }
          throw PushError.source("\(path) has no index.json: it is not a kk artifact")
        }
        let frozen = small
        let outcome = try PushPlanner.plan(
          indexJSON: indexJSON, manifest: { frozen[$0] }, target: target, patterns: patterns)
        if case .waiting(let missing) = outcome, let first = missing.sorted().first {
          if let bad = missing.sorted().lazy.compactMap({ corrupt[$0] }).first { throw bad }
          throw PushError.missingManifest(first, image: "an image of \(path)")
        }
        throw PushError.source("\(path): planning did not complete")
      }
      // Further passes: blobs that went by before the plan, or must be read again (a cut
      // connection mid-upload); each pass must make progress, at most `maxPasses` in all.
      let needed = Set(pusher.plan.blobUses.map(\.blob.digest))
      var pass = 1
      var again = needed.filter {
        !pusher.ledger.isDone($0) && pusher.ledger.failure(of: $0) == nil
      }
      // After a failure stopped the push nothing more is sent: another pass would only read
      // the whole archive again (minutes on a large one) before reporting.
      while !again.isEmpty && !pusher.ledger.isStopped {
        pass += 1
        let last = pass >= maxPasses
        log(
          "archive not in SPEC order (or blobs must be re-read): pass \(pass) over \(path) for \(again.count) blobs"
        )
        pusher.ledger.update { $0.secondPassBlobs += again.count }
        let reader = try ArchiveReader(path: path)
        while let entry = try reader.next() {
          guard let digest = blobDigest(entry.name), again.contains(digest),
            !pusher.ledger.isDone(digest)
          else { continue }
          try await pusher.streamEntry(entry, digest: digest, lastPass: last)
        }
        let left = needed.filter {
          !pusher.ledger.isDone($0) && pusher.ledger.failure(of: $0) == nil
        }
        if last || left.count >= again.count { break }
        again = left
      }
      await pusher.sessions.close()
      let manifests = small
      await pusher.pushManifests { manifests[$0] }
      return (pusher.plan, pusher.finish(started))
    } catch {
      // A read error part-way (a damaged archive): uploads in flight end first, then the
      // upload sessions opened ahead for blobs that will not come are deleted.
      await background.wait()
      if let pusher { await pusher.sessions.close() }
      throw error
    }
  }

  /// Uploads one archive entry if the plan needs it (and it is not done); with `background`
  /// the mounts into further repositories run there while the archive is read on.
  func streamEntry(
    _ entry: ArchiveEntry, digest: Digest, lastPass: Bool = false,
    background: BackgroundWork? = nil
  ) async throws {
    guard !ledger.isDone(digest), ledger.failure(of: digest) == nil,
      let use = uses[digest]
    else { return }
    if ledger.deferredBlobs.contains(digest) {
      // Its streamed upload failed before: send it from a copy the client can retry from.
      let copy = try SpooledEntry(entry, digest: digest, memoryLimit: Self.smallEntryLimit)
      defer { copy.remove() }
      await pushBlob(use.blob, to: use.repositories, rereadable: true, make: copy.make)
    } else if let background {
      // Read on as soon as the entry's last byte is in the request body: the registry's
      // answer (it verifies and moves the blob into place) and the mounts into further
      // repositories come in the background while the next entry is sent.
      let consumed = EntryConsumed(size: entry.size)
      background.add {
        await self.pushBlob(
          use.blob, to: use.repositories, rereadable: false, background: background
        ) { consumed.watching(entry) }
        consumed.fire()
      }
      await consumed.wait()
    } else {
      await pushBlob(use.blob, to: use.repositories, rereadable: false) { entry }
    }
    if lastPass, ledger.deferredBlobs.contains(digest) {
      ledger.fail(
        digest, "blob \(digest) could not be sent in \(Self.maxPasses) passes over the archive")
    }
  }

  /// Fails the blobs of the plan found corrupt while planning (small entries hashed as they
  /// were read): only the images using them fail, once the plan says which those are.
  func failCorrupt(_ corrupt: [Digest: PushError]) {
    for (digest, reason) in corrupt.sorted(by: { $0.key < $1.key }) where uses[digest] != nil {
      ledger.fail(digest, reason.description)
      log("FAILED blob \(digest): \(reason)")
    }
  }

  static func blobDigest(_ name: String) -> Digest? {
    let parts = name.split(separator: "/")
    guard parts.count == 3, parts[0] == "blobs" else { return nil }
    return try? Digest(parsing: "\(parts[1]):\(parts[2])")
  }
}

extension ImagePusher {
  /// Pushes from a mapped archive; nil when the map lacks something the push needs (no
  /// `index.json` or manifest in memory, a blob not readable by offset): the stream path
  /// then reads the archive and reports what is wrong.
  static func pushMapped(
    _ map: ArchiveMap, target: @escaping (Reference) throws -> Reference?, patterns: [String],
    log: @escaping @Sendable (String) -> Void, makePusher: (PushPlan) async throws -> ImagePusher,
    dryRun: Bool
  ) async throws -> (plan: PushPlan, report: PushReport?)? {
    guard case .inline(let indexJSON)? = map.entries["index.json"]?.placement else { return nil }
    // Small blobs (manifests, configs) were read while mapping: hashed here, once.
    var small: [Digest: [UInt8]] = [:]
    var corrupt: [Digest: PushError] = [:]
    var readable: [Digest: ArchiveMap.Entry] = [:]
    for name in map.names {
      guard let digest = blobDigest(name), let entry = map.entries[name] else { continue }
      switch entry.placement {
      case .inline(let bytes):
        let actual = SHA256Hasher.digest(bytes)
        if actual == digest {
          small[digest] = bytes
        } else {
          corrupt[digest] = .blobCorrupt(digest, actual: actual, size: entry.size)
        }
      case .members, .contiguous: readable[digest] = entry
      case .unavailable: break
      }
    }
    let manifests = small
    let outcome = try PushPlanner.plan(
      indexJSON: indexJSON, manifest: { manifests[$0] }, target: target, patterns: patterns)
    guard case .complete(let plan) = outcome else {
      if case .waiting(let missing) = outcome,
        let bad = missing.sorted().lazy.compactMap({ corrupt[$0] }).first
      {
        throw bad
      }
      return nil
    }
    let needed = plan.blobUses.map(\.blob.digest)
    guard needed.allSatisfy({ small[$0] != nil || readable[$0] != nil || corrupt[$0] != nil })
    else { return nil }
    if dryRun { return (plan, nil) }
    let pusher = try await makePusher(plan)
    pusher.failCorrupt(corrupt)
    let entries = readable
    let report = await pusher.push(
      manifest: { manifests[$0] },
      open: { digest in
        if let bytes = manifests[digest] { return MemorySource(bytes) }
        guard let entry = entries[digest] else { throw PushError.blobNotInArchive(digest) }
        return try ArchiveEntrySource(entry, in: map)
      })
    return (plan, report)
  }
}
