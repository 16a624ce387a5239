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
    try await withTestRegistry(.tlsBasicAuth) { registry in
      let result = try await KKBinary.run([
        "artifact", "images", "push", "-a", archive, "--registry", registry.host,
        "--dest-tls-verify=false", "--dest-creds", "nobody:wrong",
      ])
      #expect(result.exitCode == 1, "\(result)")
      #expect(result.stderr.contains("unauthorized"), "\(result.stderr)")
      #expect(!result.stdout.contains("pass 2"), "\(result.stdout)")
    }
  }
}
