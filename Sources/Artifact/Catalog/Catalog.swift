import Foundation
import OCI

/// Turns a manifest into the list of files an offline install needs: which binaries, at which
/// versions, from which URLs, checked against which sha256, stored under which KubeKey path.
///
/// Pure and synchronous: the same manifest, options and table always give the same plan, and
/// nothing is fetched. Use it for `--dry-run`, then hand ``ExportPlan/files`` to the
/// downloader.
///
/// What a plan contains, per arch in `spec.arches`:
/// - each Kubernetes distribution's binaries: `kubeadm`, `kubelet`, `kubectl` (kubernetes),
///   `k3s` or `k8e`;
/// - with a distribution: `etcd`, `kubecni` (`cni`), `calicoctl`, `helm`, and for kubernetes
///   `crictl`, each at the manifest's version or ``CatalogDefaults``;
///   without one: only the components the manifest lists;
/// - each container runtime: `docker` (plus `cri-dockerd` when a kubernetes distribution is
///   v1.24 or newer, since dockershim is gone) and `containerd` (plus `runc`);
/// - the registry packages the manifest lists (`docker-registry` → `registry`, `harbor`,
///   `docker-compose` → `compose`) at the versions it asks for — KubeKey ignored those and
///   always fetched its defaults;
/// - the OS ISOs for that arch.
///
/// Arches other than amd64 and arm64 (which KubeKey's table covers) get a component file
/// only when the manifest pins its sha256; otherwise they get images only, and the plan says
/// so in ``ExportPlan/notes``. A component upstream builds for some arches only (Harbor:
/// amd64) is planned for those, with a warning for the others (``ExportPlan/warnings``). ISOs follow their own rule on every arch: a `localPath` needs
/// no checksum (the user vouches for the file), nor does a `url` (`repository.iso.checksum` is
/// optional, as in KubeKey: without it the ISO is fetched unverified, with a warning).
///
/// A component the manifest leaves out is implied at its ``CatalogDefaults`` version (see
/// there for which). The model reads `version: ""` as "not bundled" but hands the catalog the
/// same `nil` as an absent key, so today a blank version also gets the default.
public struct Catalog: Sendable {
  public var options: CatalogOptions
  public var table: ChecksumTable

  public init(options: CatalogOptions = CatalogOptions(), table: ChecksumTable = .embedded) {
    self.options = options
    self.table = table
  }

  /// The arches whose component checksums the embedded table covers.
  public static let tableArches: Set<Arch> = [.amd64, .arm64]

  /// Plans every file for `manifest`.
  ///
  /// - Parameter locator: the manifest's text, to put `file:line:column` in refusals.
  /// - Throws: ``CatalogError/unusableLocalFiles(_:)`` for an ISO `localPath` that is not a
  ///   readable file (checked here, so `--dry-run` says so and an export fails before any
  ///   download: the plan's only look at the file system); then
  ///   ``CatalogError/missingChecksums(_:)`` listing every file no checksum source covers,
  ///   with the manifest field to add.
  public func plan(_ manifest: KubeKeyManifest, locator: ManifestLocator? = nil)
    throws(CatalogError) -> ExportPlan
  {
    let wanted = requests(for: manifest)
    var files: [FilePlan] = []
    var missing: [MissingChecksum] = []
    var unusable: [String] = []
    var notes = wanted.notes
    var warnings: [String] = []
    for arch in manifest.arches {
      var skipped: [String] = []
      var seen: Set<String> = []
      for request in wanted.items {
        let version = request.version
        guard seen.insert("\(request.component.id) \(version)").inserted else { continue }
        if let built = request.component.upstreamArches, !built.contains(arch) {
          warnings.append(Self.noUpstreamBuild(request, arch: arch, arches: manifest.arches))
          continue
        }
        let pinned = request.pinned[arch]
        if !Self.tableArches.contains(arch) && pinned == nil {
          skipped.append("\(request.component.id) \(version)")
          continue
        }
        let file = resolve(request, arch: arch)
        if let file {
          files.append(file)
        } else {
          missing.append(
            MissingChecksum(
              component: request.component.id, version: version, arch: arch,
              field: request.field.map { "\($0).\(arch.rawValue)" }
                ?? "a sha256 for it (\(request.why ?? "implied"); the manifest has no field)",
              location: request.field.flatMap { locator?.locate("\($0).\(arch.rawValue)") },
              knownVersions: table.versions(id: request.component.id, arch: arch)))
        }
      }
      if !skipped.isEmpty {
        notes.append(
          "\(arch): images only for \(skipped.joined(separator: ", ")): no sha256 for "
            + "\(arch) in the manifest (KubeKey's table covers amd64 and arm64 only)")
      }
      for (index, os) in manifest.operatingSystems.enumerated() where os.arch == arch {
        switch isoFile(os, index: index, locator: locator) {
        case .none: break
        case .planned(let file): files.append(file)
        case .unusable(let problem): unusable.append(problem)
        }
      }
    }
    guard unusable.isEmpty else { throw .unusableLocalFiles(unusable) }
    guard missing.isEmpty else { throw .missingChecksums(missing) }
    return ExportPlan(
      files: files, images: manifest.images, arches: manifest.arches, notes: notes,
      warnings: warnings)
  }

