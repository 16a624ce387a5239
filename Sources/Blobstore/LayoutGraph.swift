import Foundation
import OCI

/// A descriptor as found in a layout, parsed leniently.
///
/// Verification must report a bad descriptor (an unknown digest algorithm, a missing size)
/// and carry on with its siblings, so the walk does not decode through the strict
/// vocabulary types: one bad field would fail the whole manifest.
public struct GraphDescriptor: Sendable, Hashable {
  public var mediaType: String
  /// The digest as written, even when it does not parse.
  public var digestText: String
  /// The parsed digest; nil when `digestText` is not a valid digest.
  public var digest: Digest?
  /// The declared size; nil when absent or negative.
  public var size: Int64?
  /// `os/arch[/variant]` from the descriptor's `platform`, if any.
  public var platform: String? { platformValue?.description }
  /// The descriptor's `platform`.
  public var platformValue: Platform?
  public var artifactType: String?
  public var annotations: [String: String]
  /// Non-empty for foreign layers that may legitimately be absent from the layout.
  public var urls: [String]

  /// The strict vocabulary descriptor, or nil when the digest or size is invalid.
  public var descriptor: Descriptor? {
    guard let digest, let size else { return nil }
    return Descriptor(
      mediaType: mediaType, digest: digest, size: size, urls: urls.isEmpty ? nil : urls,
      annotations: annotations.isEmpty ? nil : annotations, platform: platformValue,
      artifactType: artifactType)
  }

  /// `org.opencontainers.image.ref.name`, else `io.containerd.image.name`.
  public var refName: String? {
    annotations["org.opencontainers.image.ref.name"] ?? annotations["io.containerd.image.name"]
  }
}

/// The part a blob plays for the node that references it.
public enum GraphRole: Sendable, Hashable, CustomStringConvertible {
  case index
  case manifest
  case config
  /// The n-th layer (1-based) of its manifest.
  case layer(Int)
  /// A blob of an OCI artifact manifest.
  case blob(Int)
  /// The manifest a referrer points at.
  case subject
  /// A top-level entry or index child whose media type is not a manifest or index.
  case other

  public var description: String {
    switch self {
    case .index: return "index"
    case .manifest: return "manifest"
    case .config: return "config"
    case .layer(let n): return "layer \(n)"
    case .blob(let n): return "blob \(n)"
    case .subject: return "subject"
    case .other: return "blob"
    }
  }
}

/// One reference found while walking: the descriptor, what it is, and how we got there.
public struct GraphNode: Sendable {
  public var descriptor: GraphDescriptor
  public var role: GraphRole
  /// Descriptors from the `index.json` entry down to this node's direct parent.
  public var parents: [GraphDescriptor]
  /// The image (ref name) or file (`io.kubekey.path`) of the `index.json` entry this
  /// node belongs to, or `index.json entry N` when the entry names nothing.
  public var owner: String
  /// The nearest platform on the chain, e.g. `linux/arm64`.
  public var platform: String?
  /// False when the same digest was already reached through another path: the walk
  /// reports every reference (each may declare a different size) but descends once.
  public var firstVisit: Bool

  /// "layer 2 of docker.io/library/busybox:1.36 (linux/arm64)".
  public var context: String {
    "\(role) of \(owner)" + (platform.map { " (\($0))" } ?? "")
  }
}

/// Media types the walk descends into. Docker schema2 shares the OCI JSON shapes; OCI 1.1
/// artifact manifests (`blobs` instead of `layers`) are walked too.
enum GraphMediaTypes {
  static let artifactManifest = "application/vnd.oci.artifact.manifest.v1+json"

  static func isIndex(_ mediaType: String) -> Bool { MediaType.isIndex(mediaType) }

  static func isManifest(_ mediaType: String) -> Bool {
    MediaType.isManifest(mediaType) || MediaType.essence(mediaType) == artifactManifest
  }
}

/// What the walk could learn about a blob it wants to parse.
public enum GraphContent: Sendable {
  /// The bytes, already checked against the digest.
  case bytes([UInt8])
  /// The blob is not present (reported by whoever checks presence, not by the walk).
  case absent
  /// Present but unusable for parsing; the reason says why (corrupt, too large).
  case unusable(String)
}

/// A problem the walk itself found: JSON that does not parse, a descriptor that is invalid.
public struct GraphIssue: Sendable {
  public enum Kind: Sendable, Hashable {
    case malformedIndex
    case malformedManifest
    case invalidDescriptor
    /// A manifest or index could not be read, so its children are unknown.
    case unreadable
  }

  public var kind: Kind
  /// The file at fault: `index.json`, `blobs/sha256/<hex>`, or the bad digest text.
  public var file: String
  public var digest: Digest?
  public var owner: String?
  public var platform: String?
  public var reason: String
}

