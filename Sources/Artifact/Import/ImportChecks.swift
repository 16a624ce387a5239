import Blobstore
import Foundation
import OCI

/// The two checks around the import's single pass: free space before it (from the front of
/// the archive), and `kk artifact verify`'s rules on what it staged, before anything is placed.
extension ArtifactImporter {
  /// Bytes of every distinct blob the artifact's `index.json` reaches, read from the front of
  /// the archive: SPEC 1.1 puts `index.json` and every index, manifest and config before the
  /// layers, so this reads only the small JSON blobs and stops at the first large one.
  ///
  /// Nil when the total is not known that way (no `index.json` up front, a manifest that comes
  /// after the layers, as in `tar czf` of a layout, or anything that does not parse): the pass
  /// then runs unchecked and a full disk is reported as such when a write fails.
  static func neededBytes(of archive: String) -> Int64? {
    guard let reader = try? ArchiveReader(path: archive) else { return nil }
    var indexJSON: [UInt8]?
    var contents: [Digest: [UInt8]] = [:]
    var smallNonJSON = 0
    while let entry = try? reader.next() {
      if entry.name == "index.json" {
        guard let bytes = try? entry.readAll(limit: jsonLimit) else { return nil }
        indexJSON = bytes
        continue
      }
      guard let digest = blobDigest(entry.name) else { continue }
      guard entry.size <= LayoutSnapshot.contentLimit else { break }
      var first: UInt8 = 0
      let got = try? withUnsafeMutableBytes(of: &first) { try entry.read(into: $0) }
      guard got == 1 else { continue }
      guard first == UInt8(ascii: "{") else {
        // A small layer among the metadata is tolerated; a large one means the layers began.
        smallNonJSON += 1
        if entry.size > 64 << 10 || smallNonJSON > 64 { break }
        continue
      }
      guard let bytes = readRest(of: entry, after: first) else { return nil }
      contents[digest] = bytes
    }
    guard let indexJSON else { return nil }
    let walk = LayoutGraph.walk(indexJSON: indexJSON) { digest in
      contents[digest].map { .bytes($0) } ?? .absent
    }
    guard walk.issues.isEmpty else { return nil }
    var total: Int64 = 0
    for node in walk.nodes where node.firstVisit {
      guard let digest = node.descriptor.digest, node.descriptor.urls.isEmpty else { continue }
      switch node.role {
      case .index, .manifest, .subject:
        // A manifest not read up front: its layers are unknown, so is the total.
        guard contents[digest] != nil else { return nil }
      default: break
      }
      total += node.descriptor.size ?? 0
    }
    return total
  }

  /// The whole entry, whose first byte was already read (`readAll` wants a fresh entry).
  private static func readRest(of entry: ArchiveEntry, after first: UInt8) -> [UInt8]? {
    var bytes = [UInt8](repeating: 0, count: Int(entry.size))
    bytes[0] = first
    var filled = 1
    while filled < bytes.count {
      let count = bytes.withUnsafeMutableBytes { all -> Int? in
        try? entry.read(into: UnsafeMutableRawBufferPointer(rebasing: all[filled...]))
      }
      guard let count, count > 0 else { return nil }
      filled += count
    }
    return bytes
  }

  /// The digest an archive entry `blobs/<alg>/<hex>` names, nil for anything else.
  static func blobDigest(_ name: String) -> Digest? {
    let parts = name.split(separator: "/")
    guard parts.count == 3, parts[0] == "blobs" else { return nil }
    return try? Digest(parsing: "\(parts[1]):\(parts[2])")
  }

  /// Runs `LayoutVerifier` (what `kk artifact verify` runs, SPEC 3.1) over the staged
  /// layout, so import refuses exactly what verify refuses: a bad `oci-layout`, an
  /// `index.json` that is no image index, sizes that disagree with descriptors, manifests
  /// that do not parse. Every staged blob already matched its digest when it was committed,
  /// so only the manifests and indexes the walk asks for are read back.
  static func verifyStaged(_ staged: Staged, archive: String, staging: BlobStore)
    throws(ImportError)
  {
    var contents: [Digest: [UInt8]] = [:]
    _ = LayoutGraph.walk(indexJSON: staged.indexJSON) { digest in
      guard let size = staged.sizes[digest] else { return .absent }
      guard size <= Int64(LayoutSnapshot.contentLimit), let bytes = try? staging.readJSON(digest)
      else { return .unusable("larger than \(LayoutSnapshot.contentLimit) bytes") }
      contents[digest] = bytes
      return .bytes(bytes)
    }
    var facts: [Digest: BlobFacts] = [:]
    for (digest, size) in staged.sizes {
      facts[digest] = BlobFacts(size: size, actualDigest: digest, content: contents[digest])
    }
    let snapshot = LayoutSnapshot(
      source: archive, ociLayout: staged.layout, indexJSON: staged.indexJSON, blobs: facts,
      strayFiles: staged.ignored.filter { $0.hasPrefix("blobs/") })
    let errors = LayoutVerifier.verify(snapshot).errors
    guard !errors.isEmpty else { return }
    for problem in errors {
      switch problem.kind {
      case .malformedIndex(let reason):
        throw .malformedIndex(
          path: archive,
          reason: reason.hasPrefix("not JSON")
            ? "is not valid JSON (cut or edited?)" : "is not an OCI image index (\(reason))")
      case .badLayoutFile(let reason):
        throw .notAnArtifact(
          path: archive,
          reason: "bad oci-layout: \(reason); get an intact copy of the artifact (or export it "
            + "again)")
      default:
        continue
      }
    }
    throw .failsVerification(
      path: archive,
      problems: errors.map { problem in
        let text = problem.description
        return text.hasPrefix("error: ") ? String(text.dropFirst(7)) : text
      })
  }
}
