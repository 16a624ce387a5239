import Foundation
import TestSupport
import Testing

/// `kk artifact verify` on a damaged layout (QA, session 2): it exited 1 with nothing on
/// stderr (the problems go to stdout with the report), so `verify >/dev/null` in a script was
/// silent, and the summary said "FAILED: 1 errors".
@Suite struct QA2VerifyVerdictTests {
  @Test func aFailedVerifyNamesItselfOnStderr() async throws {
    let scratch = try TemporaryDirectory(prefix: "kk-qa2-verify")
    defer { scratch.remove() }
    let layout = scratch.path + "/layout"
    let blob = Array("not what the digest says".utf8)
    let hex = String(repeating: "ab", count: 32)
    try FileManager.default.createDirectory(
      atPath: layout + "/blobs/sha256", withIntermediateDirectories: true)
    try Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8).write(
      to: URL(fileURLWithPath: layout + "/oci-layout"))
    try Data(blob).write(to: URL(fileURLWithPath: layout + "/blobs/sha256/" + hex))
    let index = """
      {"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[\
      {"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:\(hex)",\
      "size":\(blob.count),"annotations":{"org.opencontainers.image.ref.name":"x"}}]}
      """
    try Data(index.utf8).write(to: URL(fileURLWithPath: layout + "/index.json"))

    let result = try await KKBinary.run(["artifact", "verify", "-a", layout])
    #expect(result.exitCode == 1, "\(result)")
    #expect(result.stdout.contains(hex), "the blob is named with the report: \(result)")
    #expect(result.stdout.contains("result      FAILED: 1 error\n"), "\(result)")
    let stderr = result.stderr.split(separator: "\n")
    #expect(stderr.count == 1, "\(result)")
    #expect(stderr.first?.hasPrefix("kk: error: \(layout) failed verification: 1 error") == true)
  }
}