/// The result of a walk: nodes in walk order and the issues found on the way.
public struct GraphWalk: Sendable {
  /// Depth first from `index.json`, parents before children. Every reference is listed;
  /// `firstVisit` marks the first occurrence of each digest.
  public var nodes: [GraphNode]
  public var issues: [GraphIssue]
  /// The `index.json` entries, in order (empty when `index.json` did not parse).
  public var entries: [GraphDescriptor]

  /// Each digest once, in walk order (the tar order SPEC 1.1 wants for metadata).
  public var uniqueDescriptors: [GraphDescriptor] {
    nodes.filter(\.firstVisit).map(\.descriptor)
  }

  /// Every digest the graph references.
  public var reachable: Set<Digest> {
    Set(nodes.compactMap(\.descriptor.digest))
  }

  /// The blob order of SPEC 1.1: every index, manifest and config in walk order (so a
  /// reader can plan before the large bytes arrive), then every other blob (layers, files,
  /// ISOs) sorted by digest. Each digest once.
  public var archiveOrder: [GraphDescriptor] {
    var metadata: [GraphDescriptor] = []
    var bulk: [Digest: GraphDescriptor] = [:]
    var placed = Set<Digest>()
    for node in nodes where node.firstVisit {
      guard let digest = node.descriptor.digest else { continue }
      let type = node.descriptor.mediaType
      if node.role == .config || GraphMediaTypes.isIndex(type) || GraphMediaTypes.isManifest(type) {
        metadata.append(node.descriptor)
        placed.insert(digest)
      } else {
        bulk[digest] = node.descriptor
      }
    }
    return metadata + bulk.keys.sorted().filter { !placed.contains($0) }.compactMap { bulk[$0] }
  }
}

/// Walks an OCI layout's graph: `index.json` → indexes → manifests → config, layers,
/// artifact blobs and subjects. Unknown media types are leaves.
public enum LayoutGraph {
  /// - Parameters:
  ///   - indexJSON: the bytes of `index.json`.
  ///   - content: the bytes of a blob the walk wants to parse (indexes and manifests only).
  public static func walk(indexJSON: [UInt8], content: (Digest) -> GraphContent) -> GraphWalk {
    var result = GraphWalk(nodes: [], issues: [], entries: [])
    let top: RawNode
    do {
      top = try JSONDecoder().decode(RawNode.self, from: Data(indexJSON))
    } catch {
      result.issues.append(
        GraphIssue(kind: .malformedIndex, file: "index.json", reason: describe(error)))
      return result
    }
    guard let entries = top.manifests else {
      result.issues.append(
        GraphIssue(kind: .malformedIndex, file: "index.json", reason: "no \"manifests\" array"))
      return result
    }
    var visited = Set<Digest>()
    for (number, raw) in entries.enumerated() {
      let descriptor = raw.graphDescriptor
      result.entries.append(descriptor)
      let owner =
        descriptor.refName ?? descriptor.annotations["io.kubekey.path"]
        ?? "index.json entry \(number + 1)"
      visit(
        descriptor, role: role(of: descriptor), parents: [], owner: owner,
        platform: descriptor.platform, visited: &visited, result: &result, content: content)
    }
    return result
  }

  private static func role(of descriptor: GraphDescriptor) -> GraphRole {
    if GraphMediaTypes.isIndex(descriptor.mediaType) { return .index }
    if GraphMediaTypes.isManifest(descriptor.mediaType) { return .manifest }
    return .other
  }

