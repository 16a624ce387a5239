import Foundation
import OCI

/// `kk artifact verify --remote`: is every image of the artifact in the target registry with
/// the artifact's digest? Reads manifests only (HEAD of each tag and each child manifest by
/// digest), so it is quick however large the images are.
public enum RemoteVerifier {
  public struct Problem: Sendable, CustomStringConvertible {
    /// Source reference.
    public var image: String
    /// `host/repo:tag` or `host/repo@digest` that is missing or wrong.
    public var target: String
    public var reason: String
    public var description: String { "\(image) -> \(target): \(reason)" }
  }

  /// Checks every image of `plan` in the registry `client` talks to; returns the problems
  /// (empty when all is there) and the number of manifests checked.
  public static func verify(plan: PushPlan, client: RegistryClient) async -> (
    problems: [Problem], checked: Int
  ) {
    var problems: [Problem] = []
    var checked = 0
    for image in plan.images {
      let name = image.source.description
      let base = "\(image.target.registry)/\(image.repository)"
      for descriptor in image.manifests {
        let isRoot = descriptor.digest == image.root.digest
        for reference in isRoot ? image.tags : [descriptor.digest.description] {
          let shown = isRoot ? "\(base):\(reference)" : "\(base)@\(reference)"
          checked += 1
          do {
            let found = try await client.manifestDescriptor(
              repository: image.repository, reference: reference)
            guard let found else {
              problems.append(Problem(image: name, target: shown, reason: "not in the registry"))
              continue
            }
            if found.digest != descriptor.digest {
              problems.append(
                Problem(
                  image: name, target: shown,
                  reason: "registry has \(found.digest), the artifact \(descriptor.digest)"))
            }
          } catch {
            problems.append(Problem(image: name, target: shown, reason: "\(error)"))
          }
        }
      }
    }
    return (problems, checked)
  }
}
