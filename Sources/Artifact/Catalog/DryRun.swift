extension ExportPlan {
  /// The `kk artifact export --dry-run` text: one line per file — where it comes from, what
  /// vouches for it, where it goes — then one line per image with the platforms it is pulled
  /// for (`image  docker.io/calico/cni:v3.23.2  linux/amd64, linux/arm64`), then the
  /// warnings the export would print (`# warning: `) and the notes, each prefixed with `# `.
  ///
  /// ```
  /// https://dl.k8s.io/release/v1.22.12/bin/linux/amd64/kubeadm  table sha256:…  kube/v1.22.12/amd64/kubeadm
  /// https://get.helm.sh/helm-v3.18.5-linux-amd64.tar.gz  table sha256:… (of linux-amd64/helm)  helm/v3.18.5/amd64/helm
  /// https://dl.k8s.io/release/v1.31.0/bin/linux/amd64/kubectl  upstream https://…/kubectl.sha256  kube/v1.31.0/amd64/kubectl
  /// ```
  ///
  /// Digests are printed in full so a line can be copied into a manifest's `sha256:` map.
  public func dryRunText() -> String {
    var lines: [String] = []
    for file in files {
      var source = file.checksum.sourceName
      switch file.checksum {
      case .manifest(let digest, let field): source += " \(digest) (\(field))"
      case .table(let digest): source += " \(digest)"
      case .upstreamFile(let url): source += " \(url)"
      case .localFile: source += " (sha256 of the file as read)"
      case .unverified(let field, _):
        source += " (not verified: sha256 of the file as downloaded; pin it in \(field))"
      }
      if let member = file.extract { source += " (of \(member))" }
      lines.append("\(file.origin)  \(source)  \(file.path)")
    }
    let platforms = arches.map(\.platform.description).joined(separator: ", ")
    for image in images { lines.append("image  \(image)  \(platforms)") }
    let archList = arches.isEmpty ? "no arch" : arches.map(\.rawValue).joined(separator: ", ")
    let fileCount = "\(files.count) file\(files.count == 1 ? "" : "s")"
    let imageCount = "\(images.count) image\(images.count == 1 ? "" : "s")"
    lines.append("# \(fileCount) for \(archList); \(imageCount)")
    for warning in warnings { lines.append("# warning: \(warning)") }
    for note in notes { lines.append("# \(note)") }
    return lines.joined(separator: "\n") + "\n"
  }
}
