import Foundation
import OCI
import Testing

@testable import Blobstore

/// The unreferenced-blob warning used to say "`gc` removes it", a command kk does not have.
@Suite struct QAVerifyMessageTests {
  @Test func unreferencedBlobWarningNamesNoMissingCommand() throws {
    let fixture = try LayoutFixture()
    defer { fixture.dir.remove() }
    let bytes = Array("left over\n".utf8)
    let digest = SHA256Hasher.digest(bytes)
    try Data(bytes).write(to: URL(fileURLWithPath: fixture.store.path(for: digest)))
    let report = try fixture.store.verify()
    #expect(report.isValid)
    let warning = try #require(
      report.problems.map(\.description).first { $0.contains(digest.encoded) })
    #expect(warning.contains("unreferenced"), "\(warning)")
    #expect(!warning.contains("`gc`"), "\(warning)")
  }
}
