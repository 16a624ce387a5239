import Foundation
import TestSupport
import Testing

/// `kk artifact images push --json`: stdout is one JSON object a script can read (SPEC 5.2),
/// the per-image lines go to stderr, the exit code is unchanged.
@Suite struct PushJSONCLITests {
  static func object(_ output: ProcessOutput) throws -> [String: Any] {
    let parsed = try JSONSerialization.jsonObject(with: output.stdoutData)
    return try #require(parsed as? [String: Any], "stdout is not one JSON object: \(output)")
  }

  @Test func summaryIsJSONOnStdoutForSuccessAndFailure() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-push-json")
    defer { scratch.remove() }
    let images = try await TestImages.generate(into: scratch.path + "/layout", images: 2)
    try await withTestRegistry(.plain) { registry in
      let arguments = [
        "artifact", "images", "push", "--images-dir", images.layout, "--registry", registry.host,
        "--dest-tls-verify=false", "--json",
      ]
      let first = try await KKBinary.run(arguments)
      #expect(first.exitCode == 0, "\(first)")
      let summary = try Self.object(first)
      #expect(
        Set(summary.keys)
          == [
            "registry", "succeeded", "pushed", "failed", "blobs", "manifests", "bytesSent",
            "seconds", "projects",
          ])
      #expect(summary["registry"] as? String == registry.host)
      #expect(summary["succeeded"] as? Bool == true)
      let expected = images.refs.map { "\(registry.host)/\($0)" }.sorted()
      #expect(summary["pushed"] as? [String] == expected)
      #expect((summary["failed"] as? [Any])?.isEmpty == true)
      #expect(summary["projects"] is NSNull)
      let blobs = try #require(summary["blobs"] as? [String: Int])
      #expect((blobs["uploaded"] ?? 0) > 0 && blobs["present"] == 0)
      #expect((summary["bytesSent"] as? Int ?? 0) > 0)
      // The per-image lines went to stderr.
      #expect(first.stderr.contains("pushed "), "\(first.stderr)")

      let again = try Self.object(try await KKBinary.run(arguments))
      #expect(again["bytesSent"] as? Int == 0)
      #expect((again["blobs"] as? [String: Int])?["uploaded"] == 0)
    }
    try await withTestRegistry(.token) { registry in
      // A pull-only account: every image fails; the JSON lists each with its reason.
      let refused = try await KKBinary.run([
        "artifact", "images", "push", "--images-dir", images.layout, "--registry", registry.host,
        "--dest-tls-verify=false", "--json", "--continue-on-error", "--dest-creds",
        TokenPolicy.reader.colonSeparated,
      ])
      // Every image failed: not a partial success, so 1 even with --continue-on-error.
      #expect(refused.exitCode == 1, "\(refused)")
      let summary = try Self.object(refused)
      #expect(summary["succeeded"] as? Bool == false)
      let failed = try #require(summary["failed"] as? [[String: String]])
      #expect(failed.count == images.images.count, "\(failed)")
      #expect(failed.allSatisfy { !($0["reason"] ?? "").isEmpty && $0["image"] != nil })
    }
  }
}
