/// The safety rules for names inside an artifact archive, shared by reader and writer.
///
/// A reader must never be talked into touching a path outside its target, and a writer must
/// never produce an archive our own reader would refuse, so both go through this one check.
enum EntryName {
  /// Returns the canonical relative name (`./` and `.` components removed, no trailing `/`),
  /// or the reason the name is refused.
  static func normalize(_ raw: String) -> Result<String, Refusal> {
    if raw.isEmpty { return .failure(Refusal("the name is empty")) }
    if raw.hasPrefix("/") { return .failure(Refusal("absolute paths are not allowed")) }
    if raw.utf8.contains(0) { return .failure(Refusal("the name contains a NUL byte")) }
    if raw.contains("\\") { return .failure(Refusal("backslashes are not allowed in names")) }
    var parts: [Substring] = []
    for part in raw.split(separator: "/", omittingEmptySubsequences: true) {
      if part == "." { continue }
      if part == ".." { return .failure(Refusal("'..' components are not allowed")) }
      parts.append(part)
    }
    if parts.isEmpty { return .failure(Refusal("the name has no path component")) }
    return .success(parts.joined(separator: "/"))
  }

  /// The directory of a layout that is not at the archive's root: `lay-oci` for
  /// `lay-oci/index.json` (`tar czf x.tgz lay-oci` instead of `tar -C lay-oci`), `images`
  /// for a tarball of Go KubeKey 3.x's work dir. nil for any other name.
  static func nestedLayoutDirectory(_ name: String) -> String? {
    for leaf in ["/index.json", "/oci-layout"] where name.hasSuffix(leaf) {
      let directory = String(name.dropLast(leaf.count))
      if !directory.isEmpty && !directory.hasPrefix("blobs/") { return directory }
    }
    return nil
  }

  /// What to say of an archive with no layout at its root but one in `directory`.
  static func misplacedLayout(path: String, directory: String) -> ArchiveError {
    directory == "images"
      ? .kubekeyWorkDir(path: path) : .nestedLayout(path: path, directory: directory)
  }

  struct Refusal: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
  }
}
