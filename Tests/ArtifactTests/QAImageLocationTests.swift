import Testing

@testable import Artifact

/// `oci:DIR:REF` with a full reference name as REF (what kk artifacts and skopeo layouts
/// use): the split used to be at the last colon, so the directory became
/// `DIR:docker.io/x/y` and the command failed with "not an OCI image layout".
@Suite struct QAImageLocationTests {
  @Test func ociReferenceMayHoldColonsAndSlashes() throws {
    #expect(
      try ImageLocation(parsing: "oci:out/layout:docker.io/calico/cni:v3.23.2")
        == .layout(path: "out/layout", reference: "docker.io/calico/cni:v3.23.2"))
    #expect(
      try ImageLocation(parsing: "oci:/tmp/l:127.0.0.1:5000/kk-test/app-00:v1.0.0")
        == .layout(path: "/tmp/l", reference: "127.0.0.1:5000/kk-test/app-00:v1.0.0"))
    #expect(
      try ImageLocation(parsing: "oci:/tmp/l:kk-test/app")
        == .layout(path: "/tmp/l", reference: "kk-test/app"))
    #expect(try ImageLocation(parsing: "oci:/tmp/l:") == .layout(path: "/tmp/l", reference: nil))
    #expect(try ImageLocation(parsing: "oci:/tmp/l") == .layout(path: "/tmp/l", reference: nil))
  }
}
