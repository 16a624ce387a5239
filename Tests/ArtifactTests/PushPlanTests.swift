import Foundation
import OCI
import Testing

@testable import Artifact

/// SPEC 4 name mapping and the checks made before anything is sent.
@Suite("PushPlanner")
struct PushPlanTests {
  /// An index.json naming `refs`, each pointing at its own (tiny) manifest.
  func layout(_ refs: [String]) throws -> (index: [UInt8], manifests: [Digest: [UInt8]]) {
    var manifests: [Digest: [UInt8]] = [:]
    var entries: [Descriptor] = []
    for (number, ref) in refs.enumerated() {
      let config = Descriptor(
        mediaType: MediaType.ociConfig, bytes: Array("{\"n\":\(number)}".utf8))
      let manifest = ImageManifest(config: config, layers: [])
      let bytes = try ManifestBytes(encoding: manifest)
      manifests[bytes.digest] = bytes.bytes
      var entry = bytes.descriptor
      entry.annotations = [AnnotationKey.refName: ref]
      entries.append(entry)
    }
    let index = try CanonicalJSON.encode(ImageIndex(manifests: entries))
    return (index, manifests)
  }

  func plan(
    _ refs: [String], registry: String = "dockerhub.kubekey.local", path: String? = nil,
    namespace: String? = nil, patterns: [String] = []
  ) throws -> PushPlan {
    let (index, manifests) = try layout(refs)
    let config = ClusterRegistryConfig(
      privateRegistry: .init(host: registry, path: path), namespaceOverride: namespace)
    let outcome = try PushPlanner.plan(
      indexJSON: index, manifest: { manifests[$0] }, target: { try config.pushTarget(for: $0) },
      patterns: patterns)
    guard case .complete(let plan) = outcome else {
      throw PushError.source("incomplete")
    }
    return plan
  }

  func targets(_ plan: PushPlan) -> [String] {
    plan.images.flatMap { image in
      image.tags.map { "\(image.target.registry)/\(image.target.repository):\($0)" }
    }
  }

