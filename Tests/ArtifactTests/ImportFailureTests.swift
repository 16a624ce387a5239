import Blobstore
import Foundation
import OCI
import Testing

@testable import Artifact

#if canImport(Glibc)
  import Glibc
#endif

/// How an import fails: a full disk is the directory's problem, never a corrupt blob (QA F1);
/// what `kk artifact verify` refuses, import refuses, in words a user can act on (QA F7).
@Suite("ArtifactImporter failures")
struct ImportFailureTests {
  @Test func tooLittleFreeSpaceIsRefusedUpFrontWithTheNumbers() async throws {
    let fixture = try await ImportFixture()
    let archive = try fixture.pack("a.tar.gz")
    let needed = try fixture.blobBytes()
    let dir = fixture.scratch.path + "/kubekey"
    var asked: [String] = []
    #expect {
      try ArtifactImporter.importArtifact(
        archive: archive, into: dir,
        freeSpace: { path in
          asked.append(path)
          return needed - 1
        })
    } throws: { error in
      guard case .noSpace(let directory, let need, let free) = error as? ImportError else {
        return false
      }
      let text = "\(error)"
      return directory == dir && need == needed && free == needed - 1
        && text.contains("no space left in \(dir)") && text.contains("choose another --dir")
        && !text.contains("corrupt")
    }
    #expect(asked == [dir])
    #expect(!FileManager.default.fileExists(atPath: dir), "nothing is written before the check")

