/// What a store promises about committed blobs after a power cut (a crash or `kill -9` of
/// kk never loses a committed blob either way: the page cache outlives the process).
public enum BlobDurability: Sendable, Hashable {
  /// Bytes are written back while they arrive and `fdatasync`ed before the rename, and the
  /// directory is synced before `index.json` names them: a committed blob survives a power
  /// cut. For layouts users keep (`kk image copy`, `kk artifact import`).
  case synced
  /// Only the atomic rename after the digest check: a blob committed shortly before a power
  /// cut may come back missing, empty or torn. For a store every reader verifies and can
  /// refill — the export cache: its blobs are hashed again when a later export packs them,
  /// and a bad one is removed and fetched again. Saves a forced write of every byte while an
  /// export is also writing the artifact (on the bench, ~0.4 s of blocked downloads and the
  /// disk bandwidth the artifact needs).
  case rebuildable
}