  @Test func sourceHostIsDroppedAndPathKept() throws {
    let result = try plan(["docker.io/calico/cni:v3.23.2", "registry.k8s.io/pause:3.9"])
    #expect(
      targets(result) == [
        "dockerhub.kubekey.local/calico/cni:v3.23.2", "dockerhub.kubekey.local/pause:3.9",
      ])
  }

  @Test func privateRegistryPathAndNamespaceOverride() throws {
    let result = try plan(
      ["docker.io/calico/cni:v3.23.2", "quay.io/a/b/c:1"], registry: "10.0.0.5:5000",
      path: "kubesphere", namespace: "kubesphereio")
    #expect(
      targets(result) == [
        "10.0.0.5:5000/kubesphere/kubesphereio/cni:v3.23.2",
        "10.0.0.5:5000/kubesphere/kubesphereio/c:1",
      ])
  }

  @Test func twoImagesOnOneTargetAreRefusedBeforeAnything() throws {
    #expect {
      try plan(["docker.io/calico/cni:v1", "quay.io/other/cni:v1"], namespace: "ns")
    } throws: { error in
      guard case .conflictingTargets(let target, let sources) = error as? PushError else {
        return false
      }
      return target == "dockerhub.kubekey.local/ns/cni:v1" && sources.count == 2
    }
    #expect(throws: PushError.self) {
      try plan(["docker.io/calico/cni:v1", "quay.io/calico/cni:v1"])
    }
  }

  /// The tag is named after the digest that is pushed (which export keeps equal to the pinned
  /// one), never after a source digest the pushed content may not have.
  @Test func digestOnlyImageAlsoGetsASha256Tag() throws {
    let hex = String(repeating: "ab", count: 32)
    let result = try plan(["docker.io/library/busybox@sha256:\(hex)"])
    let pushed = try #require(result.images.first?.root.digest)
    #expect(pushed.encoded != hex)
    #expect(
      targets(result) == ["dockerhub.kubekey.local/library/busybox:sha256-\(pushed.encoded)"])
  }

  /// A skopeo `oci:DIR:v1.0` layout names its entry `v1.0`: refused with what to run instead,
  /// never pushed as `library/v1.0:latest`. A one-word name with containerd's full-name
  /// annotation is an image name.
  @Test func bareTagRefNameIsRefusedNotReadAsAnImageName() throws {
    #expect {
      try plan(["v1.0"])
    } throws: { error in
      guard case .badReference(let name, let reason) = error as? PushError else { return false }
      return name == "v1.0" && reason.contains("bare tag") && reason.contains("kk image copy")
    }
    let (rawIndex, manifests) = try layout(["busybox"])
    var decoded = try JSONDecoder().decode(ImageIndex.self, from: Data(rawIndex))
    decoded.manifests[0].annotations?[AnnotationKey.containerdImageName] =
      "docker.io/library/busybox:latest"
    let index = try CanonicalJSON.encode(decoded)
    let config = ClusterRegistryConfig(privateRegistry: .init(host: "reg.local", path: nil))
    let outcome = try PushPlanner.plan(
      indexJSON: index, manifest: { manifests[$0] }, target: { try config.pushTarget(for: $0) },
      patterns: [])
    guard case .complete(let planned) = outcome else {
      Issue.record("plan incomplete")
      return
    }
    #expect(targets(planned) == ["reg.local/library/busybox:latest"])
  }

  @Test func imagePatternsSelectBySourceReference() throws {
    let refs = ["docker.io/calico/cni:v1", "docker.io/calico/node:v1", "registry.k8s.io/pause:3.9"]
    #expect(targets(try plan(refs, patterns: ["docker.io/calico/*"])).count == 2)
    #expect(targets(try plan(refs, patterns: ["*pause*", "*/node:*"])).count == 2)
    #expect(throws: PushError.self) { try plan(refs, patterns: ["nothing/*"]) }
  }

  /// A typo among several `--image` patterns used to go unnoticed (the others matched);
  /// the plan now names it for the command to warn about.
  @Test func aPatternThatMatchesNothingAmongOthersIsReported() throws {
    let plan = try plan(["docker.io/a/b:1", "docker.io/c/d:2"], patterns: ["*a/b*", "zzz"])
    #expect(targets(plan) == ["dockerhub.kubekey.local/a/b:1"])
    #expect(plan.unmatchedPatterns == ["zzz"])
  }

  @Test func missingManifestLeavesThePlanWaiting() throws {
    let (index, _) = try layout(["docker.io/a/b:1"])
    let outcome = try PushPlanner.plan(
      indexJSON: index, manifest: { _ in nil },
      target: { try $0.moved(toRegistry: "r.local") })
    guard case .waiting(let missing) = outcome else {
      Issue.record("expected waiting")
      return
    }
    #expect(missing.count == 1)
  }

  /// A multi-arch tag and a per-arch tag of the same image (calico's `v3.27.4` and
  /// `v3.27.4-amd64`, both listed in a manifest): the second names a platform manifest of
  /// the first, and is still an image to push (it used to be skipped silently, exit 0).
  /// Only the views `kk artifact import` adds, annotated `platform-of`, are skipped.
  @Test func aPerArchTagOfAnotherImageIsPushedButImportViewsAreNot() throws {
    let config = Descriptor(mediaType: MediaType.ociConfig, bytes: Array("{}".utf8))
    let amd64 = try ManifestBytes(encoding: ImageManifest(config: config, layers: []))
    var child = amd64.descriptor
    child.platform = Platform(os: "linux", architecture: "amd64")
    let index = try ManifestBytes(encoding: ImageIndex(manifests: [child]))
    var multi = index.descriptor
    multi.annotations = [AnnotationKey.refName: "docker.io/calico/node:v3.27.4"]
    var perArch = amd64.descriptor
    perArch.annotations = [AnnotationKey.refName: "docker.io/calico/node:v3.27.4-amd64"]
    var view = amd64.descriptor
    view.annotations = [
      AnnotationKey.refName: "docker.io/calico/node:v3.27.4-amd64",
      AnnotationKey.platformOf: "docker.io/calico/node:v3.27.4",
    ]
    let manifests = [amd64.digest: amd64.bytes, index.digest: index.bytes]
    let registry = ClusterRegistryConfig(privateRegistry: .init(host: "r.local"))
    func planned(_ entries: [Descriptor]) throws -> [String] {
      let outcome = try PushPlanner.plan(
        indexJSON: try CanonicalJSON.encode(ImageIndex(manifests: entries)),
        manifest: { manifests[$0] }, target: { try registry.pushTarget(for: $0) })
      guard case .complete(let plan) = outcome else { throw PushError.source("incomplete") }
      return targets(plan)
    }
    #expect(
      try planned([multi, perArch]) == [
        "r.local/calico/node:v3.27.4", "r.local/calico/node:v3.27.4-amd64",
      ])
    #expect(try planned([multi, view]) == ["r.local/calico/node:v3.27.4"])
  }

  /// `ctr export` writes only the tag in ref.name and the full name in
  /// io.containerd.image.name: the containerd name is the source (SPEC 5.1).
  @Test func theContainerdNameWinsOverRefName() throws {
    let config = Descriptor(mediaType: MediaType.ociConfig, bytes: Array("{}".utf8))
    let manifest = try ManifestBytes(encoding: ImageManifest(config: config, layers: []))
    var entry = manifest.descriptor
    entry.annotations = [
      AnnotationKey.refName: "docker.io/x/y:1",
      AnnotationKey.containerdImageName: "docker.io/x/fromctr:2",
    ]
    let registry = ClusterRegistryConfig(privateRegistry: .init(host: "r.local"))
    let outcome = try PushPlanner.plan(
      indexJSON: try CanonicalJSON.encode(ImageIndex(manifests: [entry])),
      manifest: { $0 == manifest.digest ? manifest.bytes : nil },
      target: { try registry.pushTarget(for: $0) })
    guard case .complete(let plan) = outcome else {
      Issue.record("incomplete")
      return
    }
    #expect(targets(plan) == ["r.local/x/fromctr:2"])
  }
}
