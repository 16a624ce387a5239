import Blobstore
import Foundation
import OCI

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What `ArtifactPacker.pack` wrote.
public struct PackResult: Sendable, Hashable {
  /// The artifact file.
  public var path: String
  /// Its size on disk.
  public var size: Int64
  /// sha256 of the whole file, for the summary and for out-of-band checks.
  public var sha256: Digest
  /// Blobs in the archive.
  public var blobCount: Int
  /// Bytes of those blobs.
  public var blobBytes: Int64
  /// Whether the blobs were checked while packing (see `ArtifactPacker.pack`).
  public var verified: Bool
}

/// Writes an artifact from a content store with `ArchiveWriter`, in `PackPlan` order.
///
/// Layers are stored (they are already compressed; deflating them again costs minutes and
/// saves nothing: `StoredMember`), JSON is deflated at level 6, raw binaries in 1 MiB gzip
/// members by libdeflate on several threads (`ChunkedDeflater`); in a cache, those members are kept
/// (`CompressedForms`) and a later pack copies them instead of deflating again. The archive is written to
/// `NAME.partial` and renamed only when complete, so a crash never leaves a file under the
/// final name.
///
/// With `verify` (the default) every blob is observed as it is copied in (size, sha256, the
/// bytes of manifests and configs; `BlobFactsLane`), except a layer the export downloaded in
/// this same run (hashed against its digest as it was stored, see `waitFor`), and, before
/// the rename, `LayoutVerifier`
/// checks those facts with `oci-layout` and `index.json` exactly as written: the checks of
/// `kk artifact verify`, on the bytes that went into the archive, without reading it back.
/// A binary copied from its cached members is not read: its facts are what was established
/// when the members were made (its raw bytes hashed to its digest while they were deflated;
/// a form is recorded only then), and the members are hashed against their record before the
/// copy (see `CompressedForms`).
public enum ArtifactPacker {
  /// The `oci-layout` file of every artifact.
  static let ociLayout = Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8)

  /// Packs `plan`'s blobs from `store` into `output` (`.tar`, `.tar.gz` or `.tar.zst`).
  ///
  /// - Parameters:
  ///   - force: replace an existing `output`; without it an existing file is an error.
  ///   - verify: check every blob against its digest and the layout's graph before the
  ///     rename; on a problem nothing is left under `output` and the error lists the blobs.
  ///   - waitFor: called before each blob is read; blocks until the blob is in `store`
  ///     (the export packs blobs as their downloads land) or throws to stop the pack. Returns
  ///     true when the blob was downloaded by this export and hashed against its digest as it
  ///     was stored: `verify` then takes that check instead of hashing it a second time.
  ///   - progress: called after each blob with the bytes written so far.
  ///   - reuseCompressed: in a `.tar.gz`, copy the cached gzip members of raw blobs from
  ///     `store` (`CompressedForms`) instead of deflating them, and keep the members of those
  ///     deflated now (only with `verify`: a form is recorded only once its raw bytes hashed
  ///     to their digest). Pass false for a throw-away store. The artifact's bytes are the
  ///     same either way.
  ///   - onChunkDeflated: called for every chunk deflated (tests count them).
  public static func pack(
    plan: PackPlan, from store: BlobStore, to output: String, force: Bool = false,
    verify: Bool = true, waitFor: ((Descriptor) throws(ExportError) -> Bool)? = nil,
    progress: (@Sendable (Int64) -> Void)? = nil, reuseCompressed: Bool = true,
    onChunkDeflated: (() -> Void)? = nil
  ) throws(ExportError) -> PackResult {
    try checkOutput(output, force: force)
    try DiskSpace.require(
      plan.blobBytes + Int64(plan.indexJSON.count) + 64 * 1024,
      at: parentDirectory(of: output), what: "the artifact")
    let writer: ArchiveWriter
    do {
      writer = try ArchiveWriter(path: output, onChunkDeflated: onChunkDeflated)
    } catch {
      throw .archive("\(error)")
    }
    var written: Int64 = 0
    let file: WrittenArchive
    let lane = verify ? BlobFactsLane() : nil
    let forms =
      reuseCompressed ? writer.chunking.map { CompressedForms(store: store, parameters: $0) } : nil
    var captures: [CompressedForms.Capture] = []
    do {
      try writer.add(name: "oci-layout", bytes: ociLayout)
      try writer.add(name: "index.json", bytes: plan.indexJSON)
      for blob in plan.blobs {
        let name = "blobs/\(blob.digest.algorithm.rawValue)/\(blob.digest.encoded)"
        let path = store.path(for: blob.digest)
        let checkedOnArrival = try waitFor?(blob) ?? false
        let hint = EntryCompressibility(mediaType: blob.mediaType)
        let cacheable =
          hint == .auto && blob.size >= GzipMemberEncoder.binaryThreshold
          && blob.digest.algorithm == .sha256
        // A form made by this export's download from bytes that hashed to the digest is not
        // hashed again (a raw file deflated as it arrived has no raw blob: FormDeflatingSink).
        // With `verify` the export's downloads make forms whenever the packer uses them, so a
        // file fetched now never meets a form of an earlier run.
        let form = cacheable ? forms?.lookup(blob, trusted: checkedOnArrival && verify) : nil
        guard form != nil || store.size(of: blob.digest) == blob.size else {
          writer.abandon()
          if cacheable && forms != nil && !store.contains(blob.digest) {
            // Its cached form did not check out (removed by lookup) and no raw copy is kept:
            // the export's retry fetches it again.
            throw ExportError.verification(
              path: output, errors: ["the cached gzip members of \(blob.digest) are corrupt"],
              cache: store.root, corrupt: [blob.digest])
          }
          throw ExportError.store(
            "blob \(blob.digest) (\(blob.size) bytes) is missing from \(store.root) or has the "
              + "wrong size; run the export again to fetch it")
        }
        if let form {
          // Verified when the form was made (CompressedForms); its own digest just now.
          lane?.record(
            blob.digest, facts: BlobFacts(size: blob.size, actualDigest: blob.digest, content: nil))
          try writer.addGzipMembers(name: name, size: blob.size, members: form.path)
        } else {
          let capture = cacheable && verify ? forms?.capture(blob) : nil
          let check = BlobCheck(
            verifying: lane != nil, checkedOnArrival: checkedOnArrival, hint: hint,
            digest: blob.digest)
          if case .lane = check { lane?.begin(blob.digest) }
          let encoding = try writer.addFile(
            name: name, path: path, hint: hint, observe: check.observer(lane: lane),
            capture: capture.map { capture in { capture.write($0) } })
          switch check {
          case .none: break
          case .onArrival:
            lane?.record(
              blob.digest,
              facts: BlobFacts(size: blob.size, actualDigest: blob.digest, content: nil))
          case .inline(let inspector): lane?.record(blob.digest, facts: inspector.finish())
          case .lane: lane?.end()
          }
          if let capture {
            if case .chunked = encoding { captures.append(capture) } else { capture.discard() }
          }
        }
        written += blob.size
        progress?(written)
      }
      if let lane {
        let facts = lane.facts()
        let snapshot = LayoutSnapshot(
          source: output, ociLayout: ociLayout, indexJSON: plan.indexJSON, blobs: facts)
        let report = LayoutVerifier.verify(snapshot)
        guard report.isValid else {
          writer.abandon()
          let corrupt = plan.blobs.map(\.digest).filter { digest in
            facts[digest].map { $0.actualDigest.map { $0 != digest } ?? false } ?? false
          }
          throw ExportError.verification(
            path: output, errors: report.errors.map(\.description), cache: store.root,
            corrupt: corrupt)
        }
      }
      file = try writer.finish()
      // Every captured blob's raw bytes hashed to its digest (the verification above).
      if let forms { for capture in captures { forms.commit(capture) } }
    } catch let error as ExportError {
      writer.abandon()
      throw error
    } catch {
      writer.abandon()
      throw .archive("\(error)")
    }
    return PackResult(
      path: output, size: file.size, sha256: file.sha256, blobCount: plan.blobs.count,
      blobBytes: plan.blobBytes, verified: verify)
  }

  /// Refuses an existing output unless `force`, and an unsupported extension, before any
  /// network traffic (the command calls this first).
  public static func checkOutput(_ output: String, force: Bool) throws(ExportError) {
    do {
      _ = try ArchiveCompression.forOutput(path: output)
    } catch {
      throw .invalidInput(
        "\(output): the artifact name must end in .tar.gz, .tar.zst or .tar")
    }
    if !force, FileManager.default.fileExists(atPath: output) {
      throw .outputExists(path: output)
    }
  }
}

