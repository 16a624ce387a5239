import Testing

@testable import Artifact

/// `parentDirectory(of:)` replaces `NSString.deletingLastPathComponent`, which traps on a
/// one-character relative path on Linux (`kk artifact import --dir W` crashed).
@Suite struct ParentDirectoryTests {
  @Test(arguments: [
    ("W", "."), ("a/", "."), ("", "."), ("x.tar.gz", "."), ("W/x", "W"), ("a/b/c", "a/b"),
    ("a/b/", "a"), ("/a", "/"), ("/", "/"), ("/a/b", "/a"), ("./W", "."),
  ])
  func parents(_ path: String, _ parent: String) {
    #expect(parentDirectory(of: path) == parent, "\(path)")
  }
}