  /// `harbor v2.10.2 has no arm64 build upstream; bundled for amd64 only`: said instead of
  /// planning a download that could only fetch another arch's file and fail its checksum.
  static func noUpstreamBuild(_ request: Request, arch: Arch, arches: [Arch]) -> String {
    let built = request.component.upstreamArches ?? []
    let kept = arches.filter { built.contains($0) }.map(\.rawValue)
    let what = "\(request.component.id) \(request.version) has no \(arch) build upstream"
    if kept.isEmpty {
      let exists = built.map(\.rawValue).sorted().joined(separator: ", ")
      return "\(what); not bundled (upstream builds it for \(exists) only)"
    }
    return "\(what); bundled for \(kept.joined(separator: ", ")) only"
  }

  /// One component version to plan for every arch.
  struct Request {
    var component: CatalogComponent
    var version: String
    /// Pinned sha256 values from the manifest.
    var pinned: [Arch: Digest]
    /// The manifest field holding its pinned sha256 values, without the `.<arch>` key
    /// (`spec.components.helm.sha256`), if the manifest has one.
    var field: String?
    /// Why an implied component is there (`implied by containerd`).
    var why: String?
  }

  func resolve(_ request: Request, arch: Arch) -> FilePlan? {
    let component = request.component
    let version = request.version
    let defaultURL = component.defaultURL(version: version, arch: arch)
    let cnURL = component.cnURL(version: version, arch: arch)
    let url = options.resolve(defaultURL: defaultURL, cnURL: cnURL)
    // The cn helm URL serves the bare binary; every other helm URL is the release tarball.
    let usesCN = options.mirror == nil && options.zone == .cn && cnURL != nil
    var extract: String?
    if !usesCN, let member = component.extract {
      extract = CatalogComponent.expand(member, version: version, arch: arch)
    }
    let checksum: FilePlan.Checksum
    if let pinned = request.pinned[arch] {
      checksum = .manifest(
        pinned, field: "\(request.field ?? component.id).\(arch.rawValue)")
    } else if let digest = table.digest(id: component.id, arch: arch, version: version) {
      checksum = .table(digest)
    } else if component.publishesSHA256File {
      checksum = .upstreamFile(url: url + ".sha256")
    } else {
      return nil
    }
    let fileName = component.fileName(version: version, arch: arch)
    return FilePlan(
      kind: .file, component: component.id, version: version, arch: arch, origin: .url(url),
      checksum: checksum, path: component.path(version: version, arch: arch),
      fileName: fileName, extract: extract,
      alreadyCompressed: FilePlan.isCompressedName(fileName),
      pinField: request.field.map { "\($0).\(arch.rawValue)" })
  }

  enum ISOOutcome {
    case none
    case planned(FilePlan)
    /// A `localPath` that is missing, a directory or unreadable: the message, placed.
    case unusable(String)
  }

  /// Why the file at `path` cannot be an ISO to bundle, or nil when it is a readable file.
  static func unusableLocalFile(_ path: String) -> String? {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      return "does not exist"
    }
    if isDirectory.boolValue { return "is a directory, not an ISO file" }
    return FileManager.default.isReadableFile(atPath: path) ? nil : "is not readable"
  }

  /// The ISO of `os`, if it has one; a refusal for a local file that cannot be read.
  func isoFile(_ os: OperatingSystem, index: Int, locator: ManifestLocator?) -> ISOOutcome {
    guard let iso = os.iso else { return .none }
    let field = "spec.operatingSystems[\(index)].repository.iso"
    let origin: FilePlan.Origin
    if let path = iso.localPath, !path.isEmpty {
      if let problem = Self.unusableLocalFile(path) {
        let place = locator?.locate("\(field).localPath").map {
          "\($0.file):\($0.line):\($0.column): "
        }
        return .unusable(
          "\(place ?? "")\(field).localPath \(path) \(problem); fix the path (relative paths are "
            + "from the current directory), or give repository.iso.url and checksum instead")
      }
      origin = .localFile(path)
    } else if let url = iso.url, !url.isEmpty {
      origin = .url(url)
    } else {
      return .none
    }
    let checksum: FilePlan.Checksum
    if let digest = iso.checksum {
      checksum = .manifest(digest, field: "\(field).checksum")
    } else if case .localFile = origin {
      checksum = .localFile
    } else {
      // Optional, as in KubeKey and in the template `kk create manifest` writes: fetched
      // unverified, with a warning at the url giving the sha256 to pin.
      checksum = .unverified(
        field: "\(field).checksum",
        location: locator?.locate("\(field).url").map { "\($0.file):\($0.line):\($0.column)" })
    }
    let archName = os.arch.rawValue.split(separator: "/").joined(separator: "-")
    let fileName = "\(os.id)-\(os.version)-\(archName).iso"
    return .planned(
      FilePlan(
        kind: .iso, component: os.id, version: os.version, arch: os.arch, origin: origin,
        checksum: checksum,
        path: "repository/\(os.arch.rawValue)/\(os.id)/\(os.version)/\(fileName)",
        fileName: fileName, alreadyCompressed: true, pinField: "\(field).checksum"))
  }
}
