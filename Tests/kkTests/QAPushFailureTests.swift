import Foundation
import TestSupport
import Testing

/// What an operator sees on stderr when a push fails: the image that failed must be listed
/// with the reason (it used to be listed as "not attempted", the reason only on stdout); a
/// registry that cannot be reached or refuses the credentials is said once, before any blob.
@Suite(.serialized) struct QAPushFailureTests {
  /// The `reader` account of the token registry may pull, not push: the registry answers
  /// `/v2/`, then refuses each image's uploads.
  static let pullOnly = ["--dest-creds", TokenPolicy.reader.colonSeparated]

  @Test func failedImageIsListedWithItsReasonOnStderr() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-qa-push")
    defer { dir.remove() }
    let images = try await TestImages.generate(into: dir.path + "/gen", seed: "qa-push", images: 2)
    try await withTestRegistry(.token) { registry in
      let result = try await KKBinary.run(
        [
          "artifact", "images", "push", "--images-dir", images.layout, "--registry", registry.host,
          "--dest-tls-verify=false", "--parallel", "1",
        ] + Self.pullOnly)
      #expect(result.exitCode == 1, "\(result)")
      let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("kk: error:") }
      #expect(errors.count == images.images.count, "\(result.stderr)")
      let explained = errors.filter { $0.contains("denied") || $0.contains("unauthorized") }
      #expect(!explained.isEmpty, "no image on stderr names the cause:\n\(result.stderr)")
      #expect(
        errors.allSatisfy {
          $0.contains("denied") || $0.contains("unauthorized") || $0.contains("not attempted")
        })
    }
  }

  @Test func refusedCredentialsAreOneErrorBeforeAnyBlob() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-qa-creds")
    defer { dir.remove() }
    let images = try await TestImages.generate(into: dir.path + "/gen", seed: "qa-cred", images: 2)
    try await withTestRegistry(.tlsBasicAuth) { registry in
      let result = try await KKBinary.run([
        "artifact", "images", "push", "--images-dir", images.layout, "--registry", registry.host,
        "--dest-tls-verify=false", "--dest-creds", "nobody:wrong",
      ])
      #expect(result.exitCode == 1, "\(result)")
      let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("kk: error:") }
      #expect(errors.count == 1, "\(result.stderr)")
      #expect(errors.first?.contains("unauthorized") == true, "\(result.stderr)")
      #expect(errors.first?.contains("user name and password") == true, "\(result.stderr)")
      let log = try String(contentsOfFile: registry.logPath, encoding: .utf8)
      #expect(!log.contains("/blobs/"), "a blob request reached the registry")
    }
  }

  @Test func unreachableRegistryIsOneErrorNotOnePerBlob() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-qa-down")
    defer { dir.remove() }
    let images = try await TestImages.generate(into: dir.path + "/gen", seed: "qa-down", images: 2)
    // A port nothing listens on: bind one, note it, close it.
    let port = try await ProcessRunner.checked(
      "python3",
      [
        "-c",
        "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])",
      ]
    ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    let result = try await KKBinary.run([
      "artifact", "images", "push", "--images-dir", images.layout, "--registry",
      "127.0.0.1:\(port)", "--dest-tls-verify=false",
    ])
    #expect(result.exitCode == 1, "\(result)")
    let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("kk: error:") }
    #expect(errors.count == 1, "\(result.stderr)")
    #expect(errors.first?.contains("cannot reach 127.0.0.1:\(port)") == true, "\(result.stderr)")
    #expect(!result.stdout.contains("FAILED"), "\(result.stdout)")
  }

  /// A push from an archive that stops on a failure does not read the archive again: it
  /// used to log "pass 2 over FILE" and re-read every byte before reporting.
  @Test func stoppedArchivePushMakesNoFurtherPass() async throws {
    let dir = try TemporaryDirectory(prefix: "kk-qa-push-pass")
    defer { dir.remove() }
    let images = try await TestImages.generate(into: dir.path + "/gen", seed: "qa-pass", images: 2)
    // Roughly SPEC order (small JSON blobs before layers), so the plan completes in the
    // first pass and the failure happens there, with layers still to come.
    let archive = dir.path + "/layout.tar"
    let script = """
      import os, sys, tarfile
      root, out = sys.argv[1], sys.argv[2]
      blobs = sorted(os.listdir(root + '/blobs/sha256'),
                     key=lambda n: os.path.getsize(root + '/blobs/sha256/' + n))
      with tarfile.open(out, 'w') as t:
          for name in ['oci-layout', 'index.json'] + ['blobs/sha256/' + b for b in blobs]:
              t.add(root + '/' + name, name)
      """
    try await ProcessRunner.checked("python3", ["-c", script, images.layout, archive])
    try await withTestRegistry(.token) { registry in
      let result = try await KKBinary.run(
        [
          "artifact", "images", "push", "-a", archive, "--registry", registry.host,
          "--dest-tls-verify=false",
        ] + Self.pullOnly)
      #expect(result.exitCode == 1, "\(result)")
      #expect(result.stdout.contains("REFUSED"), "the push did not fail during the pass")
      #expect(
        result.stderr.contains("denied") || result.stderr.contains("unauthorized"),
        "\(result.stderr)")
      #expect(!result.stdout.contains("pass 2"), "\(result.stdout)")
    }
  }
}