  private static func visit(
    _ descriptor: GraphDescriptor, role: GraphRole, parents: [GraphDescriptor], owner: String,
    platform: String?, visited: inout Set<Digest>, result: inout GraphWalk,
    content: (Digest) -> GraphContent
  ) {
    var platform = descriptor.platform ?? platform
    guard let digest = descriptor.digest else {
      result.issues.append(
        GraphIssue(
          kind: .invalidDescriptor, file: descriptor.digestText, owner: owner, platform: platform,
          reason: invalidDigestReason(descriptor.digestText)))
      return
    }
    let first = visited.insert(digest).inserted
    result.nodes.append(
      GraphNode(
        descriptor: descriptor, role: role, parents: parents, owner: owner, platform: platform,
        firstVisit: first))
    if descriptor.size == nil {
      result.issues.append(
        GraphIssue(
          kind: .invalidDescriptor, file: blobFile(digest), digest: digest, owner: owner,
          platform: platform, reason: "descriptor has no valid \"size\""))
    }
    guard first, role == .index || role == .manifest || role == .subject else { return }
    let isIndex = GraphMediaTypes.isIndex(descriptor.mediaType)
    guard isIndex || GraphMediaTypes.isManifest(descriptor.mediaType) else { return }
    let bytes: [UInt8]
    switch content(digest) {
    case .absent: return
    case .unusable(let reason):
      result.issues.append(
        GraphIssue(
          kind: .unreadable, file: blobFile(digest), digest: digest, owner: owner,
          platform: platform,
          reason: reason))
      return
    case .bytes(let b): bytes = b
    }
    let node: RawNode
    do {
      node = try JSONDecoder().decode(RawNode.self, from: Data(bytes))
    } catch {
      result.issues.append(
        GraphIssue(
          kind: .malformedManifest, file: blobFile(digest), digest: digest, owner: owner,
          platform: platform, reason: describe(error)))
      return
    }
    var children: [(RawDescriptor, GraphRole)] = []
    if !isIndex, platform == nil, let config = node.config?.graphDescriptor,
      let configDigest = config.digest,
      LayoutGraph.configTypes.contains(MediaType.essence(config.mediaType)),
      case .bytes(let bytes) = content(configDigest)
    {
      // A single-platform image names its platform only in its config.
      platform = configPlatform(bytes)
    }
    if isIndex {
      guard let manifests = node.manifests else {
        result.issues.append(
          GraphIssue(
            kind: .malformedManifest, file: blobFile(digest), digest: digest, owner: owner,
            platform: platform, reason: "image index has no \"manifests\" array"))
        return
      }
      for child in manifests {
        children.append((child, Self.role(of: child.graphDescriptor)))
      }
    } else {
      if let config = node.config {
        children.append((config, .config))
      } else if node.blobs == nil {
        result.issues.append(
          GraphIssue(
            kind: .malformedManifest, file: blobFile(digest), digest: digest, owner: owner,
            platform: platform, reason: "image manifest has no \"config\""))
      }
      for (n, layer) in (node.layers ?? []).enumerated() { children.append((layer, .layer(n + 1))) }
      for (n, blob) in (node.blobs ?? []).enumerated() { children.append((blob, .blob(n + 1))) }
    }
    if let subject = node.subject { children.append((subject, .subject)) }
    let chain = parents + [descriptor]
    for (child, childRole) in children {
      visit(
        child.graphDescriptor, role: childRole, parents: chain, owner: owner, platform: platform,
        visited: &visited, result: &result, content: content)
    }
  }

  static let configTypes: Set<String> = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
  ]

  /// `os/arch[/variant]` from an image config.
  static func configPlatform(_ bytes: [UInt8]) -> String? {
    struct Config: Decodable {
      var os: String?
      var architecture: String?
      var variant: String?
    }
    guard let config = try? JSONDecoder().decode(Config.self, from: Data(bytes)),
      let os = config.os, let arch = config.architecture
    else { return nil }
    return "\(os)/\(arch)" + (config.variant.map { "/\($0)" } ?? "")
  }

  static func blobFile(_ digest: Digest) -> String {
    "blobs/\(digest.algorithm.rawValue)/\(digest.encoded)"
  }

  private static func invalidDigestReason(_ text: String) -> String {
    do {
      _ = try Digest(parsing: text)
      return "invalid digest"
    } catch {
      return error.description
    }
  }

  static func describe(_ error: any Error) -> String {
    switch error {
    case DecodingError.dataCorrupted(let context):
      return "not JSON: " + (context.underlyingError.map { "\($0)" } ?? context.debugDescription)
    case DecodingError.typeMismatch(let type, let context),
      DecodingError.valueNotFound(let type, let context):
      let path = context.codingPath.map(\.stringValue).joined(separator: ".")
      return DecodingErrorText.mismatch(expected: type, context: context)
        + " at \(path.isEmpty ? "top level" : path)"
    case DecodingError.keyNotFound(_, let context):
      let path = context.codingPath.map(\.stringValue).joined(separator: ".")
      return "\(context.debugDescription) at \(path.isEmpty ? "top level" : path)"
    default:
      return "\(error)"
    }
  }
}

/// The union of the index and manifest JSON shapes, each field optional.
private struct RawNode: Decodable {
  var manifests: [RawDescriptor]?
  var config: RawDescriptor?
  var layers: [RawDescriptor]?
  var blobs: [RawDescriptor]?
  var subject: RawDescriptor?
}

private struct RawDescriptor: Decodable {
  struct RawPlatform: Decodable {
    var os: String?
    var architecture: String?
    var variant: String?
    var osVersion: String?
    var osFeatures: [String]?

    enum CodingKeys: String, CodingKey {
      case os, architecture, variant
      case osVersion = "os.version"
      case osFeatures = "os.features"
    }
  }

  var mediaType: String?
  var digest: String?
  var size: Int64?
  var urls: [String]?
  var annotations: [String: String]?
  var platform: RawPlatform?
  var artifactType: String?

  var graphDescriptor: GraphDescriptor {
    let text = digest ?? ""
    let platformValue = platform.map { p in
      Platform(
        os: p.os ?? "unknown", architecture: p.architecture ?? "unknown", variant: p.variant,
        osVersion: p.osVersion, osFeatures: p.osFeatures)
    }
    return GraphDescriptor(
      mediaType: mediaType ?? "", digestText: text, digest: try? Digest(parsing: text),
      size: size.flatMap { $0 >= 0 ? $0 : nil }, platformValue: platformValue,
      artifactType: artifactType,
      annotations: annotations ?? [:], urls: urls ?? [])
  }
}
