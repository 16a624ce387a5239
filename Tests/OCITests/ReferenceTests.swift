import Foundation
import Testing

@testable import OCI

@Suite struct ReferenceTests {
  static let d = "sha256:" + String(repeating: "0123456789abcdef", count: 4)

  /// input → (registry, repository, tag, digest?). Validity was cross-checked against skopeo
  /// 1.9.3's parser (which fails before any network access on a bad reference); it differs only
  /// where kk decided to: bracketed IPv6 accepted, tag+digest accepted, port above 65535 refused.
  static let valid: [(String, String, String, String?, String?)] = [
    ("busybox", "docker.io", "library/busybox", "latest", nil),
    ("busybox:1.36", "docker.io", "library/busybox", "1.36", nil),
    ("library/busybox", "docker.io", "library/busybox", "latest", nil),
    ("docker.io/busybox", "docker.io", "library/busybox", "latest", nil),
    ("index.docker.io/library/busybox:1.36", "docker.io", "library/busybox", "1.36", nil),
    (
      "registry-1.docker.io/library/nginx:1.25-alpine", "docker.io", "library/nginx", "1.25-alpine",
      nil
    ),
    ("calico/cni", "docker.io", "calico/cni", "latest", nil),
    ("calico/cni:v3.23.2", "docker.io", "calico/cni", "v3.23.2", nil),
    ("docker.io/calico/cni:v3.23.2", "docker.io", "calico/cni", "v3.23.2", nil),
    ("calico/kube-controllers:v3.27.4", "docker.io", "calico/kube-controllers", "v3.27.4", nil),
    ("calico/pod2daemon-flexvol:v3.27.4", "docker.io", "calico/pod2daemon-flexvol", "v3.27.4", nil),
    ("kubesphere/pause:3.4.1", "docker.io", "kubesphere/pause", "3.4.1", nil),
    (
      "kubesphere/kube-apiserver:v1.23.17", "docker.io", "kubesphere/kube-apiserver", "v1.23.17",
      nil
    ),
    (
      "kubesphere/k8s-dns-node-cache:1.22.20", "docker.io", "kubesphere/k8s-dns-node-cache",
      "1.22.20", nil
    ),
    ("coredns/coredns:1.8.6", "docker.io", "coredns/coredns", "1.8.6", nil),
    ("library/haproxy:2.9.6-alpine", "docker.io", "library/haproxy", "2.9.6-alpine", nil),
    ("plndr/kube-vip:v0.7.2", "docker.io", "plndr/kube-vip", "v0.7.2", nil),
    ("openebs/provisioner-localpv:3.3.0", "docker.io", "openebs/provisioner-localpv", "3.3.0", nil),
    ("flannel/flannel-cni-plugin:v1.1.2", "docker.io", "flannel/flannel-cni-plugin", "v1.1.2", nil),
    ("cilium/operator-generic:v1.15.3", "docker.io", "cilium/operator-generic", "v1.15.3", nil),
    (
      "registry.cn-beijing.aliyuncs.com/kubesphereio/kube-apiserver:v1.23.17",
      "registry.cn-beijing.aliyuncs.com", "kubesphereio/kube-apiserver", "v1.23.17", nil
    ),
    (
      "registry.cn-beijing.aliyuncs.com/kubesphereio/pause:3.9", "registry.cn-beijing.aliyuncs.com",
      "kubesphereio/pause", "3.9", nil
    ),
    ("quay.io/coreos/etcd:v3.5.0", "quay.io", "coreos/etcd", "v3.5.0", nil),
    ("quay.io/cilium/cilium:v1.15.3", "quay.io", "cilium/cilium", "v1.15.3", nil),
    ("gcr.io/google-containers/pause:3.2", "gcr.io", "google-containers/pause", "3.2", nil),
    (
      "gcr.io/distroless/static-debian12:nonroot", "gcr.io", "distroless/static-debian12",
      "nonroot", nil
    ),
    ("k8s.gcr.io/kube-proxy:v1.21.5", "k8s.gcr.io", "kube-proxy", "v1.21.5", nil),
    ("registry.k8s.io/pause:3.9", "registry.k8s.io", "pause", "3.9", nil),
    (
      "registry.k8s.io/coredns/coredns:v1.10.1", "registry.k8s.io", "coredns/coredns", "v1.10.1",
      nil
    ),
    (
      "registry.k8s.io/ingress-nginx/controller:v1.9.4@" + d, "registry.k8s.io",
      "ingress-nginx/controller",
      "v1.9.4", d
    ),
    ("ghcr.io/kube-vip/kube-vip:v0.7.2", "ghcr.io", "kube-vip/kube-vip", "v0.7.2", nil),
    (
      "ghcr.io/fluxcd/source-controller:v1.2.4", "ghcr.io", "fluxcd/source-controller", "v1.2.4",
      nil
    ),
    (
      "mcr.microsoft.com/windows/nanoserver:ltsc2022", "mcr.microsoft.com", "windows/nanoserver",
      "ltsc2022", nil
    ),
    (
      "public.ecr.aws/eks-distro/kubernetes/pause:3.9", "public.ecr.aws",
      "eks-distro/kubernetes/pause", "3.9", nil
    ),
    ("localhost/foo", "localhost", "foo", "latest", nil),
    ("localhost:5000/foo/bar:1.0", "localhost:5000", "foo/bar", "1.0", nil),
    ("127.0.0.1:5000/x", "127.0.0.1:5000", "x", "latest", nil),
    (
      "dockerhub.kubekey.local/kubesphereio/pause:3.9", "dockerhub.kubekey.local",
      "kubesphereio/pause", "3.9", nil
    ),
    ("harbor.example.com:8443/library/app:v2", "harbor.example.com:8443", "library/app", "v2", nil),
    ("myregistry:5000/team/app", "myregistry:5000", "team/app", "latest", nil),
    ("[::1]:5000/x:v1", "[::1]:5000", "x", "v1", nil),
    ("[fe80::1]/x", "[fe80::1]", "x", "latest", nil),
    ("busybox@" + d, "docker.io", "library/busybox", nil, d),
    ("docker.io/library/busybox@" + d, "docker.io", "library/busybox", nil, d),
    ("quay.io/x/y:v1@" + d, "quay.io", "x/y", "v1", d),
    ("localhost:5000/x@" + d, "localhost:5000", "x", nil, d),
    ("a/b/c/d/e:t", "docker.io", "a/b/c/d/e", "t", nil),
    (
      "foo_bar/baz__qux/a.b/c---d:TAG_Upper.case-1", "docker.io", "foo_bar/baz__qux/a.b/c---d",
      "TAG_Upper.case-1", nil
    ),
    ("busybox:_under", "docker.io", "library/busybox", "_under", nil),
    (
      "busybox:" + String(repeating: "t", count: 128), "docker.io", "library/busybox",
      String(repeating: "t", count: 128), nil
    ),
    ("Quay.IO/x/y", "Quay.IO", "x/y", "latest", nil),
  ]

