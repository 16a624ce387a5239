import OCI

/// Every file an export must fetch and store, decided before a single byte is downloaded.
///
/// The plan is the seam between the catalog (pure: manifest + options → plan) and the
/// downloader/packer (effects). Building it first means a manifest that cannot be verified
/// (a version with no known checksum) is refused in milliseconds, not after an hour of
/// downloads, and `--dry-run` shows exactly what would happen.
public struct ExportPlan: Hashable, Sendable {
  /// In catalog order: per arch, the distribution binaries, tools, runtimes, registry
  /// packages, then ISOs.
  public var files: [FilePlan]
  /// `spec.images`, unchanged (the image half of the export plans itself).
  public var images: [Reference]
  /// Arches the manifest lists.
  public var arches: [Arch]
  /// Things the user may want to know but that do not stop the export: files left out for
  /// arches without checksums, versions implied by defaults.
  public var notes: [String]
  /// Files the manifest asks for that cannot be bundled for some arch (Harbor has no arm64
  /// build): the export warns about each rather than fetch a file that can never verify.
  public var warnings: [String]

  public init(
    files: [FilePlan], images: [Reference], arches: [Arch], notes: [String] = [],
    warnings: [String] = []
  ) {
    self.files = files
    self.images = images
    self.arches = arches
    self.notes = notes
    self.warnings = warnings
  }
}

/// One file of the plan: what it is, where it comes from, how it is verified, where it goes.
public struct FilePlan: Hashable, Sendable {
  public enum Kind: String, Hashable, Sendable {
    /// A component binary or archive (`io.kubekey.artifact.kind: file`).
    case file
    /// An OS package ISO (`io.kubekey.artifact.kind: iso`).
    case iso
  }

  /// Where the bytes come from.
  public enum Origin: Hashable, Sendable, CustomStringConvertible {
    /// An HTTP(S) URL, after zone and mirror mapping.
    case url(String)
    /// A file on the machine building the bundle (`iso.localPath`), as the user wrote it.
    case localFile(String)

    public var description: String {
      switch self {
      case .url(let url): return url
      case .localFile(let path): return path
      }
    }
  }

  /// What the stored bytes must hash to, and who said so.
  public enum Checksum: Hashable, Sendable {
    /// A sha256 in the manifest; `field` is its path (`spec.components.helm.sha256.amd64`).
    case manifest(Digest, field: String)
    /// The embedded KubeKey checksum table.
    case table(Digest)
    /// Published by the project next to the file: the downloader fetches this URL (a hex
    /// digest, optionally followed by a file name) before the file and checks against it.
    case upstreamFile(url: String)
    /// A local file the user pointed at with no checksum: its own hash is taken when it is
    /// read. The user vouched for the file by naming it; there is nothing to compare with.
    case localFile
    /// An ISO `url` with no `checksum`: optional in the manifest, as in KubeKey (which never
    /// verifies ISOs), so it is fetched and stored under the sha256 of what arrived, with a
    /// warning at `location` (the url's `file:line:col`) giving that sha256 to pin in `field`.
    /// Nothing names the file before it is fetched, so every export fetches it again.
    case unverified(field: String, location: String?)

    /// The digest, when known before fetching.
    public var digest: Digest? {
      switch self {
      case .manifest(let digest, _), .table(let digest): return digest
      case .upstreamFile, .localFile, .unverified: return nil
      }
    }

    /// `manifest`, `table`, `upstream`, `local` or `none`: the dry-run column.
    public var sourceName: String {
      switch self {
      case .manifest: return "manifest"
      case .table: return "table"
      case .upstreamFile: return "upstream"
      case .localFile: return "local"
      case .unverified: return "none"
      }
    }
  }

  public var kind: Kind
  /// Catalog id (`kubeadm`, `kubecni`, `registry`) or, for an ISO, the OS id (`ubuntu`).
  public var component: String
  public var version: String
  public var arch: Arch
  public var origin: Origin
  public var checksum: Checksum
  /// KubeKey work-dir path: `kube/v1.22.12/amd64/kubeadm`.
  public var path: String
  /// Last path element, the layer's `org.opencontainers.image.title`.
  public var fileName: String
  /// When set, `origin` is a tar.gz and the stored file is this member of it; ``checksum``
  /// applies to the extracted member, not the download (helm: `linux-amd64/helm`).
  public var extract: String?
  /// True when the stored bytes are already compressed (tarballs, ISOs of packages), so the
  /// packer stores them without deflating again.
  public var alreadyCompressed: Bool
  /// The manifest field that pins this file's sha256
  /// (`spec.kubernetesDistributions[0].sha256.kubeadm.amd64`), nil for an implied file the
  /// manifest has no field for (runc, cri-dockerd): a checksum mismatch names it, so "pin
  /// its sha256" says where.
  public var pinField: String?

  public init(
    kind: Kind, component: String, version: String, arch: Arch, origin: Origin,
    checksum: Checksum, path: String, fileName: String, extract: String? = nil,
    alreadyCompressed: Bool, pinField: String? = nil
  ) {
    self.pinField = pinField
    self.kind = kind
    self.component = component
    self.version = version
    self.arch = arch
    self.origin = origin
    self.checksum = checksum
    self.path = path
    self.fileName = fileName
    self.extract = extract
    self.alreadyCompressed = alreadyCompressed
  }

  /// The URL of `origin`, if it is one.
  public var url: String? {
    if case .url(let url) = origin { return url }
    return nil
  }

  /// `artifactType` of the file's OCI artifact manifest (SPEC.md §1.3).
  public var artifactType: String {
    kind == .iso ? MediaType.kubekeyISO : MediaType.kubekeyFile
  }

  /// Annotations of the file's `index.json` entry (SPEC.md §1.2), once its digest is known
  /// (for ``Checksum/upstreamFile(url:)``, ``Checksum/localFile`` and
  /// ``Checksum/unverified(field:location:)`` only after fetching).
  public func indexAnnotations(digest: Digest) -> [String: String] {
    [
      AnnotationKey.artifactKind: kind.rawValue,
      AnnotationKey.component: component,
      AnnotationKey.version: version,
      AnnotationKey.arch: arch.rawValue,
      AnnotationKey.path: path,
      AnnotationKey.upstreamDigest: digest.description,
    ]
  }

  /// Annotations of the file's single layer (SPEC.md §1.3).
  public var layerAnnotations: [String: String] {
    [AnnotationKey.title: fileName]
  }

  /// True for names that are compressed archives or package ISOs.
  static func isCompressedName(_ name: String) -> Bool {
    [".tar.gz", ".tgz", ".gz", ".zst", ".xz", ".bz2", ".zip", ".iso"].contains {
      name.hasSuffix($0)
    }
  }
}
