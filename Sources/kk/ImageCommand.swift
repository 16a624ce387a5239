import ArgumentParser
import Artifact
import Foundation
import OCI

/// `kk image ...`: copy and inspect single images, skopeo style.
struct ImageCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "image",
    abstract: "Copy and inspect images between registries and OCI layouts.",
    subcommands: [ImageCopyCommand.self, ImageInspectCommand.self]
  )
}

/// Flags that say how to reach one side (source or destination) of a copy.
struct RegistryAccessFlags {
  var creds: String?
  var tlsVerify: Bool
  var certDir: String?

  /// `--*-tls-verify=false` means no certificate check and plain HTTP allowed (skopeo's rule).
  func options(side: String) throws -> RegistryOptions {
    var options = RegistryOptions()
    try apply(to: &options, side: side)
    return options
  }

  /// `--src-creds` for side `src`, `--creds` for a command with one side (`""`).
  static func flag(_ name: String, side: String) -> String {
    side.isEmpty ? "--\(name)" : "--\(side)-\(name)"
  }

  /// The `--*-creds` value's form: a usage error (64) when it has no `:`.
  static func checkCreds(_ creds: String?, side: String) throws {
    if let creds, RegistryCredentials(parsing: creds) == nil {
      throw ValidationError("\(flag("creds", side: side)) takes USER:PASSWORD")
    }
  }

  /// Lays the flags over `options` (which may come from a config's auth entry): the flags win.
  /// A TLS failure then names this command's flags for that side.
  func apply(to options: inout RegistryOptions, side: String) throws {
    options.tlsAdvice =
      "pass its CA with \(Self.flag("cert-dir", side: side)) DIR (a directory with ca.crt, and "
      + "client.cert/client.key for a registry that requires a client certificate), or "
      + "\(Self.flag("tls-verify", side: side))=false if you trust the network or it speaks "
      + "plain HTTP"
    if let creds {
      guard let parsed = RegistryCredentials(parsing: creds) else {
        throw ValidationError("\(Self.flag("creds", side: side)) takes USER:PASSWORD")
      }
      options.credentials = parsed
      options.credentialsSource = Self.flag("creds", side: side)
    }
    if !tlsVerify {
      options.tls.verify = false
      if options.scheme == .https { options.scheme = .httpsThenHTTP }
    }
    if let certDir { try options.loadCertificates(from: certDir) }
  }
}

/// `kk image copy SRC DST`: one image, all platforms byte for byte, or a platform subset.
struct ImageCopyCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "copy",
    abstract: "Copy an image: docker://HOST/REPO:TAG or oci:DIR[:REF] on either side.",
    discussion: """
      Without --platform the whole image (index and every platform) is copied byte for byte, \
      so digests stay the same. --platform keeps only the platforms named and writes a new \
      index. Every blob is verified against its digest; interrupted downloads resume.
      """)

  @Argument(help: "Source: docker://HOST/REPO:TAG or oci:DIR[:REF].") var source: String
  @Argument(help: "Destination: docker://HOST/REPO:TAG or oci:DIR[:REF].") var destination: String

  @Flag(help: "Copy every platform (the default without --platform).") var all = false
  @Option(help: "Keep only this platform, os/arch[/variant] (repeatable).")
  var platform: [String] = []
  @Option(name: .customLong("src-creds"), help: "USER:PASSWORD for the source registry.")
  var srcCreds: String?
  @Option(name: .customLong("dest-creds"), help: "USER:PASSWORD for the destination registry.")
  var destCreds: String?
  @Option(
    name: .customLong("src-tls-verify"),
    help: "false: skip certificate checks and allow plain HTTP for the source.")
  var srcTLSVerify = true
  @Option(
    name: .customLong("dest-tls-verify"),
    help: "false: skip certificate checks and allow plain HTTP for the destination.")
  var destTLSVerify = true
  @Option(
    name: .customLong("src-cert-dir"), help: "Directory with ca.crt (and client.cert/.key).")
  var srcCertDir: String?
  @Option(
    name: .customLong("dest-cert-dir"), help: "Directory with ca.crt (and client.cert/.key).")
  var destCertDir: String?
  @Option(help: "Blobs transferred at once.") var parallel = 4

  func validate() throws {
    if all && !platform.isEmpty { throw ValidationError("--all and --platform exclude each other") }
    if parallel < 1 { throw ValidationError("--parallel must be at least 1") }
    for (name, value) in [("source", source), ("destination", destination)] {
      do { _ = try ImageLocation(parsing: value) } catch {
        throw ValidationError("\(name) \(error)")
      }
    }
    for value in platform {
      let parts = value.split(separator: "/", omittingEmptySubsequences: false)
      guard (2...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty }),
        (try? Platform(parsing: value)) != nil
      else {
        throw ValidationError("--platform '\(value)' is not os/arch[/variant], e.g. linux/arm64")
      }
    }
    try RegistryAccessFlags.checkCreds(srcCreds, side: "src")
    try RegistryAccessFlags.checkCreds(destCreds, side: "dest")
  }

  func run() async throws {
    try await reportingFailures {
      let from = try ImageLocation(parsing: source)
      let to = try ImageLocation(parsing: destination)
      let platforms = try platform.isEmpty ? nil : platform.map { try Platform(parsing: $0) }
      let options = ImageCopyOptions(
        platforms: platforms,
        source: try RegistryAccessFlags(
          creds: srcCreds, tlsVerify: srcTLSVerify, certDir: srcCertDir
        )
        .options(side: "src"),
        destination: try RegistryAccessFlags(
          creds: destCreds, tlsVerify: destTLSVerify, certDir: destCertDir
        ).options(side: "dest"),
        parallel: parallel)
      let copier = ImageCopier(pool: TransferPool(threads: parallel))
      // Ctrl-C or a TERM mid-copy must not leave partial downloads in the layout or a
      // staging layout (as large as the image) in the temp directory.
      let cleanup = ImageCopyInterruptCleanup(destination: to)
      defer { cleanup.disarm() }
      let started = Date()
      let result: ImageCopyResult
      do {
        result = try await copier.copy(from: from, to: to, options: options)
      } catch {
        // The handler removed files under the copy: the error is its echo, and the process
        // is about to die by the signal.
        cleanup.awaitSignalDeathIfFired()
        throw error
      }
      let seconds = Date().timeIntervalSince(started)
      print(
        "copied \(from) -> \(to): \(result.digest) (\(result.manifests) manifest(s), "
          + "\(result.blobs) blob(s), \(String(format: "%.1f", seconds)) s)")
      if let upstream = result.upstreamDigest {
        print("platforms filtered: new index \(result.digest), upstream index \(upstream)")
      }
    }
  }
}