  @Test(arguments: valid)
  func parses(
    _ input: String, _ registry: String, _ repository: String, _ tag: String?, _ digest: String?
  ) throws {
    let reference = try Reference(parsing: input)
    #expect(reference.registry == registry)
    #expect(reference.repository == repository)
    #expect(reference.tag == tag)
    #expect(reference.digest?.description == digest)
    var expected = "\(registry)/\(repository)"
    if let tag { expected += ":\(tag)" }
    if let digest { expected += "@\(digest)" }
    #expect(reference.description == expected)
    // The normalised form is a fixed point.
    #expect(try Reference(parsing: reference.description) == reference)
  }

  /// input → a fragment the error message must contain, so the user learns what is wrong.
  static let invalid: [(String, String)] = [
    ("", "empty"),
    ("Busybox", "lower-case"),
    ("Calico/cni:v3.23.2", "lower-case"),
    ("docker.io/Library/busybox", "lower-case"),
    ("quay.io/Coreos/etcd", "lower-case"),
    ("busybox:", "bad tag"),
    ("busybox:-dash", "bad tag"),
    ("busybox:.dot", "bad tag"),
    ("busybox:" + String(repeating: "t", count: 129), "bad tag"),
    ("busybox:a+b", "bad tag"),
    ("busybox@sha256:abc", "bad digest"),
    ("busybox@md5:d41d8cd98f00b204e9800998ecf8427e", "unsupported digest algorithm"),
    ("busybox@sha256:" + String(repeating: "A", count: 64), "bad digest"),
    ("busybox@", "bad digest"),
    ("@" + d, "name is missing"),
    (":tag", "name is missing"),
    ("foo//bar", "empty path component"),
    ("foo/", "empty path component"),
    ("/foo", "empty path component"),
    ("quay.io/", "empty path component"),
    ("-foo/bar", "repository component '-foo'"),
    ("foo/bar-", "repository component 'bar-'"),
    ("foo/a___b", "repository component 'a___b'"),
    ("foo/a..b", "repository component 'a..b'"),
    ("foo/a.-b", "repository component 'a.-b'"),
    ("host.-x.io/foo", "registry host"),
    ("host..io/foo", "empty label"),
    ("localhost:port/foo", "invalid port"),
    ("localhost:99999/foo", "invalid port"),
    ("localhost:/foo", "invalid port"),
    ("[::1/foo", "IPv6"),
    ("[zz::1]:5000/foo", "IPv6"),
    ("bus box", "whitespace"),
    ("busybox\n", "whitespace"),
    (String(repeating: "a", count: 64), "image ID"),
    ("quay.io/" + String(repeating: "a", count: 250), "255"),
  ]

