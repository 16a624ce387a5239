import Foundation
import Testing

@testable import OCI

@Suite struct PlatformTests {
  /// specifier → canonical description, after parsing and normalising.
  static let table: [(String, String)] = [
    ("linux/amd64", "linux/amd64"),
    ("linux/x86_64", "linux/amd64"),
    ("linux/x86-64", "linux/amd64"),
    ("linux/amd64/v1", "linux/amd64"),
    ("linux/amd64/v3", "linux/amd64/v3"),
    ("linux/aarch64", "linux/arm64"),
    ("linux/arm64/v8", "linux/arm64"),
    ("linux/aarch64/v8", "linux/arm64"),
    ("linux/arm64/8", "linux/arm64"),
    ("linux/arm64/v9.0", "linux/arm64/v9"),
    ("linux/armhf", "linux/arm/v7"),
    ("linux/armel", "linux/arm/v6"),
    ("linux/arm", "linux/arm/v7"),
    ("linux/arm/7", "linux/arm/v7"),
    ("linux/arm/v7", "linux/arm/v7"),
    ("linux/arm/v6", "linux/arm/v6"),
    ("linux/arm/5", "linux/arm/v5"),
    ("linux/i386", "linux/386"),
    ("linux/i686", "linux/386"),
    ("Linux/AMD64", "linux/amd64"),
    ("macos/arm64", "darwin/arm64"),
    ("linux/ppc64le", "linux/ppc64le"),
    ("linux/s390x", "linux/s390x"),
    ("linux/riscv64", "linux/riscv64"),
    ("windows/amd64", "windows/amd64"),
    ("arm64", "linux/arm64"),
    ("amd64", "linux/amd64"),
    ("x86_64", "linux/amd64"),
    ("aarch64", "linux/arm64"),
    ("armhf", "linux/arm/v7"),
  ]

  @Test(arguments: table)
  func normalises(_ specifier: String, _ expected: String) throws {
    #expect(try Platform(parsing: specifier).description == expected)
  }

  @Test func bareOSTakesHostArchitecture() throws {
    let platform = try Platform(parsing: "linux")
    #expect(platform.os == "linux")
    #expect(platform.architecture == Platform.host.architecture)
  }

  @Test(arguments: [
    "", "linux/", "/amd64", "linux/amd64/v7/x", "linux/amd 64", "linux/*", "notanarch",
  ])
  func rejects(_ specifier: String) {
    #expect(throws: OCIError.self) { try Platform(parsing: specifier) }
  }

  @Test func matchesAcrossSpellings() throws {
    let request = try Platform(parsing: "linux/arm64")
    #expect(request.matches(Platform(architecture: "arm64", variant: "v8")))
    #expect(request.matches(Platform(architecture: "aarch64")))
    #expect(!request.matches(Platform(architecture: "arm", variant: "v7")))
    #expect(!request.matches(Platform(os: "windows", architecture: "arm64")))

    let arm = try Platform(parsing: "linux/arm")
    #expect(arm.matches(Platform(architecture: "arm", variant: "v7")))
    #expect(arm.matches(Platform(architecture: "arm")))
    #expect(!arm.matches(Platform(architecture: "arm", variant: "v6")))

    let amd64 = Platform(architecture: "amd64")
    #expect(amd64.matches(Platform(architecture: "x86_64")))
    #expect(!amd64.matches(Platform(architecture: "unknown", variant: nil)))
  }

  @Test func decodesOSVersionAndFeatures() throws {
    let json =
      #"{"architecture":"amd64","os":"windows","os.version":"10.0.17763","os.features":["win32k"],"features":["sse4"]}"#
    let platform = try JSONDecoder().decode(Platform.self, from: json.data)
    #expect(platform.osVersion == "10.0.17763")
    #expect(platform.osFeatures == ["win32k"])
    let encoded = try JSONEncoder.sorted.encode(platform)
    #expect(
      String(decoding: encoded, as: UTF8.self)
        == #"{"architecture":"amd64","os":"windows","os.features":["win32k"],"os.version":"10.0.17763"}"#
    )
  }

  @Test func descriptionOmitsEmptyVariant() {
    #expect(Platform(architecture: "amd64", variant: "").description == "linux/amd64")
  }
}
