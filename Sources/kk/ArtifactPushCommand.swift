import ArgumentParser
import Artifact
import Blobstore
import Foundation
import OCI

/// `kk artifact images ...` (alias `image`).
struct ArtifactImagesCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "images", abstract: "Work with the images of an artifact.",
    subcommands: [ArtifactPushCommand.self], aliases: ["image"])
}

/// `kk artifact images push`: every image of an artifact into a private registry, digests kept.
struct ArtifactPushCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "push",
    abstract: "Push the artifact's images to a private registry, byte-for-byte.",
    discussion: """
      The target comes from the cluster config's spec.registry (-f) or --registry. Names keep \
      their path and drop the source host (docker.io/calico/cni:v3.23.2 -> \
      REGISTRY/calico/cni:v3.23.2); namespaceOverride replaces every path segment but the \
      last. Every index and manifest is pushed unchanged, so target digests equal the \
      artifact's. With -a nothing is unpacked: a kk .tar.gz is read by offset, other \
      archives as a stream. The registry is checked (GET /v2/) before the first blob; \
      progress goes to stderr; Ctrl-C cancels the uploads in flight and tags nothing. Exit 0 \
      when every image is pushed, 1 on a failure (listed), 2 with --continue-on-error when \
      some failed. \
      For Harbor (type: harbor in spec.registry, or --registry-type harbor) the projects the \
      images land in are created first through Harbor's API, public unless --harbor-private; \
      the project is the first path segment of each target repository (library for a \
      one-segment name).
      """)

  @OptionGroup var target: RegistryTargetOptions

  @Option(name: [.short, .customLong("artifact")], help: "The artifact archive to push from.")
  var artifact: String?

  @Option(name: .customLong("images-dir"), help: "An unpacked OCI layout to push from.")
  var imagesDir: String?

  @Option(name: .customLong("parallel"), help: "Blobs and images transferred at once.")
  var parallel: Int = 6

  @Option(
    name: .customLong("image"),
    help: "Push only images whose full reference matches this glob (repeatable).")
  var images: [String] = []

  @Flag(name: .customLong("dry-run"), help: "Print the source -> target mapping and exit.")
  var dryRun = false

  @Flag(
    name: .customLong("continue-on-error"), help: "Push the other images after a failure; exit 2.")
  var continueOnError = false

  @Flag(
    name: .customLong("json"),
    help: "Print the summary as JSON on stdout; the per-image lines go to stderr.")
  var json = false

  @Flag(
    name: .customLong("harbor-private"),
    help: "Create missing Harbor projects private (default: public, as KubeKey does).")
  var harborPrivate = false

  func validate() throws {
    guard (artifact == nil) != (imagesDir == nil) else {
      throw ValidationError("give exactly one of -a/--artifact FILE and --images-dir DIR")
    }
    try target.requireTarget()
    guard parallel >= 1 else { throw ValidationError("--parallel must be at least 1") }
    guard !(json && dryRun) else {
      throw ValidationError("--json gives the summary of a push; --dry-run only prints the mapping")
    }
  }

  /// A line for the operator: on stdout, or on stderr when stdout carries the JSON summary.
  private func say(_ line: String) {
    if json {
      FileHandle.standardError.write(Data((line + "\n").utf8))
    } else {
      print(line)
    }
  }

  func run() async throws {
    var failed = false
    var somePushed = false
    try await reportingFailures {
      // `parallel` blobs move at once; the extra threads carry the small requests (HEADs,
      // upload sessions, manifest PUTs) that wait on the registry's fsyncs, not on CPU.
      let (config, client) = try target.client(threads: parallel + 10)
      try requireReadable(artifact ?? imagesDir ?? ".")
      var isDirectory: ObjCBool = false
      if let artifact, FileManager.default.fileExists(atPath: artifact, isDirectory: &isDirectory),
        isDirectory.boolValue
      {
        throw PushError.source(
          "-a \(artifact) is a directory, not an artifact file; for an OCI layout directory "
            + "(kk artifact import's DIR/images) use --images-dir \(artifact)")
      }
      // Ctrl-C: abort the uploads in flight and cancel their sessions, then die by it.
      let interruption = dryRun ? nil : PushInterruption()
      defer { interruption?.disarm() }
      let progress = PushProgress()
      let printer =
        dryRun
        ? nil
        : PushProgressPrinter(
          progress, tty: isatty(STDERR_FILENO) == 1, linesToStderr: json,
          quietAfter: Double(min(15, max(1, target.stallTimeout / 2))))
      defer { printer?.stop() }
      let log: @Sendable (String) -> Void = { line in
        if let printer { printer.log(line) } else { print(line) }
      }
      let mapping = target.mapping(config)
      let harbor = config.type == .harbor
      let report: PushReport
      let plan: PushPlan
      var projects: HarborProjectsReport?
      if let artifact {
        if harbor || dryRun {
          // Planning only (a few KiB of a SPEC-order archive): Harbor's projects must exist
          // before the first blob goes out.
          let planned = try await ImagePusher.pushArchive(
            path: artifact, target: mapping, patterns: images, log: log,
            makePusher: { _ in throw PushError.source("unreachable") }, dryRun: true
          ).plan
          if harbor { projects = try await ensureProjects(planned, client: client) }
          if dryRun {
            Self.warnUnmatched(planned)
            return printDryRun(planned, projects)
          }
        }
        let result = try await ImagePusher.pushArchive(
          path: artifact, target: mapping, patterns: images, log: log,
          makePusher: { plan in
            Self.warnUnmatched(plan)
            // A registry that is down, a wrong port, TLS or credentials: one error before
            // the first blob, after the local mistakes (the plan's) are ruled out.
            if !plan.images.isEmpty { try await client.checkReachable() }
            let pusher = ImagePusher(
              client: client, plan: plan, parallel: parallel, continueOnError: continueOnError,
              progress: progress, log: log)
            interruption?.attach(pusher)
            return pusher
          })
        guard let pushed = result.report else { return }
        (plan, report) = (result.plan, pushed)
      } else {
        let store = try BlobStore.open(at: imagesDir ?? ".")
        let indexJSON = try readSmallFile(store.root + "/index.json")
        let outcome = try PushPlanner.plan(
          indexJSON: indexJSON, manifest: { try? store.readJSON($0) }, target: mapping,
          patterns: images)
        guard case .complete(let complete) = outcome else {
          throw PushError.source("\(store.root): manifests are missing (run kk artifact verify)")
        }
        plan = complete
        Self.warnUnmatched(plan)
        if harbor { projects = try await ensureProjects(plan, client: client) }
        if dryRun { return printDryRun(plan, projects) }
        if !plan.images.isEmpty { try await client.checkReachable() }
        let pusher = ImagePusher(
          client: client, plan: plan, parallel: parallel, continueOnError: continueOnError,
          progress: progress, log: log)
        interruption?.attach(pusher)
        report = await pusher.push(from: store)
      }
      printer?.stop()
      interruption?.finishIfInterrupted(pushed: report.pushed.count, of: plan.images.count)
      if plan.images.isEmpty {
        // A binaries-only artifact: say so rather than leave "0 pushed" to puzzle over.
        say("nothing to push: \(artifact ?? imagesDir ?? ".") holds no images, only files")
      }
      if json {
        print(try PushSummaryJSON(report, registry: client.host, projects: projects).encoded())
      } else {
        print(summary(report, projects: projects))
      }
      if !report.succeeded {
        for failure in report.failed { Output.error("\(failure)") }
        if !harbor {
          for line in await explainMissingProjects(report, plan: plan, client: client) {
            Output.error(line)
          }
        }
        failed = true
        somePushed = !report.pushed.isEmpty
      }
    }
    // 2 is partial success: with nothing pushed, --continue-on-error still failed.
    if failed { throw continueOnError && somePushed ? ExitCode(2) : ExitCode.failure }
  }

  /// One warning per `--image` pattern that matched nothing while others did.
  static func warnUnmatched(_ plan: PushPlan) {
    for pattern in plan.unmatchedPatterns {
      Output.warning("--image '\(pattern)' matches no image of the artifact; is it misspelt?")
    }
  }

  /// Creates the Harbor projects the plan's images land in (with `--dry-run`, only checks).
  private func ensureProjects(_ plan: PushPlan, client: RegistryClient) async throws
    -> HarborProjectsReport
  {
    let api = HarborProjects(
      host: client.host, options: client.options, pool: TransferPool(threads: 1))
    let wanted = HarborProjects.projects(for: plan.images.map(\.repository))
    let report = try await api.ensure(wanted, public: !harborPrivate, dryRun: dryRun)
    for project in report.created {
      say("created Harbor project \(project) (\(harborPrivate ? "private" : "public"))")
    }
    for project in report.raced { say("Harbor project \(project) was created meanwhile") }
    return report
  }

  private func printDryRun(_ plan: PushPlan, _ projects: HarborProjectsReport?) {
    print(plan.mappingLines.joined(separator: "\n"))
    guard let projects else { return }
    let visibility = harborPrivate ? "private" : "public"
    print(
      "projects    would create \(list(projects.wouldCreate)) (\(visibility)); existing \(list(projects.existing))"
    )
  }

  /// A push refused with 401 into a project Harbor's API says is missing: Harbor answers
  /// unknown projects with 401, which reads like a wrong password. Said once per project.
  private func explainMissingProjects(
    _ report: PushReport, plan: PushPlan, client: RegistryClient
  ) async -> [String] {
    let refused = report.failed.filter {
      $0.reason.contains("401") || $0.reason.contains("unauthorized")
    }
    guard !refused.isEmpty else { return [] }
    let targets = Dictionary(
      plan.images.map { ($0.source.description, $0.repository) }
    ) { first, _ in first }
    let projects = HarborProjects.projects(for: refused.compactMap { targets[$0.image] })
    let api = HarborProjects(
      host: client.host, options: client.options, pool: TransferPool(threads: 1))
    var lines: [String] = []
    for project in projects {
      guard (try? await api.listed(project)) == false else { continue }
      lines.append(
        "project \(project) does not exist on \(client.host) (Harbor answers 401 for unknown projects): create it, or set `type: harbor` in spec.registry so kk creates it"
      )
    }
    return lines
  }

  private func summary(_ report: PushReport, projects: HarborProjectsReport?) -> String {
    var lines: [String] = []
    if let projects {
      lines.append(
        "projects    \(projects.created.count) created\(projects.created.isEmpty ? "" : " (\(projects.created.joined(separator: ", ")))"), \(projects.existing.count + projects.raced.count) existing"
      )
    }
    return
      (lines + [
        "images      \(report.pushed.count) pushed, \(report.failed.count) failed",
        "blobs       \(report.blobsUploaded) uploaded, \(report.blobsPresent) already present, \(report.blobsMounted) mounted"
          + (report.secondPassBlobs > 0 ? " (\(report.secondPassBlobs) in a second pass)" : ""),
        "manifests   \(report.manifestsPushed) pushed, \(report.manifestsPresent) already present",
        "sent        \(Output.bytes(report.bytesSent)) (\(report.bytesSent) bytes)",
        String(
          format: "time        %.2f s (%@)", report.seconds,
          Output.rate(report.bytesSent, seconds: report.seconds)),
      ]).joined(separator: "\n")
  }
}

private func list(_ names: [String]) -> String {
  names.isEmpty ? "none" : names.joined(separator: ", ")
}
