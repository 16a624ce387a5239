import Foundation
import TestSupport
import Testing

/// A registry that takes the request but never answers (a hung storage backend): the push
/// gives each stuck blob one retry after `--stall-timeout`, then fails naming the registry,
/// instead of five tries of a minute each per blob.
@Suite(.serialized) struct PushStallCLITests {
  @Test func aHungRegistryFailsInBoundedTimeNamingIt() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-push-stall")
    defer { scratch.remove() }
    let images = try await TestImages.generate(into: scratch.path + "/layout", images: 2)
    try await withTestRegistry(.plain) { registry in
      try await withScriptServer(
        "faultproxy.py", ["--upstream", registry.host, "--stall-after", "100000"],
        logDirectory: scratch.path
      ) { proxy in
        let started = Date()
        let result = try await KKBinary.run(
          [
            "artifact", "images", "push", "--images-dir", images.layout, "--registry",
            proxy.host, "--dest-tls-verify=false", "--stall-timeout", "2", "--parallel", "2",
          ], timeout: .seconds(120))
        let seconds = Date().timeIntervalSince(started)
        #expect(result.exitCode == 1, "\(result)")
        #expect(
          result.stderr.contains("\(proxy.host) stopped answering"), "\(result.stderr)")
        #expect(result.stderr.contains("after 2 attempt(s)"), "\(result.stderr)")
        // Two 2 s stalls and a backoff per stuck blob, not 5 x 60 s: well under a minute.
        #expect(seconds < 60, "took \(seconds) s")
      }
    }
  }

  /// On a terminal, a push waiting on a registry that does not answer says so instead of a
  /// falling rate and an ETA of 0 s (after half the stall timeout, at most 15 s).
  @Test func theProgressLineSaysWhenNothingMoves() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-push-stall-tty")
    defer { scratch.remove() }
    let images = try await TestImages.generate(into: scratch.path + "/layout", images: 1)
    try await withTestRegistry(.plain) { registry in
      try await withScriptServer(
        "faultproxy.py", ["--upstream", registry.host, "--stall-after", "100000"],
        logDirectory: scratch.path
      ) { proxy in
        let typescript = scratch.path + "/typescript"
        let command = [
          "exec", KKBinary.path, "artifact", "images", "push", "--images-dir", images.layout,
          "--registry", proxy.host, "--dest-tls-verify=false", "--stall-timeout", "6",
        ].joined(separator: " ")
        let result = try await ProcessRunner.run(
          "/usr/bin/script", ["-qfec", command, typescript], timeout: .seconds(120))
        #expect(result.exitCode == 1, "\(result)")
        let text = try String(contentsOfFile: typescript, encoding: .utf8)
        #expect(text.contains("no progress for 3 s (waiting on the registry)"), "\(text)")
        #expect(text.contains("stopped answering"), "\(text)")
      }
    }
  }
}
