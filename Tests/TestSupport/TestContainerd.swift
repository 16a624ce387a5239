import Foundation

/// A private containerd for one test: its own root, state and socket in a temporary
/// directory, no CRI plugin.
///
/// Why: `kk images push` must leave images that containerd — what Kubernetes nodes
/// actually run — can pull. Tests drive it with `ctr`:
///
///     try await withTestContainerd { containerd in
///         try await containerd.ctr(["images", "pull", "--plain-http", "--all-platforms",
///                                   registry.host + "/kk-test/app-00:v1.0.0"])
///     }
///
/// Needs root (it mounts snapshots); check ``isAvailable`` to skip elsewhere.
public final class TestContainerd: @unchecked Sendable {
  /// The gRPC socket, for `ctr --address`.
  public let socketPath: String
  /// The namespace ``ctr(_:timeout:)`` uses, as on Kubernetes nodes.
  public let namespace: String
  private let scratch: TemporaryDirectory
  private let server: GuardedProcess

  /// True when containerd and ctr are installed and the test runs as root.
  public static var isAvailable: Bool {
    getuid() == 0 && ProcessRunner.which("containerd") != nil && ProcessRunner.which("ctr") != nil
  }

  private init(scratch: TemporaryDirectory, server: GuardedProcess, namespace: String) {
    self.scratch = scratch
    self.server = server
    self.socketPath = scratch.path + "/containerd.sock"
    self.namespace = namespace
  }

  deinit { scratch.remove() }

  /// Starts containerd and returns once `ctr version` reaches it.
  public static func start(namespace: String = "k8s.io") async throws -> TestContainerd {
    _ = try ProcessRunner.require("containerd")
    _ = try ProcessRunner.require("ctr")
    // Short prefix: the socket path must stay under the 108-byte sun_path limit.
    let scratch = try TemporaryDirectory(prefix: "kk-ctrd")
    let dir = scratch.path
    let config = """
      version = 2
      root = "\(dir)/root"
      state = "\(dir)/state"
      disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", \
      "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", \
      "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.opt"]
      [grpc]
        address = "\(dir)/containerd.sock"
      [ttrpc]
        address = "\(dir)/containerd.sock.ttrpc"
      [debug]
        address = ""
      [metrics]
        address = ""

      """
    do {
      try Data(config.utf8).write(to: URL(fileURLWithPath: dir + "/config.toml"))
      let server = try GuardedProcess(
        name: "containerd", command: ["containerd", "--config", dir + "/config.toml"],
        logPath: dir + "/containerd.log", cleanupIfOrphaned: dir)
      let containerd = TestContainerd(scratch: scratch, server: server, namespace: namespace)
      do {
        let socket = containerd.socketPath
        try await waitUntilReady(server) { unixSocketAccepts(socket) }
        try await retrying(server) {
          try await ProcessRunner.run(
            "ctr", ["--address", containerd.socketPath, "version"], timeout: .seconds(5)
          ).succeeded
        }
      } catch {
        await containerd.stop()
        throw error
      }
      return containerd
    } catch {
      scratch.remove()
      throw error
    }
  }

  /// Runs `ctr --address SOCKET -n NAMESPACE <arguments>` and throws unless it exits 0.
  @discardableResult
  public func ctr(_ arguments: [String], timeout: Duration = .seconds(600)) async throws
    -> ProcessOutput
  {
    try await ProcessRunner.checked(
      "ctr", ["--address", socketPath, "-n", namespace] + arguments, timeout: timeout)
  }

  /// The image names containerd holds in ``namespace`` (`ctr images ls -q`).
  public func imageNames() async throws -> [String] {
    try await ctr(["images", "ls", "-q"]).stdout.split(whereSeparator: \.isNewline).map(String.init)
  }

  /// Stops containerd (unmounting nothing: no containers run) and deletes its directory.
  public func stop() async {
    await server.stop()
    scratch.remove()
  }
}

/// Runs `body` with a fresh containerd and stops it afterwards, also when `body` throws.
public func withTestContainerd<T>(_ body: (TestContainerd) async throws -> T) async throws -> T {
  let containerd = try await TestContainerd.start()
  do {
    let result = try await body(containerd)
    await containerd.stop()
    return result
  } catch {
    await containerd.stop()
    throw error
  }
}
