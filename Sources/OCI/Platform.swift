/// The platform an image runs on: `linux/amd64`, `linux/arm/v7`, ...
///
/// Users, KubeKey manifests (`arches: [amd64, arm64]`) and image indexes spell the same platform
/// many ways (`x86_64`, `aarch64`, `armhf`, `arm64/v8`). Selecting the right child manifest from
/// an index, or filtering a bundle to some platforms, is only correct if both sides are brought
/// to one canonical spelling first; ``normalized()`` does that the way containerd's `platforms`
/// package does, so kk selects what `ctr`/`nerdctl` would.
public struct Platform: Hashable, Sendable, Codable, CustomStringConvertible {
  /// CPU architecture, GOARCH style: `amd64`, `arm64`, `arm`, `386`, `ppc64le`, `s390x`, ...
  public var architecture: String
  /// Operating system, GOOS style: `linux`, `windows`, ...
  public var os: String
  /// CPU variant: `v7` for arm, `v8` for arm64 (dropped by normalisation).
  public var variant: String?
  /// `os.version` (Windows builds).
  public var osVersion: String?
  /// `os.features` (Windows: `win32k`).
  public var osFeatures: [String]?

  /// A platform from parts, taken as given; call ``normalized()`` before comparing.
  public init(
    os: String = "linux", architecture: String, variant: String? = nil,
    osVersion: String? = nil, osFeatures: [String]? = nil
  ) {
    self.os = os
    self.architecture = architecture
    self.variant = variant
    self.osVersion = osVersion
    self.osFeatures = osFeatures
  }

  enum CodingKeys: String, CodingKey {
    case architecture, os, variant
    case osVersion = "os.version"
    case osFeatures = "os.features"
  }

  /// `os/architecture[/variant]`, e.g. `linux/arm/v7`: the spelling of `--platform` flags.
  public var description: String {
    var text = "\(os)/\(architecture)"
    if let variant, !variant.isEmpty { text += "/\(variant)" }
    return text
  }

  /// The platform kk itself runs on; the default when the user names only an OS.
  public static var host: Platform {
    #if arch(x86_64)
      return Platform(architecture: "amd64")
    #elseif arch(arm64)
      return Platform(architecture: "arm64")
    #elseif arch(arm)
      return Platform(architecture: "arm", variant: "v7")
    #elseif arch(i386)
      return Platform(architecture: "386")
    #elseif arch(s390x)
      return Platform(architecture: "s390x")
    #elseif arch(powerpc64le)
      return Platform(architecture: "ppc64le")
    #else
      return Platform(architecture: "unknown")
    #endif
  }

  /// Parses a platform specifier and normalises it.
  ///
  /// Accepted forms (as containerd's `platforms.Parse`): `os/arch/variant` (`linux/arm/v7`),
  /// `os/arch` (`linux/amd64`), a bare architecture (`arm64`, `x86_64`; OS `linux`) or a bare
  /// known OS (`linux`; architecture of the host). Each part must match `[A-Za-z0-9_.-]+`.
  public init(parsing specifier: String) throws(OCIError) {
    let parts = specifier.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    for part in parts {
      guard !part.isEmpty else {
        throw .invalidPlatform(
          specifier, reason: "empty component; expected os/arch[/variant] such as linux/arm64")
      }
      guard part.utf8.allSatisfy(Platform.isSpecifierByte) else {
        throw .invalidPlatform(
          specifier, reason: "'\(part)' may only contain letters, digits, '_', '-' and '.'")
      }
    }
    switch parts.count {
    case 1:
      let word = parts[0].lowercased()
      if Platform.knownOS.contains(Platform.normalizeOS(word)) {
        self = Platform.host
        os = Platform.normalizeOS(word)
      } else if Platform.knownArchitectures.contains(
        Platform.normalizeArchitecture(word, variant: nil).0)
      {
        self.init(architecture: word)
      } else {
        throw .invalidPlatform(
          specifier,
          reason:
            "'\(parts[0])' is neither a known OS nor a known architecture; use os/arch, e.g. linux/\(word)"
        )
      }
    case 2:
      self.init(os: parts[0], architecture: parts[1])
    case 3:
      self.init(os: parts[0], architecture: parts[1], variant: parts[2])
    default:
      throw .invalidPlatform(
        specifier, reason: "too many '/'; expected os/arch[/variant] such as linux/arm/v7")
    }
    self = normalized()
  }

  /// The canonical spelling (containerd's `platforms.Normalize`): lower case; `x86_64` and
  /// `x86-64` → `amd64`; `aarch64` → `arm64` with variant `v8` dropped; `armhf` → `arm/v7`;
  /// `armel` → `arm/v6`; `arm` without variant → `arm/v7`; `i386`/`i686` → `386`;
  /// `macos` → `darwin`. An empty variant becomes nil.
  public func normalized() -> Platform {
    var copy = self
    copy.os = Platform.normalizeOS(os.lowercased())
    let (arch, variant) = Platform.normalizeArchitecture(
      architecture.lowercased(), variant: variant?.lowercased())
    copy.architecture = arch
    copy.variant = variant
    return copy
  }

  /// Whether content for `candidate` (an index entry's platform) satisfies this requested
  /// platform: OS, architecture and variant are equal once both are normalised. `os.version`
  /// and `os.features` are not compared (kk targets Linux, where they are unused).
  public func matches(_ candidate: Platform) -> Bool {
    let want = normalized()
    let have = candidate.normalized()
    return want.os == have.os && want.architecture == have.architecture
      && want.variant == have.variant
  }

  // MARK: Normalisation tables

  static let knownOS: Set<String> = [
    "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux",
    "nacl", "netbsd", "openbsd", "plan9", "solaris", "windows", "zos",
  ]

  static let knownArchitectures: Set<String> = [
    "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le", "loong64",
    "mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc", "riscv", "riscv64",
    "s390", "s390x", "sparc", "sparc64", "wasm",
  ]

  static func isSpecifierByte(_ byte: UInt8) -> Bool {
    (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a)
      || (byte >= 0x61 && byte <= 0x7a)
      || byte == 0x5f || byte == 0x2d || byte == 0x2e
  }

  static func normalizeOS(_ os: String) -> String {
    os == "macos" ? "darwin" : os
  }

  /// `(architecture, variant)` in canonical form; both inputs already lower-cased.
  static func normalizeArchitecture(_ arch: String, variant: String?) -> (String, String?) {
    let variant = (variant?.isEmpty ?? true) ? nil : variant
    switch arch {
    case "i386", "i486", "i586", "i686", "x86", "386":
      return ("386", nil)
    case "x86_64", "x86-64", "amd64":
      return ("amd64", variant == "v1" ? nil : variant)
    case "aarch64", "arm64":
      switch variant {
      case "8", "v8", "v8.0": return ("arm64", nil)
      case "9", "9.0", "v9.0": return ("arm64", "v9")
      default: return ("arm64", variant)
      }
    case "armhf":
      return ("arm", "v7")
    case "armel":
      return ("arm", "v6")
    case "arm":
      switch variant {
      case nil, "7": return ("arm", "v7")
      case "5", "6", "8": return ("arm", "v" + (variant ?? ""))
      default: return ("arm", variant)
      }
    default:
      return (arch, variant)
    }
  }
}
