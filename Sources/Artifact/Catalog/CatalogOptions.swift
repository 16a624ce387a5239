/// Where the catalog's download URLs point: upstream, KubeKey's China mirrors, or a mirror
/// of the user's own.
///
/// A plain value built at the command edge (``init(environment:mirrorFlag:)``) and passed
/// down: the catalog never reads the environment itself, so a plan is a pure function of the
/// manifest and these options and tests need no process-wide state.
public struct CatalogOptions: Hashable, Sendable {
  /// KubeKey's `KKZONE`.
  public enum Zone: String, Hashable, Sendable, CaseIterable {
    /// Upstream project URLs (GitHub, dl.k8s.io, get.helm.sh, download.docker.com).
    case `default`
    /// `KKZONE=cn`: KubeKey's qingstor / aliyun copies.
    case cn
  }

  public var zone: Zone
  /// `--download-mirror` / `KK_DOWNLOAD_MIRROR`, without trailing `/`: every catalog URL
  /// becomes `<mirror>/<host>/<path>` of its default (non-cn) URL. Wins over ``zone``.
  public private(set) var mirror: String?

  /// Upstream or cn URLs, no mirror.
  public init(zone: Zone = .default) {
    self.zone = zone
    self.mirror = nil
  }

  /// - Throws: ``CatalogError/invalidMirror(_:reason:)`` when `mirror` is not an
  ///   `http://` or `https://` URL with a host.
  public init(zone: Zone = .default, mirror: String?) throws(CatalogError) {
    self.zone = zone
    self.mirror = try mirror.map(Self.checkedMirror)
  }

  /// The options a command run implies: `KKZONE=cn` (any case) selects ``Zone/cn``; the
  /// `--download-mirror` flag, else `KK_DOWNLOAD_MIRROR`, sets the mirror. An empty value
  /// counts as unset, so `KK_DOWNLOAD_MIRROR= kk ...` turns an exported mirror off.
  public init(environment: [String: String], mirrorFlag: String? = nil) throws(CatalogError) {
    let zone: Zone = environment["KKZONE"]?.lowercased() == "cn" ? .cn : .default
    let mirror = [mirrorFlag, environment["KK_DOWNLOAD_MIRROR"]]
      .compactMap { $0 }.first { !$0.isEmpty }
    try self.init(zone: zone, mirror: mirror)
  }

  /// The URL to fetch, given a component's default URL and its cn URL (if KubeKey has one).
  public func resolve(defaultURL: String, cnURL: String?) -> String {
    if let mirror { return Self.mirrored(defaultURL, under: mirror) }
    if zone == .cn, let cnURL { return cnURL }
    return defaultURL
  }

  /// `https://dl.k8s.io/release/v1.22.12/...` under `http://m:8080/k` →
  /// `http://m:8080/k/dl.k8s.io/release/v1.22.12/...`. The scheme is dropped; host (with
  /// its port, if any), path and query are kept, so one mirror can serve every upstream host.
  public static func mirrored(_ url: String, under mirror: String) -> String {
    var rest = Substring(url)
    if let range = rest.range(of: "://") { rest = rest[range.upperBound...] }
    return mirror + "/" + rest
  }

  private static func checkedMirror(_ value: String) throws(CatalogError) -> String {
    var trimmed = Substring(value)
    while trimmed.last == "/" { trimmed = trimmed.dropLast() }
    let lower = trimmed.lowercased()
    guard let schemeEnd = lower.range(of: "://"),
      ["http", "https"].contains(String(lower[..<schemeEnd.lowerBound]))
    else {
      throw .invalidMirror(value, reason: "it must start with http:// or https://")
    }
    let host = lower[schemeEnd.upperBound...].prefix { $0 != "/" }
    guard !host.isEmpty else {
      throw .invalidMirror(value, reason: "it has no host name")
    }
    guard !trimmed.contains(where: { $0 == "?" || $0 == "#" || $0.isWhitespace }) else {
      throw .invalidMirror(value, reason: "it must not contain '?', '#' or spaces")
    }
    return String(trimmed)
  }
}
