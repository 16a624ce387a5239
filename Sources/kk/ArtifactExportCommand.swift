import ArgumentParser
import Artifact
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// `kk artifact export -m manifest.yaml [-o kubekey-artifact.tar.gz]`.
struct ArtifactExportCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export",
    abstract: "Export the images of a KubeKey manifest into one verified artifact.",
    discussion: """
      Pulls every image of the manifest for every arch in spec.arches, and the binaries and \
      ISOs the component catalog plans (checksums verified), into a content-addressed \
      cache (each blob once, however many images share it), then writes one OCI image layout \
      archive in SPEC order and verifies it. The same inputs give a byte-identical artifact; a \
      second export of the same manifest downloads no blob (tags are still resolved). \
      Credentials come from registry.auths, then ~/.docker/config.json.
      """)

  @Option(name: [.short, .customLong("manifest")], help: "The KubeKey manifest (kind: Manifest).")
  var manifest: String

  @Option(
    name: [.short, .customLong("output")],
    help: "The artifact: NAME.tar.gz, NAME.tar.zst or NAME.tar.")
  var output = "kubekey-artifact.tar.gz"

  @Option(help: "Downloads at once.")
  var parallel = 8

  @Option(help: "The blob cache (default $XDG_CACHE_HOME/kk or ~/.cache/kk).")
  var cacheDir: String?

  @Flag(help: "Use a throw-away cache next to the output, removed afterwards.")
  var noCache = false

  @Flag(help: "Leave out images that lack a requested platform (with a warning).")
  var skipMissingPlatforms = false

  @Flag(help: "Replace an existing output file.")
  var force = false

  @Flag(
    help:
      "Do not check the packed bytes against their digests while writing (kk artifact verify can do it later)."
  )
  var skipVerify = false

  @Flag(
    help:
      "Treat manifest warnings (unknown fields such as a misspelt 'imgaes:', duplicate images, arch aliases) as errors."
  )
  var strict = false

  @Flag(
    name: .customLong("dry-run"),
    help:
      "Print every file to download (URL, checksum source, work-dir path) and the images, then exit."
  )
  var dryRun = false

  @Flag(help: "Print a JSON summary on stdout.")
  var json = false

  @Option(
    help: ArgumentHelp(
      "Fetch every catalog file from <mirror>/<host>/<path> of its default URL.",
      discussion:
        "Overrides KK_DOWNLOAD_MIRROR and KKZONE; URLs written in the manifest are fetched as written.",
      valueName: "url"))
  var downloadMirror: String?

  func validate() throws {
    guard parallel >= 1 && parallel <= 64 else {
      throw ValidationError("--parallel must be between 1 and 64")
    }
    if noCache && cacheDir != nil {
      throw ValidationError("--no-cache and --cache-dir exclude each other")
    }
    do {
      try ExportOutput.check(output, force: true)
    } catch {
      throw ValidationError("\(error)")
    }
  }

  func run() async throws {
    try await reportingFailures {
      let parsed = try KubeKeyManifest.load(path: manifest, options: ParseOptions(strict: strict))
      // A diagnostic already reads `file:line:col: warning: ...`; Output.warning would say
      // "warning" twice.
      for warning in parsed.warnings {
        FileHandle.standardError.write(Data("kk: \(warning.description)\n".utf8))
      }
      // KKZONE=cn and KK_DOWNLOAD_MIRROR choose the download URLs, as in KubeKey;
      // --download-mirror beats both.
      let text = (try? String(contentsOfFile: manifest, encoding: .utf8)) ?? ""
      let locator = ManifestLocator(yaml: text, file: manifest)
      let catalog = Catalog(
        options: try CatalogOptions(
          environment: ProcessInfo.processInfo.environment, mirrorFlag: downloadMirror))
      if dryRun {
        let plan = try catalog.plan(parsed.manifest, locator: locator)
        // The export would stop with "nothing to export": the dry run must not say 0.
        if plan.files.isEmpty && parsed.manifest.images.isEmpty {
          throw ArtifactExporter.nothingToExport
        }
        print(plan.dryRunText(), terminator: "")
        return
      }
      // Claimed (checked, OUT.partial locked) before anything else: a second export to the
      // same -o stops here, and only an export holding the lock may delete OUT.partial.
      let target = try ExportOutput(output, force: force)
      var temporary: String?
      let directory: String
      if noCache {
        let beside = parentDirectory(of: output)
        // A --no-cache export killed with SIGKILL could not remove its throw-away cache.
        let stale = ExportCache.removeStaleThrowAwayCaches(in: beside)
        if !stale.names.isEmpty {
          let listed = stale.names.prefix(5).joined(separator: ", ")
          let more = stale.names.count > 5 ? ", ..." : ""
          FileHandle.standardError.write(
            Data(
              ("kk: removed \(Output.count(stale.names.count, "throw-away cache")) of killed "
                + "--no-cache exports from \(beside) (\(listed)\(more); "
                + "\(Output.bytes(stale.bytes)))\n").utf8))
        }
        directory = ExportCache.throwAwayDirectory(in: beside)
        temporary = directory
      } else {
        directory = cacheDir ?? ExportCache.defaultDirectory()
      }
      // Ctrl-C or a TERM mid-export must not leave the throw-away cache (up to the size of
      // the artifact) or a half-written NAME.partial behind.
      let cleanup = ExportInterruptCleanup(
        paths: [temporary, output + ".partial"].compactMap { $0 },
        cache: temporary == nil ? directory : nil)
      defer {
        cleanup.disarm()
        if let temporary { InterruptCleanup.discard(temporary) }
      }
      let cache = try ExportCache.open(at: directory)
      // Shared for the whole run: `kk cache prune` refuses while any export holds it.
      let cacheLock = try CacheLock.shared(directory)
      defer { withExtendedLifetime(cacheLock) {} }
      let exporter = ArtifactExporter(
        manifest: parsed.manifest, cache: cache,
        options: ExportOptions(
          parallel: parallel, skipMissingPlatforms: skipMissingPlatforms, force: force,
          verify: !skipVerify, reuseCompressed: !noCache),
        catalog: catalog, locator: locator)
      let progress = ExportProgressPrinter(tty: isatty(STDERR_FILENO) == 1)
      let summary: ExportSummary
      do {
        summary = try await exporter.export(to: output, claimed: target) { event in
          progress.handle(event)
        }
      } catch {
        // The interrupt handler pulled the cache out from under the export: the error is
        // its echo, and the process is about to die by the signal (exit 128+N).
        cleanup.awaitSignalDeathIfFired()
        throw error
      }
      progress.finish()
      if json {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(summary), as: UTF8.self))
      } else {
        print(Self.text(summary))
      }
    }
  }

  static func text(_ summary: ExportSummary) -> String {
    var lines = [
      "artifact    \(summary.output) (\(Output.bytes(summary.outputSize)))",
      "sha256      \(summary.sha256.replacingOccurrences(of: "sha256:", with: ""))",
      "images      \(summary.images.count)",
      "platforms   \(summary.platforms.isEmpty ? "-" : summary.platforms.joined(separator: ", "))",
      // inspect lists the stored manifest YAML among the files; this count does not.
      "files       \(summary.files) (\(Output.bytes(summary.fileBytes))) binaries and ISOs, "
        + "plus \(ArtifactExporter.manifestPath)",
      "unique      \(Output.bytes(summary.uniqueBytes)) (dedup saved \(Output.bytes(summary.bytesSavedByDedup)))",
      "downloaded  \(Output.bytes(summary.downloadedBytes)) in \(summary.downloadedBlobs) image blobs, "
        + "\(summary.cachedBlobs) from the cache",
    ]
    if !summary.filteredImages.isEmpty {
      lines.append("filtered    \(summary.filteredImages.joined(separator: ", "))")
    }
    lines.append("verified    \(summary.verified ? "yes" : "skipped")")
    return lines.joined(separator: "\n")
  }
}

