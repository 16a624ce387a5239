import ArgumentParser
import Artifact
import Foundation
import OCI

/// `kk create`: generate files for the user to edit.
struct CreateCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "create",
    abstract: "Generate files to edit: a manifest describing a cluster.",
    subcommands: [CreateManifestCommand.self])
}

/// `kk create manifest`: describe a live cluster (from a kubeconfig) or a planned one.
struct CreateManifestCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "manifest",
    abstract: "Write a KubeKey manifest describing a running or a planned cluster.",
    discussion: """
      Without --with-kubernetes, lists the nodes of the cluster in the kubeconfig (one \
      read-only call, 'list nodes') and records their arches, OS, Kubernetes version, \
      container runtimes and images. With --with-kubernetes, builds the manifest of a \
      planned cluster from KubeKey's default image lists (KKZONE=cn uses the Aliyun mirror). \
      Writes manifest-<name>.yaml in the current directory (or -f PATH) and never replaces \
      an existing file without --force. What could not be mapped is printed as warnings.
      """)

  @Option(help: "The kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).")
  var kubeconfig: String?

  @Option(help: "The kubeconfig context to use (default: its current-context).")
  var context: String?

  @Option(help: "metadata.name of the manifest; also names the output file.")
  var name = "sample"

  @Option(
    name: [.short, .customLong("file")], help: "Write to PATH instead of manifest-<name>.yaml.")
  var file: String?

  @Flag(help: "Overwrite the output file if it exists.")
  var force = false

  @Option(
    name: .customLong("with-kubernetes"),
    help: "Plan a cluster instead of reading one: Kubernetes versions, comma separated.")
  var withKubernetes: String?

  @Option(help: "Arches for --with-kubernetes, comma separated (default: amd64).")
  var arch: String?

  func validate() throws {
    // The name is metadata.name and part of the default file name: it must be non-empty and
    // cannot hold a path (`--name ../x` would write outside the current directory).
    if name.trimmingCharacters(in: .whitespaces).isEmpty {
      throw ValidationError("--name must not be empty (it is the manifest's metadata.name)")
    }
    if name.contains("/") || name.unicodeScalars.contains(where: { $0.value < 0x20 }) {
      throw ValidationError(
        "--name '\(name)' cannot contain '/' or control characters; use -f PATH to choose the file")
    }
    // metadata.name is a Kubernetes object name (RFC 1123 subdomain), as KubeKey's are.
    let allowed = name.allSatisfy {
      $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == ".")
    }
    let edges = [name.first, name.last].allSatisfy {
      $0.map { $0.isASCII && ($0.isLowercase || $0.isNumber) } ?? false
    }
    guard allowed, edges, name.count <= 253 else {
      throw ValidationError(
        "--name '\(name)' is not a Kubernetes object name (it is metadata.name): use lower-case "
          + "letters, digits, '-' and '.', starting and ending with a letter or digit, e.g. "
          + "prod-cluster")
    }
    if withKubernetes == nil, arch != nil {
      throw ValidationError("--arch only applies with --with-kubernetes")
    }
    if withKubernetes != nil, kubeconfig != nil || context != nil {
      throw ValidationError(
        "--with-kubernetes plans a cluster; --kubeconfig/--context do not apply")
    }
  }

  func run() async throws {
    try await reportingFailures {
      let environment = ProcessInfo.processInfo.environment
      let path = file ?? "manifest-\(name).yaml"
      // Before reading a cluster: an existing output is the user's to decide about first.
      try CreatedManifest.checkWritable(path, force: force)
      let created: CreatedManifest
      if let versions = withKubernetes {
        var arches: [Arch] = []
        for raw in (arch ?? "amd64").split(separator: ",") {
          let text = raw.trimmingCharacters(in: .whitespaces)
          guard let parsed = Arch(normalising: text) else {
            throw CreateManifestError.unknownArch(text)
          }
          if !arches.contains(parsed) { arches.append(parsed) }
        }
        let zone: CatalogOptions.Zone =
          environment["KKZONE"]?.lowercased() == "cn" ? .cn : .default
        created = try ManifestCreator.planned(
          kubernetes: versions.split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
          },
          arches: arches, name: name, images: DefaultImageOptions(zone: zone))
      } else {
        let paths = Kubeconfig.paths(explicit: kubeconfig, environment: environment)
        let config = try Kubeconfig.load(paths: paths)
        let connection = try KubeConnection.resolve(
          config, context: context, environment: environment)
        let pool = TransferPool(
          threads: 1, options: TransportOptions(connectTimeout: 15, stallTimeout: 60))
        let nodes = try await KubeClient(connection: connection, pool: pool).listNodes()
        let inventory = ClusterInventory(nodes: nodes)
        guard !inventory.arches.isEmpty else {
          for warning in inventory.warnings { Output.warning(warning) }
          throw CreateManifestError.noUsableNodes(server: connection.server, nodes: nodes.count)
        }
        created = ManifestCreator.fromCluster(inventory, name: name)
        print("read \(nodes.count) nodes from \(connection.server) (context \(connection.context))")
      }
      try created.write(to: path, force: force)
      for warning in created.warnings { Output.warning(warning) }
      let manifest = created.manifest
      print(
        "wrote \(path): \(manifest.arches.map(\.rawValue).joined(separator: ", ")); "
          + "\(manifest.kubernetesDistributions.map { "\($0.type.rawValue) \($0.version)" }.joined(separator: ", ")); "
          + "\(manifest.images.count) images")
    }
  }
}
