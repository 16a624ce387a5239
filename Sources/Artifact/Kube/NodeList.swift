import Foundation

/// The parts of a Kubernetes `v1.NodeList` that describe what a cluster runs.
///
/// Only the fields `kk create manifest` reads are decoded, each optional: a kubelet of any
/// version, or a stand-in that leaves a field out, must never make the whole list unreadable.
public struct KubeNodeList: Decodable, Sendable {
  public var items: [KubeNode]
  /// `metadata.continue`: the token for the next page, empty or absent on the last one.
  public var continueToken: String?
  /// `kind`: `NodeList`, or absent in a trimmed answer; anything else is not a node list.
  public var kind: String?

  public init(items: [KubeNode], continueToken: String? = nil) {
    self.items = items
    self.continueToken = continueToken
  }

  enum CodingKeys: String, CodingKey { case items, metadata, kind }
  struct ListMeta: Decodable {
    var `continue`: String?
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    items = try container.decodeIfPresent([KubeNode].self, forKey: .items) ?? []
    continueToken = try container.decodeIfPresent(ListMeta.self, forKey: .metadata)?.continue
    kind = try container.decodeIfPresent(String.self, forKey: .kind)
  }

  /// Decodes a NodeList JSON document (one page of `GET /api/v1/nodes`).
  public static func decode(_ bytes: [UInt8]) throws -> KubeNodeList {
    try JSONDecoder().decode(KubeNodeList.self, from: Data(bytes))
  }
}

/// One `v1.Node`: its name and what its kubelet reports.
public struct KubeNode: Decodable, Sendable {
  public var name: String
  public var nodeInfo: NodeInfo
  public var images: [ContainerImage]

  public init(name: String, nodeInfo: NodeInfo, images: [ContainerImage] = []) {
    self.name = name
    self.nodeInfo = nodeInfo
    self.images = images
  }

  /// `status.nodeInfo`.
  public struct NodeInfo: Decodable, Sendable {
    public var architecture: String?
    public var containerRuntimeVersion: String?
    public var kubeletVersion: String?
    public var operatingSystem: String?
    public var osImage: String?

    public init(
      architecture: String? = nil, containerRuntimeVersion: String? = nil,
      kubeletVersion: String? = nil, operatingSystem: String? = nil, osImage: String? = nil
    ) {
      self.architecture = architecture
      self.containerRuntimeVersion = containerRuntimeVersion
      self.kubeletVersion = kubeletVersion
      self.operatingSystem = operatingSystem
      self.osImage = osImage
    }
  }

  /// `status.images[]`: every name the runtime knows one image by (tags and repo digests).
  public struct ContainerImage: Decodable, Sendable {
    public var names: [String]

    public init(names: [String]) { self.names = names }

    enum CodingKeys: String, CodingKey { case names }
    public init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      names = try container.decodeIfPresent([String].self, forKey: .names) ?? []
    }
  }

  enum CodingKeys: String, CodingKey { case metadata, status }
  struct Meta: Decodable { var name: String? }
  struct Status: Decodable {
    var nodeInfo: NodeInfo?
    var images: [ContainerImage]?
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    name = try container.decodeIfPresent(Meta.self, forKey: .metadata)?.name ?? "<unnamed>"
    let status = try container.decodeIfPresent(Status.self, forKey: .status)
    nodeInfo = status?.nodeInfo ?? NodeInfo()
    images = status?.images ?? []
  }
}