/// `InterruptCleanup` for an export: also removes this process's temp files from a lasting
/// cache (`<hex>.<pid>.<n>.members` of binaries being downloaded, `.partial` and `.download`
/// files), which no later run reuses; `.resume` layer downloads stay, to be continued.
final class ExportInterruptCleanup: Sendable {
  private let trap: SignalTrap

  init(paths: [String], cache: String?) {
    trap = SignalTrap { number in
      if let cache {
        let pid = getpid()
        ExportCache.removeTemporaryFiles(of: pid, in: cache)
        // A transfer thread may have just opened its next temp file: once more, shortly.
        usleep(50_000)
        ExportCache.removeTemporaryFiles(of: pid, in: cache)
      }
      for path in paths { InterruptCleanup.discard(path) }
      SignalTrap.die(by: number)
    }
  }

  /// See ``SignalTrap/awaitDeathIfFired()``.
  func awaitSignalDeathIfFired() { trap.awaitDeathIfFired() }

  func disarm() { trap.disarm() }
}

/// Renders export events on stderr: one rewritten line per phase on a TTY (bytes, rate,
/// ETA), plain log lines otherwise (CI logs and pipes should not fill with carriage returns).
/// Phases overlap (layers download while the files are fetched and while the archive is
/// packed), so each keeps its own total and start; the line shows the latest progress.
final class ExportProgressPrinter: @unchecked Sendable {
  private let tty: Bool
  private let lock = NSLock()
  private var totals: [ExportPhase: Int64] = [:]
  private var started: [ExportPhase: Date] = [:]
  private var lastDraw = Date.distantPast

  init(tty: Bool) {
    self.tty = tty
  }

  func handle(_ event: ExportEvent) {
    lock.lock()
    defer { lock.unlock() }
    switch event {
    case .phaseStarted(let phase, let total):
      totals[phase] = total
      started[phase] = Date()
      if !tty { write("kk: \(phase.rawValue): started (\(describe(total, phase)))\n") }
    case .progress(let phase, let done):
      guard tty, Date().timeIntervalSince(lastDraw) > 0.2 else { return }
      lastDraw = Date()
      write("\r\u{1B}[K" + line(phase, done: done))
    case .phaseFinished(let phase):
      let seconds = Date().timeIntervalSince(started[phase] ?? Date())
      let text = String(format: "kk: %@: done in %.1f s", phase.rawValue, seconds)
      write(tty ? "\r\u{1B}[K\(text)\n" : "\(text)\n")
    case .warning(let message):
      write((tty ? "\r\u{1B}[K" : "") + "kk: warning: \(message)\n")
    }
  }

  func finish() {}

  private func describe(_ total: Int64, _ phase: ExportPhase) -> String {
    switch phase {
    case .resolve: return "\(total) images"
    case .files: return "\(total) files"
    default: return Output.bytes(total)
    }
  }

  private func line(_ phase: ExportPhase, done: Int64) -> String {
    let total = totals[phase] ?? 0
    if phase == .resolve || phase == .files {
      return "kk: \(phase.rawValue): \(done)/\(total) \(phase == .files ? "files" : "images")"
    }
    let seconds = Date().timeIntervalSince(started[phase] ?? Date())
    let rate = seconds > 0 ? Double(done) / seconds : 0
    let eta = rate > 0 ? Double(total - done) / rate : 0
    return String(
      format: "kk: %@: %@ / %@  %@  ETA %.0f s", phase.rawValue, Output.bytes(done),
      Output.bytes(total), Output.rate(done, seconds: seconds), max(0, eta))
  }

  private func write(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
  }
}
