/// Maps a kubelet's `osImage` (the `PRETTY_NAME` of the node's os-release) to the `id` and
/// `version` KubeKey names OS package repositories by.
///
/// KubeKey knew Ubuntu and CentOS and left the version blank for everything else; a blank
/// version does not parse, so here every distribution a KubeKey cluster commonly runs on is
/// mapped, and anything else is reported instead of written half-filled.
public enum OSImageMapping {
  /// `(id, version)` for `osImage`, or nil when the distribution or its version is not
  /// recognised.
  ///
  /// Ubuntu keeps `major.minor` (`20.04.3 LTS` → `20.04`: repositories are per release);
  /// the RHEL family and Debian keep the major version (`8.7` → `8`, `11` from
  /// `Debian GNU/Linux 11 (bullseye)`), because their package repositories are per major
  /// release; openEuler and Kylin keep their version token as printed (`22.03`, `V10`).
  public static func map(_ osImage: String) -> (id: String, version: String)? {
    let words = osImage.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    let lower = osImage.lowercased()
    let numeric = words.first { $0.first?.isNumber == true }
    func major(_ token: String?) -> String? {
      guard let token, let head = token.split(separator: ".").first, !head.isEmpty,
        head.allSatisfy(\.isNumber)
      else { return nil }
      return String(head)
    }
    func majorMinor(_ token: String?) -> String? {
      guard let token else { return nil }
      let parts = token.split(separator: ".").prefix(2)
      guard !parts.isEmpty, parts.allSatisfy({ $0.allSatisfy(\.isNumber) }) else { return nil }
      return parts.joined(separator: ".")
    }
    let found: (String, String?)
    // CoreOS / Flatcar images are immutable: no package repository to bundle ("Red Hat
    // Enterprise Linux CoreOS 414.92..." is not RHEL 414).
    if lower.contains("coreos") || lower.hasPrefix("flatcar") { return nil }
    if lower.hasPrefix("ubuntu") {
      found = ("ubuntu", majorMinor(numeric))
    } else if lower.hasPrefix("centos") {
      found = ("centos", major(numeric))
    } else if lower.hasPrefix("debian") {
      found = ("debian", major(numeric))
    } else if lower.hasPrefix("red hat enterprise linux") || lower.hasPrefix("rhel") {
      found = ("rhel", major(numeric))
    } else if lower.hasPrefix("rocky") {
      found = ("rocky", major(numeric))
    } else if lower.hasPrefix("almalinux") {
      found = ("almalinux", major(numeric))
    } else if lower.hasPrefix("openeuler") {
      found = ("openEuler", majorMinor(numeric))
    } else if lower.hasPrefix("kylin") {
      let token = words.first {
        $0.count > 1 && ($0.first == "V" || $0.first == "v")
          && $0.dropFirst().allSatisfy(\.isNumber)
      }
      found = ("kylin", token ?? numeric)
    } else {
      return nil
    }
    guard let version = found.1, !version.isEmpty else { return nil }
    return (found.0, version)
  }
}
