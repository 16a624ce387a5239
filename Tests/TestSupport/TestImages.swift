import Foundation
import OCI

/// What `testdata/gen-images.py generate` wrote: an OCI image layout of multi-arch images.
public struct GeneratedImages: Sendable, Decodable {
  public struct Platform: Sendable, Decodable, Hashable {
    public let os: String
    public let architecture: String
    public let variant: String?
  }

  /// One per-platform image manifest of an image index.
  public struct Manifest: Sendable, Decodable {
    public let platform: Platform
    public let digest: Digest
    /// Layer digests in manifest order.
    public let layers: [Digest]
  }

  /// One image: an OCI image index with linux/amd64 and linux/arm64/v8 manifests.
  public struct Image: Sendable, Decodable {
    /// `repository:tag`, also the `org.opencontainers.image.ref.name` annotation.
    public let ref: String
    public let repository: String
    public let tag: String
    /// Digest of the image index.
    public let digest: Digest
    public let manifests: [Manifest]
  }

  /// Absolute path of the OCI image layout.
  public let layout: String
  public let images: [Image]
  public let refs: [String]
  /// Sum of the sizes of all distinct blobs.
  public let uniqueBytes: Int64
  public let blobCount: Int
  public let layerCount: Int
}

/// Deterministic multi-arch test images, from `testdata/gen-images.py`.
///
/// Why a generator and not checked-in images: layers of incompressible bytes in the
/// sizes benchmarks need would bloat the repository; the script rebuilds them
/// byte-identically from a seed in well under a second for the small preset. Bench
/// scripts call the same script directly.
public enum TestImages {
  public enum Preset: String, Sendable {
    /// 4 images × {amd64, arm64}, about 4 MiB: for tests.
    case small
    /// 15 images × {amd64, arm64}, about 750 MiB, layers 0.3–70 MiB: for benchmarks.
    case bench
  }

  /// `testdata/gen-images.py`.
  public static var generatorPath: String { TestPaths.testdata + "/gen-images.py" }

  /// Writes the images into `directory` (created if missing) and returns the summary.
  ///
  /// - Parameters:
  ///   - seed: different seeds give different bytes; the same arguments give
  ///     byte-identical layouts.
  ///   - images: overrides the preset's image count.
  ///   - extraArguments: further `generate` flags (`--unique-mib`, `--gzip-level`, ...).
  public static func generate(
    into directory: String, preset: Preset = .small, seed: String = "kk", images: Int? = nil,
    extraArguments: [String] = []
  ) async throws -> GeneratedImages {
    var args = [
      generatorPath, "generate", "--out", directory, "--preset", preset.rawValue, "--seed", seed,
    ]
    if let images { args += ["--images", String(images)] }
    args += extraArguments
    let output = try await ProcessRunner.checked(TestPaths.python, args, timeout: .seconds(900))
    do {
      return try JSONDecoder().decode(GeneratedImages.self, from: Data(output.stdout.utf8))
    } catch {
      throw TestSupportError.badOutput(
        "gen-images.py printed an unexpected summary (\(error)): \(output)")
    }
  }

  /// Pushes every image of `images` into `registry` as `HOST/<ref>` with
  /// `skopeo copy --all`, using the registry's credentials if it has any.
  public static func push(_ images: GeneratedImages, to registry: TestRegistry) async throws {
    var args = [generatorPath, "push", "--layout", images.layout, "--registry", registry.host]
    if let credentials = registry.credentials { args += ["--creds", credentials.colonSeparated] }
    _ = try ProcessRunner.require("skopeo")
    try await ProcessRunner.checked(TestPaths.python, args, timeout: .seconds(1800))
  }
}
