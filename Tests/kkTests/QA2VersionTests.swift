import TestSupport
import Testing

/// `kk --version` printed only `0.1.0` while `kk version` printed the full line (QA, session 2).
@Suite struct QA2VersionTests {
  @Test func versionFlagAndCommandAgree() async throws {
    let flag = try await KKBinary.run(["--version"])
    let command = try await KKBinary.run(["version"])
    #expect(flag.exitCode == 0)
    #expect(command.exitCode == 0)
    #expect(flag.stdout == command.stdout)
    #expect(flag.stdout.hasPrefix("kk ") && flag.stdout.contains("(artifact format "))
  }
}
