import OCI

/// A CPU architecture a bundle is built for, in the OCI/Go spelling (`GOARCH[/variant]`).
///
/// KubeKey only knew `amd64` and `arm64`; we accept every architecture Kubernetes ships
/// binaries and images for, so a manifest can describe mixed clusters. The spelling is the one
/// image indexes use (`arm/v7`), which is also the path segment KubeKey used for binaries.
public enum Arch: String, CaseIterable, Hashable, Sendable, Comparable, CustomStringConvertible {
  case amd64
  case arm64
  case armV7 = "arm/v7"
  case ppc64le
  case s390x
  case riscv64

  /// Parses the canonical spelling only; see ``init(normalising:)`` for aliases.
  public init?(parsing string: String) {
    self.init(rawValue: string)
  }

  /// The canonical arch for `string`, accepting the `uname -m` spellings people paste from
  /// their nodes (`x86_64`, `aarch64`, `armv7l`) and `arm` for `arm/v7`.
  ///
  /// Decision: aliases are accepted and normalised (with a warning from the manifest parser)
  /// rather than refused, because they are unambiguous and the canonical form is what we
  /// write back; refusing them would only make the user retype what we already understood.
  public init?(normalising string: String) {
    if let arch = Arch(rawValue: string) {
      self = arch
      return
    }
    switch string {
    case "x86_64", "x86-64", "x64": self = .amd64
    case "aarch64", "arm64/v8": self = .arm64
    case "armv7l", "armv7", "arm", "armhf": self = .armV7
    default: return nil
    }
  }

  /// The OCI platform `architecture` (`arm` for `arm/v7`).
  public var architecture: String {
    self == .armV7 ? "arm" : rawValue
  }

  /// The OCI platform `variant`, when the architecture has one.
  public var variant: String? {
    self == .armV7 ? "v7" : nil
  }

  /// The Linux platform this arch selects from an image index (`linux/arm/v7`).
  public var platform: Platform {
    Platform(os: "linux", architecture: architecture, variant: variant)
  }

  /// `uname -m` spelling, which some upstream download URLs use (KubeKey's `%A`).
  public var unameMachine: String {
    switch self {
    case .amd64: return "x86_64"
    case .arm64: return "aarch64"
    case .armV7: return "armv7"
    case .ppc64le, .s390x, .riscv64: return rawValue
    }
  }

  public var description: String { rawValue }

  /// The known arches, comma separated, for error messages.
  public static var knownList: String {
    allCases.map(\.rawValue).joined(separator: ", ")
  }

  public static func < (lhs: Arch, rhs: Arch) -> Bool {
    // Declaration order: the common arches first, as KubeKey lists them.
    (allCases.firstIndex(of: lhs) ?? 0) < (allCases.firstIndex(of: rhs) ?? 0)
  }
}
