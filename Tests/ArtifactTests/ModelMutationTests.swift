import Foundation
import Testing

@testable import Artifact

/// Over a thousand small corruptions of the real fixtures: the parser must never crash, every
/// refusal must point inside the file, and whatever is accepted must encode and read back
/// to the same manifest.
@Suite struct ModelMutationTests {
  /// A fixed-seed generator, so a failure reproduces.
  struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
  }

  static let alphabet = Array(":-[]{}#'\"\t\n ,&*!|>?%@`aZ9.")

  static func mutate(_ text: String, using rng: inout SplitMix) -> String {
    var chars = Array(text)
    guard !chars.isEmpty else { return text }
    let at = Int.random(in: 0..<chars.count, using: &rng)
    switch Int.random(in: 0..<4, using: &rng) {
    case 0: chars.remove(at: at)
    case 1: chars.insert(alphabet.randomElement(using: &rng) ?? " ", at: at)
    case 2: chars[at] = alphabet.randomElement(using: &rng) ?? " "
    default:
      // Duplicate a whole line (duplicate keys, repeated list items).
      let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
      let index = Int.random(in: 0..<lines.count, using: &rng)
      var copy = Array(lines)
      copy.insert(lines[index], at: index)
      return copy.joined(separator: "\n")
    }
    return String(chars)
  }

  @Test(arguments: ["sample.yaml", "images-only.yaml", "k3s.yaml", "sha256.yaml"])
  func corruptedManifestsAreHandled(fixture: String) throws {
    let original = try String(contentsOfFile: manifestFixture(fixture), encoding: .utf8)
    var rng = SplitMix(state: UInt64(fixture.utf8.count) &* 7919)
    var accepted = 0
    var refused = 0
    for round in 0..<250 {
      var text = original
      for _ in 0...(round % 3) { text = Self.mutate(text, using: &rng) }
      let lineCount = text.split(separator: "\n", omittingEmptySubsequences: false).count
      do {
        let parsed = try KubeKeyManifest.parse(yaml: text, file: "m.yaml")
        accepted += 1
        let back = try KubeKeyManifest.parse(yaml: parsed.manifest.yaml(), file: "out.yaml")
        #expect(back.manifest == parsed.manifest, "round \(round):\n\(text)")
      } catch {
        refused += 1
        #expect(!error.errors.isEmpty, "round \(round): refused without an error")
        for diagnostic in error.diagnostics {
          if let line = diagnostic.line {
            #expect((1...lineCount + 1).contains(line), "round \(round): \(diagnostic)")
            #expect((diagnostic.column ?? 0) >= 1, "round \(round): \(diagnostic)")
          }
        }
      }
    }
    // Both paths were exercised.
    #expect(accepted > 0 && refused > 0)
  }

  @Test func corruptedClusterConfigsAreHandled() throws {
    let original = try String(
      contentsOfFile: manifestFixture("config-sample.yaml"), encoding: .utf8)
    var rng = SplitMix(state: 42)
    for round in 0..<100 {
      let text = Self.mutate(original, using: &rng)
      do {
        _ = try ClusterRegistryConfig.parse(yaml: text, file: "c.yaml")
      } catch {
        #expect(!error.errors.isEmpty, "round \(round): refused without an error")
      }
    }
  }
}
