/// Why the catalog cannot plan an export, phrased so the user knows what to change.
public enum CatalogError: Error, Hashable, Sendable, CustomStringConvertible {
  /// Files whose sha256 nobody knows: not in the manifest, not in the table, and the project
  /// publishes no `.sha256`. KubeKey said "No SHA256 found for docker. 20.10.8 is not
  /// supported" and stopped; we list every such file with the manifest field that fixes it.
  case missingChecksums([MissingChecksum])
  /// ISO `localPath`s that are not readable files, each message placed at its field.
  case unusableLocalFiles([String])
  /// `--download-mirror` / `KK_DOWNLOAD_MIRROR` is not a usable base URL.
  case invalidMirror(String, reason: String)
  /// The manifest lists no Kubernetes distribution type the catalog knows how to fetch.
  case unsupportedDistribution(String)
  /// A line of a checksum table could not be read (a defect in the generated table).
  case invalidChecksumTable(line: Int, reason: String)

  public var description: String {
    switch self {
    case .missingChecksums(let missing):
      return missing.map(\.description).joined(separator: "\n")
    case .unusableLocalFiles(let problems):
      return problems.joined(separator: "\n")
    case .invalidMirror(let value, let reason):
      return "download mirror '\(value)' is not usable: \(reason) "
        + "(example: --download-mirror https://mirror.example.com/kk)"
    case .unsupportedDistribution(let kind):
      return "kubernetes distribution type '\(kind)' has no downloadable binaries in the catalog"
    case .invalidChecksumTable(let line, let reason):
      return "checksum table line \(line): \(reason)"
    }
  }
}

/// One file the catalog refuses to fetch because nothing vouches for its bytes.
public struct MissingChecksum: Hashable, Sendable, CustomStringConvertible {
  /// Catalog id (`docker`) or OS id for an ISO.
  public var component: String
  public var version: String
  public var arch: Arch
  /// The manifest field that would fix it: `spec.components.containerRuntimes[0].sha256.amd64`.
  public var field: String
  /// Where to add it, when the manifest text was given: its file name and the position of the
  /// nearest existing node on the field's path.
  public var location: SourceLocation?
  /// Versions the embedded table does know, as a hint (empty for ISOs).
  public var knownVersions: [String]

  /// A `file:line:column` place in the manifest text.
  public struct SourceLocation: Hashable, Sendable {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
      self.file = file
      self.line = line
      self.column = column
    }
  }

  public init(
    component: String, version: String, arch: Arch, field: String,
    location: SourceLocation? = nil, knownVersions: [String] = []
  ) {
    self.component = component
    self.version = version
    self.arch = arch
    self.field = field
    self.location = location
    self.knownVersions = knownVersions
  }

  /// `manifest.yaml:14:5: no sha256 known for docker 20.10.99 (amd64): add
  /// spec.components.containerRuntimes[0].sha256.amd64 (known versions: 24.0.6, 24.0.9)`.
  public var description: String {
    var text = ""
    if let location { text = "\(location.file):\(location.line):\(location.column): " }
    text += "no sha256 known for \(component) \(version) (\(arch)): add \(field)"
    if !knownVersions.isEmpty {
      text += ", or use a version with a built-in checksum: "
      text += knownVersions.suffix(6).joined(separator: ", ")
    }
    return text
  }
}
