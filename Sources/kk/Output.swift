import ArgumentParser
import Foundation

/// Human-facing formatting shared by the commands.
enum Output {
  /// `1.5 GiB`, `734.0 MiB`, `12 B`: binary units, as `du -h` and skopeo print them.
  static func bytes(_ count: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(count)
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
      value /= 1024
      unit += 1
    }
    return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
  }

  static func rate(_ count: Int64, seconds: Double) -> String {
    guard seconds > 0 else { return "-" }
    return bytes(Int64(Double(count) / seconds)) + "/s"
  }

  /// `1 image`, `2 images`.
  static func count(_ n: Int, _ noun: String) -> String {
    "\(n) \(noun)\(n == 1 ? "" : "s")"
  }

  /// `sha256:0123456789ab`: enough to tell digests apart in a table.
  static func shortDigest(_ digest: String) -> String {
    guard let colon = digest.firstIndex(of: ":") else { return digest }
    return String(digest[...colon]) + digest[digest.index(after: colon)...].prefix(12)
  }

  /// Left-aligned columns separated by two spaces; the last column is not padded.
  static func table(_ header: [String], _ rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    return all.map { row in
      row.enumerated().map { column, cell in
        column == row.count - 1
          ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
      }.joined(separator: "  ")
    }.joined(separator: "\n")
  }

  /// Each line of `message` as a `kk: error:` line: an error listing several problems
  /// (every bad field of a manifest) gives one prefixed line per problem, so a script that
  /// greps `kk: error:` sees them all.
  static func error(_ message: String) {
    let lines = message.split(separator: "\n", omittingEmptySubsequences: true)
    let text = (lines.isEmpty ? [Substring(message)] : lines).map { "kk: error: \($0)\n" }
    FileHandle.standardError.write(Data(text.joined().utf8))
  }

  static func warning(_ message: String) {
    FileHandle.standardError.write(Data("kk: warning: \(message)\n".utf8))
  }
}

/// Runs a command body, turning any error into one clear line on stderr and exit code 1:
/// users see what failed and what to do, never a Swift type dump or a stack trace.
func reportingFailures(_ body: () async throws -> Void) async throws {
  do {
    try await body()
  } catch let exit as ExitCode {
    throw exit
  } catch {
    Output.error(String(describing: error))
    throw ExitCode.failure
  }
}
