import OCI
import Testing

@testable import Artifact

@Suite struct ModelArchTests {
  @Test(arguments: [
    ("amd64", Arch.amd64), ("x86_64", .amd64), ("x86-64", .amd64), ("aarch64", .arm64),
    ("arm64/v8", .arm64), ("arm/v7", .armV7), ("armhf", .armV7), ("armv7l", .armV7),
    ("ppc64le", .ppc64le), ("s390x", .s390x), ("riscv64", .riscv64),
  ])
  func aliasesNormalise(spelling: String, arch: Arch) {
    #expect(Arch(normalising: spelling) == arch)
    // Only the canonical spelling parses strictly.
    #expect((Arch(parsing: spelling) != nil) == (spelling == arch.rawValue))
  }

  @Test(arguments: ["x86", "i386", "AMD64", "arm/v6", "mips64le", ""])
  func unknownArchesAreRefused(spelling: String) {
    #expect(Arch(normalising: spelling) == nil)
  }

  @Test func platformsMatchWhatImageIndexesSay() throws {
    #expect(Arch.amd64.platform.description == "linux/amd64")
    #expect(Arch.armV7.platform.description == "linux/arm/v7")
    // An index entry written `arm64/v8` is the arm64 content.
    #expect(Arch.arm64.platform.matches(Platform(architecture: "arm64", variant: "v8")))
    #expect(!Arch.arm64.platform.matches(Platform(architecture: "arm", variant: "v7")))
    #expect(Arch.amd64.unameMachine == "x86_64" && Arch.arm64.unameMachine == "aarch64")
    #expect(Arch.allCases.sorted() == Arch.allCases)
    #expect(Arch.knownList == "amd64, arm64, arm/v7, ppc64le, s390x, riscv64")
  }
}
