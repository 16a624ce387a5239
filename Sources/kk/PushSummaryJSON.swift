import Artifact
import Foundation

/// `kk artifact images push --json`: the summary as one JSON object (SPEC 5.2), for scripts
/// that install from the pushed images and must know what is in the registry without parsing
/// text. Keys sorted, every key always present.
struct PushSummaryJSON: Encodable {
  struct Failure: Encodable {
    var image: String
    var reason: String
  }
  struct Blobs: Encodable {
    var uploaded: Int
    var present: Int
    var mounted: Int
    var secondPass: Int
  }
  struct Manifests: Encodable {
    var pushed: Int
    var present: Int
  }
  struct Projects: Encodable {
    var created: [String]
    var existing: [String]
  }

  var registry: String
  var succeeded: Bool
  var pushed: [String]
  var failed: [Failure]
  var blobs: Blobs
  var manifests: Manifests
  var bytesSent: Int64
  var seconds: Double
  var projects: Projects?

  init(_ report: PushReport, registry: String, projects: HarborProjectsReport?) {
    self.registry = registry
    succeeded = report.succeeded
    // Sorted: the report lists them in the order they finished, which varies run to run.
    pushed = report.pushed.sorted()
    failed = report.failed.map { Failure(image: $0.image, reason: $0.reason) }
      .sorted { $0.image < $1.image }
    blobs = Blobs(
      uploaded: report.blobsUploaded, present: report.blobsPresent, mounted: report.blobsMounted,
      secondPass: report.secondPassBlobs)
    manifests = Manifests(pushed: report.manifestsPushed, present: report.manifestsPresent)
    bytesSent = report.bytesSent
    seconds = (report.seconds * 1000).rounded() / 1000
    self.projects = projects.map {
      Projects(created: $0.created, existing: ($0.existing + $0.raced).sorted())
    }
  }

  // `projects` is written as null when absent (every key always present).
  enum CodingKeys: String, CodingKey {
    case registry, succeeded, pushed, failed, blobs, manifests, bytesSent, seconds, projects
  }

  func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(registry, forKey: .registry)
    try container.encode(succeeded, forKey: .succeeded)
    try container.encode(pushed, forKey: .pushed)
    try container.encode(failed, forKey: .failed)
    try container.encode(blobs, forKey: .blobs)
    try container.encode(manifests, forKey: .manifests)
    try container.encode(bytesSent, forKey: .bytesSent)
    try container.encode(seconds, forKey: .seconds)
    try container.encode(projects, forKey: .projects)
  }

  func encoded() throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(self), as: UTF8.self)
  }
}
