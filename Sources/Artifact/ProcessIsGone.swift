#if canImport(Glibc)
  import Glibc
#endif

/// Whether process `pid` is gone: `kill(pid, 0)` fails with ESRCH. A process we may not
/// signal (EPERM) exists, and a pid that cannot name one process (0, negative) is never
/// "gone". Used to reclaim temp files and directories whose names carry the pid of a run
/// that was killed (SIGKILL leaves no chance to clean up).
public func processIsGone(_ pid: Int32) -> Bool {
  guard pid > 0 else { return false }
  return kill(pid, 0) != 0 && errno == ESRCH
}
