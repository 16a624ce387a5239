import Foundation
import OCI

/// Checks a `LayoutSnapshot`: the layout files, the graph from `index.json`, and every
/// blob's size and digest against what references it.
///
/// Pure: it reads nothing itself, so the same checks run over a directory
/// (`BlobStore.verify()`) and over an archive streamed by the Artifact module.
public enum LayoutVerifier {
  public static func verify(_ snapshot: LayoutSnapshot) -> VerifyReport {
    var problems: [VerifyProblem] = []
    var summary = VerifySummary(
      blobCount: snapshot.blobs.count, totalBytes: snapshot.blobs.values.reduce(0) { $0 + $1.size })

    if let layout = snapshot.ociLayout {
      if !LayoutFile.isSupported(layout) {
        problems.append(
          VerifyProblem(
            kind: .badLayoutFile("expected {\"imageLayoutVersion\":\"1.0.0\"}"), file: "oci-layout")
        )
      }
    } else {
      problems.append(
        VerifyProblem(kind: .badLayoutFile("the file is missing"), file: "oci-layout"))
    }
    guard let indexJSON = snapshot.indexJSON else {
      problems.append(
        VerifyProblem(kind: .malformedIndex("the file is missing"), file: "index.json"))
      return VerifyReport(summary: summary, problems: problems)
    }
    summary.topDigest = SHA256Hasher.digest(indexJSON)

    let walk = LayoutGraph.walk(indexJSON: indexJSON) { digest in
      guard let facts = snapshot.blobs[digest], facts.actualDigest == digest else {
        // Absent, corrupt or unverifiable: reported below as such; never parse
        // bytes that do not match their digest.
        return .absent
      }
      guard let content = facts.content else {
        return .unusable("not JSON, or larger than \(LayoutSnapshot.contentLimit) bytes")
      }
      return .bytes(content)
    }
    problems += walk.issues.map(problem(from:))

    var contentChecked = Set<Digest>()
    var platforms = Set<String>()
    for node in walk.nodes {
      guard let digest = node.descriptor.digest else { continue }
      // buildx attestation manifests carry `unknown/unknown`: not a platform the bundle serves.
      if let platform = node.descriptor.platformValue, platform.os != "unknown" {
        platforms.insert(platform.description)
      }
      let file = LayoutGraph.blobFile(digest)
      guard let facts = snapshot.blobs[digest] else {
        // Foreign layers (with urls) and subjects may legitimately live elsewhere.
        let optional = !node.descriptor.urls.isEmpty || node.role == .subject
        problems.append(
          VerifyProblem(
            kind: .missing, file: file, digest: digest, context: node.context, image: node.owner,
            severity: optional ? .warning : .error))
        continue
      }
      let intact = facts.actualDigest == digest
      if contentChecked.insert(digest).inserted {
        if facts.actualDigest == nil {
          problems.append(
            VerifyProblem(
              kind: .unverifiable, file: file, digest: digest, context: node.context,
              image: node.owner, severity: .warning))
        } else if let actual = facts.actualDigest, !intact {
          let kind: VerifyProblem.Kind
          if let declared = node.descriptor.size, facts.size < declared {
            kind = .truncated(declared: declared, actual: facts.size)
          } else {
            kind = .corrupt(actual: actual)
          }
          problems.append(
            VerifyProblem(
              kind: kind, file: file, digest: digest, context: node.context, image: node.owner))
        }
      }
      if intact, let declared = node.descriptor.size, declared != facts.size {
        problems.append(
          VerifyProblem(
            kind: .sizeMismatch(declared: declared, actual: facts.size), file: file, digest: digest,
            context: node.context, image: node.owner))
      }
      if intact, node.role == .config, let platform = node.platform {
        // Platforms of single-arch images come from their config (found by the walk).
        platforms.insert(platform)
      }
    }

    if walk.issues.allSatisfy({ $0.kind != .malformedIndex }) {
      let reachable = walk.reachable
      for digest in snapshot.blobs.keys.sorted() where !reachable.contains(digest) {
        guard let facts = snapshot.blobs[digest] else { continue }
        let file = LayoutGraph.blobFile(digest)
        if let actual = facts.actualDigest, actual != digest {
          problems.append(VerifyProblem(kind: .corrupt(actual: actual), file: file, digest: digest))
        }
        problems.append(
          VerifyProblem(
            kind: .unreferenced(size: facts.size), file: file, digest: digest, severity: .warning))
      }
    }
    for stray in snapshot.strayFiles.sorted() {
      problems.append(VerifyProblem(kind: .strayFile, file: stray, severity: .warning))
    }

    for entry in walk.entries {
      if let name = entry.refName {
        summary.images.append(name)
      } else if let path = entry.annotations["io.kubekey.path"] {
        summary.files.append(path)
      }
    }
    summary.platforms = platforms.sorted()
    return VerifyReport(summary: summary, problems: problems)
  }

  private static func problem(from issue: GraphIssue) -> VerifyProblem {
    let kind: VerifyProblem.Kind
    switch issue.kind {
    case .malformedIndex: kind = .malformedIndex(issue.reason)
    case .malformedManifest, .unreadable: kind = .malformedManifest(issue.reason)
    case .invalidDescriptor: kind = .invalidDescriptor(issue.reason)
    }
    let context = issue.owner.map { owner in
      "descriptor of \(owner)" + (issue.platform.map { " (\($0))" } ?? "")
    }
    return VerifyProblem(
      kind: kind, file: issue.file, digest: issue.digest, context: context, image: issue.owner)
  }
}
