/// The directory holding a path, spelt out instead of `NSString.deletingLastPathComponent`:
/// on Linux, Foundation (swift-corelibs, Swift 6.3) traps on a one-character relative path
/// ("W", "a/"), which crashed `kk artifact import --dir W`.
///
/// `a/b` → `a`, `a` → `.`, `/a` → `/`, `a/b/` → `a`, `` → `.`.
public func parentDirectory(of path: String) -> String {
  var trimmed = Substring(path)
  while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
  guard let slash = trimmed.lastIndex(of: "/") else { return "." }
  if slash == trimmed.startIndex { return "/" }
  return String(trimmed[..<slash])
}