/// Free-space checks with `statvfs`, so an export fails before it fills the disk.
public enum DiskSpace {
  /// Bytes available to this user on the file system holding `path` (or its nearest existing
  /// ancestor), or nil when unknown.
  public static func available(at path: String) -> Int64? {
    var probe = path.isEmpty ? "." : path
    while !FileManager.default.fileExists(atPath: probe), probe != "/", probe != "." {
      probe = parentDirectory(of: probe)
    }
    var info = statvfs()
    guard statvfs(probe, &info) == 0 else { return nil }
    return Int64(info.f_bavail) * Int64(info.f_frsize)
  }

  /// Throws `diskSpace` when fewer than `bytes` are free at `path`.
  public static func require(_ bytes: Int64, at path: String, what: String) throws(ExportError) {
    guard let free = available(at: path), free < bytes else { return }
    throw .diskSpace(path: path, needed: bytes, available: free, what: what)
  }
}

/// How the packer checks one blob's digest while it copies it.
private enum BlobCheck {
  /// Not at all (`--skip-verify`).
  case none
  /// Already: this export downloaded it and hashed it as it was stored; hashing it again
  /// would only re-check the page cache (a blob from an earlier run is hashed: a cache on disk
  /// can rot, be torn by a power cut or edited).
  case onArrival
  /// On the packing thread as it is read into the output buffers: a layer (stored, not
  /// deflated) leaves that thread nothing else to do, and the file writer hashes the artifact
  /// on the other core.
  case inline(BlobInspector)
  /// On the facts lane (a copy, a thread of its own): for blobs whose bytes the packing thread
  /// deflates or feeds to zlib.
  case lane

  init(verifying: Bool, checkedOnArrival: Bool, hint: EntryCompressibility, digest: Digest) {
    if !verifying {
      self = .none
    } else if checkedOnArrival {
      self = .onArrival
    } else if hint == .compressed {
      self = .inline(BlobInspector(hashing: digest.algorithm == .sha256))
    } else {
      self = .lane
    }
  }

  /// What sees the blob's bytes as they are read.
  func observer(lane: BlobFactsLane?) -> ((UnsafeRawBufferPointer) -> Void)? {
    switch self {
    case .none, .onArrival: return nil
    case .inline(let inspector): return { inspector.write($0) }
    case .lane: return lane.map { lane in { lane.update($0) } }
    }
  }
}