  @Test(arguments: invalid)
  func rejects(_ input: String, _ fragment: String) {
    do {
      let reference = try Reference(parsing: input)
      Issue.record("accepted '\(input)' as \(reference)")
    } catch {
      #expect(error.description.contains(fragment), "message: \(error.description)")
      #expect(
        error.description.contains("'\(input)'"),
        "message must name the input: \(error.description)")
    }
  }

  @Test func tableIsLargeEnough() {
    #expect(Self.valid.count + Self.invalid.count >= 80)
  }

  @Test func apiHostAndManifestReference() throws {
    let hub = try Reference(parsing: "busybox")
    #expect(hub.apiHost == "registry-1.docker.io")
    #expect(hub.manifestReference == "latest")
    let quay = try Reference(parsing: "quay.io/x/y:v1@" + Self.d)
    #expect(quay.apiHost == "quay.io")
    #expect(quay.manifestReference == Self.d)
    #expect(try Reference(parsing: "localhost:5000/x").apiHost == "localhost:5000")
    #expect(quay.name == "quay.io/x/y")
  }

  @Test func spellingsOfOneImageAreEqual() throws {
    let spellings = [
      "busybox", "library/busybox", "docker.io/busybox", "docker.io/library/busybox:latest",
      "index.docker.io/library/busybox", "registry-1.docker.io/busybox:latest",
    ]
    let parsed = try spellings.map { try Reference(parsing: $0) }
    #expect(Set(parsed).count == 1)
  }

  @Test func movesToPrivateRegistry() throws {
    let cni = try Reference(parsing: "calico/cni:v3.23.2")
    #expect(
      try cni.moved(toRegistry: "dockerhub.kubekey.local", namespace: "kubesphereio").description
        == "dockerhub.kubekey.local/kubesphereio/cni:v3.23.2")
    #expect(
      try cni.moved(toRegistry: "localhost:5000").description == "localhost:5000/calico/cni:v3.23.2"
    )
    #expect(throws: OCIError.self) { try cni.moved(toRegistry: "bad host") }
    #expect(throws: OCIError.self) { try cni.moved(toRegistry: "h.io", namespace: "Upper") }
  }

  @Test func withTagAndDigest() throws {
    let pinned = try Reference(parsing: "quay.io/x/y:v1@" + Self.d)
    #expect(try pinned.withTag("v2").description == "quay.io/x/y:v2")
    #expect(throws: OCIError.self) { try pinned.withTag("-bad") }
    let digest = try Digest(parsing: "sha256:" + Fixtures.hex("e"))
    #expect(
      try Reference(parsing: "busybox").withDigest(digest).description
        == "docker.io/library/busybox:latest@\(digest)")
  }

  @Test func codableAsString() throws {
    let reference = try Reference(parsing: "calico/cni:v3.23.2")
    let data = try JSONEncoder.sorted.encode([reference])
    #expect(String(decoding: data, as: UTF8.self) == #"["docker.io/calico/cni:v3.23.2"]"#)
    #expect(try JSONDecoder().decode([Reference].self, from: data) == [reference])
    #expect(throws: DecodingError.self) {
      try JSONDecoder().decode([Reference].self, from: #"["Bad/Name"]"#.data)
    }
  }
}
