import Foundation
import TestSupport
import Testing

/// What an operator sees on stderr when a push fails: the image that failed must be listed
/// with the reason (it used to be listed as "not attempted", the reason only on stdout).
@Suite(.serialized) struct QAPushFailureTests {
  @Test func failedImageIsListedWithItsReasonOnStderr() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-qa-push")
    defer { dir.remove() }
    let images = try await TestImages.generate(into: dir.path + "/gen", seed: "qa-push", images: 2)
    try await withTestRegistry(.tlsBasicAuth) { registry in
      let result = try await KKBinary.run([
        "artifact", "images", "push", "--images-dir", images.layout, "--registry", registry.host,
        "--dest-tls-verify=false", "--dest-creds", "nobody:wrong", "--parallel", "1",
      ])
      #expect(result.exitCode == 1, "\(result)")
      let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("kk: error:") }
      #expect(errors.count == images.images.count, "\(result.stderr)")
      let explained = errors.filter { $0.contains("unauthorized") }
      #expect(!explained.isEmpty, "no image on stderr names the cause:\n\(result.stderr)")
      #expect(errors.allSatisfy { $0.contains("unauthorized") || $0.contains("not attempted") })
    }
  }
}
