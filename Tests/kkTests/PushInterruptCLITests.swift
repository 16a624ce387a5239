import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Ctrl-C (or TERM) during a push whose uploads are stuck: the push stops within seconds,
/// tags nothing, says so, and dies by the signal; the upload sessions it could cancel are
/// cancelled.
@Suite(.serialized) struct PushInterruptCLITests {
  @Test(arguments: [SIGINT, SIGTERM])
  func interruptedPushTagsNothingAndDiesByTheSignal(_ signalNumber: Int32) async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-push-int")
    defer { scratch.remove() }
    let images = try await TestImages.generate(into: scratch.path + "/layout", images: 3)
    try await withTestRegistry(.plain) { registry in
      // Every connection that has carried 100 kB from kk stops forwarding: the first large
      // uploads hang there, the small requests (sessions, DELETEs) go through.
      try await withScriptServer(
        "faultproxy.py", ["--upstream", registry.host, "--stall-after", "100000"],
        logDirectory: scratch.path
      ) { proxy in
        let process = Process()
        process.executableURL = URL(fileURLWithPath: KKBinary.path)
        process.arguments = [
          "artifact", "images", "push", "--images-dir", images.layout, "--registry", proxy.host,
          "--dest-tls-verify=false",
        ]
        let out = scratch.path + "/out"
        let err = scratch.path + "/err"
        FileManager.default.createFile(atPath: out, contents: nil)
        FileManager.default.createFile(atPath: err, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        for _ in 0..<600 where proxy.lines(startingWith: "STALL").isEmpty && process.isRunning {
          try await Task.sleep(for: .milliseconds(50))
        }
        try #require(process.isRunning, "the push ended before an upload stalled")
        kill(process.processIdentifier, signalNumber)
        // Aborted transfers notice within about a second; allow for a loaded machine.
        for _ in 0..<300 where process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        #expect(!process.isRunning, "the push did not stop")
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(process.terminationStatus == signalNumber)
        let stderr = try String(contentsOfFile: err, encoding: .utf8)
        let stdout = try String(contentsOfFile: out, encoding: .utf8)
        #expect(
          stderr.contains(
            "interrupted: the uploads in flight were cancelled and no image was tagged"),
          "\(stderr)")
        #expect(!stdout.contains("FAILED") && !stdout.contains("pushed "), "\(stdout)")
      }
      // No tag and no manifest reached the registry.
      try await registry.settledLog()
      let manifests = try registry.loggedRequests().filter {
        $0.method == "PUT" && $0.uri.contains("/manifests/")
      }
      #expect(manifests.isEmpty, "\(manifests)")
      // Every session left holds bytes received before the signal (docker-registry refuses a
      // DELETE of those with the client's stale session state); the others were deleted.
      for session in registry.leftoverUploadSessions() {
        let data = (try? FileManager.default.attributesOfItem(atPath: session + "/data"))?[.size]
        let startedAt = FileManager.default.fileExists(atPath: session + "/startedat")
        #expect(
          !startedAt || ((data as? Int) ?? 0) > 0, "session \(session) was neither used nor deleted"
        )
      }
    }
  }

  /// On a terminal the progress line is drawn (rewritten in place) while blobs upload, and
  /// cleared before the next message. `script` gives kk a pseudo-terminal.
  @Test func progressIsDrawnOnATerminal() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-push-tty")
    defer { scratch.remove() }
    let images = try await TestImages.generate(into: scratch.path + "/layout", images: 2)
    try await withTestRegistry(.plain) { registry in
      try await withScriptServer(
        "faultproxy.py", ["--upstream", registry.host, "--stall-after", "100000"],
        logDirectory: scratch.path
      ) { proxy in
        let typescript = scratch.path + "/typescript"
        let command = [
          "exec", KKBinary.path, "artifact", "images", "push", "--images-dir", images.layout,
          "--registry", proxy.host, "--dest-tls-verify=false",
        ].joined(separator: " ")
        let script = Process()
        script.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        script.arguments = ["-qfec", command, typescript]
        script.standardInput = FileHandle.nullDevice
        script.standardOutput = FileHandle.nullDevice
        script.standardError = FileHandle.nullDevice
        try script.run()
        defer { if script.isRunning { kill(script.processIdentifier, SIGKILL) } }
        // Stuck uploads, then more than one drawing period (250 ms).
        for _ in 0..<600 where proxy.lines(startingWith: "STALL").isEmpty && script.isRunning {
          try await Task.sleep(for: .milliseconds(50))
        }
        try await Task.sleep(for: .milliseconds(800))
        let children = try await ProcessRunner.checked(
          "pgrep", ["-P", "\(script.processIdentifier)"])
        let kk = try #require(Int32(children.stdout.split(separator: "\n").first ?? ""))
        kill(kk, SIGINT)
        for _ in 0..<300 where script.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        let text = try String(contentsOfFile: typescript, encoding: .utf8)
        let drawn = text.components(separatedBy: "\r\u{1B}[Kkk: push: ")
        #expect(drawn.count >= 3, "the progress line was not redrawn: \(text)")
        #expect(text.contains(" blobs  "), "\(text)")
        // Cleared, then the message on a line of its own.
        #expect(text.contains("\r\u{1B}[Kkk: error: interrupted"), "\(text)")
      }
    }
  }
}