    // Exactly enough is enough: the estimate is the blobs' total, not more.
    let report = try ArtifactImporter.importArtifact(
      archive: archive, into: dir, freeSpace: { _ in needed })
    #expect(report.bytesVerified == needed)
  }

  /// An entry that cannot fit in what is left (a decompression bomb, or a disk filling up
  /// during the import) is refused before its first byte is written.
  @Test func anEntryLargerThanTheFreeSpaceIsRefusedBeforeItIsWritten() async throws {
    let fixture = try await ImportFixture()
    let archive = try fixture.pack("a.tar.gz")
    let needed = try fixture.blobBytes()
    let dir = fixture.scratch.path + "/new/kubekey"
    var calls = 0
    #expect {
      try ArtifactImporter.importArtifact(
        archive: archive, into: dir,
        freeSpace: { _ in
          // Enough for the up-front estimate, then the disk is (nearly) full.
          calls += 1
          return calls == 1 ? needed : 1000
        })
    } throws: { error in
      guard
        case .entryTooLarge(let directory, let entry, let size, let free) = error as? ImportError
      else { return false }
      let text = "\(error)"
      return directory == dir && entry.hasPrefix("blobs/sha256/") && size > 1000 && free == 1000
        && text.contains("no space left in \(dir) for \(entry)") && !text.contains("corrupt")
    }
    #expect(calls > 1)
    #expect(!FileManager.default.fileExists(atPath: fixture.scratch.path + "/new"))
  }

  @Test func aFailedWriteSaysNoSpaceAndNeverCorrupt() throws {
    let digest = SHA256Hasher.digest(Array("x".utf8))
    let entry = "blobs/sha256/\(digest.encoded)"
    let full = ImportError.staging(
      entry: entry, directory: "/mnt/x/kk",
      .io(path: "/mnt/x/kk/.kk-import-staging/.ingest/a.partial", operation: "write", errno: ENOSPC)
    )
    #expect(
      "\(full)".hasPrefix("no space left in /mnt/x/kk while writing \(entry)"), "\(full)")
    #expect("\(full)".contains("free space or choose another --dir"))
    #expect(!"\(full)".contains("corrupt") && !"\(full)".contains("intact copy"))
    let limit = ImportError.staging(
      entry: entry, directory: "/d", .io(path: "/d/x", operation: "write", errno: EFBIG))
    #expect("\(limit)".contains("cannot write \(entry) into /d: File too large"), "\(limit)")
    #expect(!"\(limit)".contains("corrupt"))
  }

  @Test func corruptBlobGivesOneHint() async throws {
    let fixture = try await ImportFixture()
    let bad = try #require(fixture.images.images.first?.manifests.first?.layers.first)
    let archive = try fixture.pack("bad.tar", damaging: bad)
    let dir = fixture.scratch.path + "/kubekey"
    let error = try #require(
      throws: ImportError.self,
      performing: { try ArtifactImporter.importArtifact(archive: archive, into: dir) })
    let text = "\(error)"
    #expect(text.hasPrefix("blobs/sha256/\(bad.encoded) is corrupt: "), "\(text)")
    #expect(!text.contains("fetch the blob again"), "\(text)")
    #expect(text.components(separatedBy: "get an intact copy").count == 2, "\(text)")
  }

  @Test func badOCILayoutIsRefusedLikeVerifyDoes() async throws {
    let fixture = try await ImportFixture()
    let archive = try fixture.pack(
      "badlayout.tar", ociLayout: Array(#"{"imageLayoutVersion":"2.0.0"}"#.utf8))
    #expect(!(try ArtifactVerifier.verifyBlocking(path: archive)).isValid, "verify refuses it")
    let dir = fixture.scratch.path + "/kubekey"
    let error = try #require(
      throws: ImportError.self,
      performing: { try ArtifactImporter.importArtifact(archive: archive, into: dir) })
    guard case .notAnArtifact = error else {
      Issue.record("expected notAnArtifact, got \(error)")
      return
    }
    #expect("\(error)".contains("bad oci-layout"), "\(error)")
    #expect(!FileManager.default.fileExists(atPath: dir + "/images"))
    #expect(!FileManager.default.fileExists(atPath: dir + "/" + ArtifactImporter.stampName))
  }

  @Test func cutIndexJSONIsNamedWithoutSwiftTypeNames() async throws {
    let fixture = try await ImportFixture()
    let index = try fixture.indexJSON()
    let archive = try fixture.pack("badindex.tar", indexJSON: Array(index.dropLast(5)))
    let dir = fixture.scratch.path + "/kubekey"
    let error = try #require(
      throws: ImportError.self,
      performing: { try ArtifactImporter.importArtifact(archive: archive, into: dir) })
    let text = "\(error)"
    #expect(
      text.hasPrefix("index.json of \(archive) is not valid JSON (cut or edited?)"), "\(text)")
    #expect(text.contains("get an intact copy"))
    #expect(!text.contains("DecodingError") && !text.contains("Error Domain"), "\(text)")
    #expect(!FileManager.default.fileExists(atPath: dir + "/images"))
  }

  @Test func descriptorSizeVerifyRefusesIsRefused() async throws {
    // An intact blob whose index.json descriptor declares another size: verify says
    // "size mismatch"; import used to place it.
    let fixture = try await ImportFixture(filePaths: [])
    let image = try #require(fixture.images.images.first)
    var text = String(decoding: try fixture.indexJSON(), as: UTF8.self)
    let digestRange = try #require(text.range(of: "\"digest\":\"\(image.digest)\""))
    let sizeRange = try #require(
      text.range(of: "\"size\":", range: digestRange.upperBound..<text.endIndex))
    let digits = text[sizeRange.upperBound...].prefix { $0.isNumber }
    let size = try #require(Int(digits))
    text.replaceSubrange(
      sizeRange.upperBound..<text.index(sizeRange.upperBound, offsetBy: digits.count),
      with: "\(size + 1)")
    let archive = try fixture.pack("badsize.tar", indexJSON: Array(text.utf8))
    #expect(!(try ArtifactVerifier.verifyBlocking(path: archive)).isValid)
    let dir = fixture.scratch.path + "/kubekey"
    let error = try #require(
      throws: ImportError.self,
      performing: { try ArtifactImporter.importArtifact(archive: archive, into: dir) })
    guard case .failsVerification(_, let problems) = error else {
      Issue.record("expected failsVerification, got \(error)")
      return
    }
    #expect(problems.contains { $0.contains("size mismatch") }, "\(problems)")
    #expect("\(error)".contains("kk artifact verify -a \(archive)"))
    #expect(!FileManager.default.fileExists(atPath: dir + "/images"))
  }
}