/// `InterruptCleanup` for an image copy: removes this process's partial files in the
/// destination layout (`.ingest/<hex>.<pid>.<n>.partial`, which no later run reuses), its
/// staging directories (`$TMPDIR/kk-copy-<pid>-*`), and the destination layout when this copy
/// created it (as a failed copy does), then dies by the signal.
final class ImageCopyInterruptCleanup: Sendable {
  private let trap: SignalTrap

  init(destination: ImageLocation) {
    var created: String?
    if case .layout(let path, _) = destination, !FileManager.default.fileExists(atPath: path) {
      created = path
    }
    trap = SignalTrap { [created] number in
      // Twice: a transfer may have just opened its next partial file, or the copy just
      // created its staging directory, when the first pass looked.
      for pass in 0..<2 {
        if pass > 0 { usleep(50_000) }
        CopyLeftovers.removeOwnPartials(in: destination)
        for path in CopyLeftovers.ownStagingDirectories { InterruptCleanup.discard(path) }
      }
      if let created { InterruptCleanup.discard(created) }
      SignalTrap.die(by: number)
    }
  }

  /// See ``SignalTrap/awaitDeathIfFired()``.
  func awaitSignalDeathIfFired() { trap.awaitDeathIfFired() }

  func disarm() { trap.disarm() }
}

/// `kk image inspect docker://...`: the top manifest, raw or summarised.
struct ImageInspectCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "inspect",
    abstract: "Show an image's manifest or index.",
    discussion: "--raw prints the manifest bytes exactly as the registry holds them.")

  @Argument(help: "docker://HOST/REPO:TAG or oci:DIR[:REF].") var image: String
  @Flag(help: "Print the manifest bytes unchanged.") var raw = false
  @Option(help: "USER:PASSWORD for the registry.") var creds: String?
  @Option(
    name: .customLong("tls-verify"), help: "false: skip certificate checks, allow plain HTTP.")
  var tlsVerify = true
  @Option(name: .customLong("cert-dir"), help: "Directory with ca.crt (and client.cert/.key).")
  var certDir: String?

  func validate() throws {
    do { _ = try ImageLocation(parsing: image) } catch { throw ValidationError("\(error)") }
    try RegistryAccessFlags.checkCreds(creds, side: "")
  }

  func run() async throws {
    try await reportingFailures {
      let location = try ImageLocation(parsing: image)
      let options = try RegistryAccessFlags(creds: creds, tlsVerify: tlsVerify, certDir: certDir)
        .options(side: "")
      let copier = ImageCopier(pool: TransferPool(threads: 2))
      let graph = try await copier.graph(at: location, options: options, platforms: nil)
      guard let root = graph.root else { return }
      if raw {
        FileHandle.standardOutput.write(Data(root.bytes))
        return
      }
      print(Self.render(location: location, graph: graph))
    }
  }

  static func render(location: ImageLocation, graph: ImageGraph) -> String {
    guard let root = graph.root else { return "" }
    var out = [
      "Name:       \(location)", "Digest:     \(root.digest)", "MediaType:  \(root.mediaType)",
    ]
    if let index = root.index {
      out.append("")
      out.append(
        Output.table(
          ["PLATFORM", "DIGEST", "SIZE"],
          index.manifests.map {
            [$0.platform?.description ?? "-", $0.digest.description, Output.bytes($0.size)]
          }))
    }
    let total = graph.blobs.reduce(Int64(0)) { $0 + $1.size }
    out.append("")
    out.append("Blobs:      \(graph.blobs.count), \(Output.bytes(total))")
    if let manifest = root.manifest {
      out.append(
        Output.table(
          ["LAYER", "MEDIA TYPE", "SIZE"],
          manifest.layers.map { [$0.digest.description, $0.mediaType, Output.bytes($0.size)] }))
    }
    return out.joined(separator: "\n")
  }
}
