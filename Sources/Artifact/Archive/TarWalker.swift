/// Follows a tar stream's headers to learn where each regular entry's data is, for
/// `ArchiveMap`: the bytes it is fed are headers (and small data), while large data comes as
/// placements it is told about (a gzip data member, a file offset) and is never read.
///
/// It understands what kk writes (ustar headers, pax `x` records for `path` and `size`, global
/// `g` records skipped) and nothing more: anything else (links, directories, GNU long names,
/// data split oddly between placements) makes it give up, and the caller falls back to
/// reading the archive as a stream, which reports such entries properly.
struct TarWalker {
  typealias Entry = ArchiveMap.Entry

  private enum State {
    case header
    /// A pax extended header's records, `remaining` bytes still to come.
    case pax(remaining: Int, records: [UInt8], padding: Int)
    /// A regular entry's data.
    case data(Data)
    /// Padding or an ignored record's bytes.
    case skip(Int64)
    /// Two zero blocks were seen.
    case end
  }

  private struct Data {
    let name: String
    let size: Int64
    var remaining: Int64
    var inline: [UInt8] = []
    var spans: [ArchiveMap.MemberSpan] = []
    var overBudget = false
  }

  static let block = 512

  /// Bytes of entry data kept in memory at most (beyond that entries are `.unavailable`).
  let inlineLimit: Int
  private(set) var entries: [String: Entry] = [:]
  private(set) var names: [String] = []
  private var state = State.header
  private var partial: [UInt8] = []
  private var inlineBytes = 0
  private var zeroBlocks = 0
  private var paxPath: String?
  private var paxSize: Int64?

  init(inlineLimit: Int) { self.inlineLimit = inlineLimit }

  var ended: Bool { if case .end = state { return true } else { return false } }

  /// The entry whose data is being read, if any: the one a file cut short ends inside.
  var currentEntry: String? {
    if case .data(let data) = state { return data.name } else { return nil }
  }

  /// Whether a regular entry's data is next (for a plain tar, whose data is not fed).
  var dataSize: Int64? {
    if case .data(let data) = state { return data.remaining } else { return nil }
  }

  /// Takes the next bytes of the tar stream; false when the stream is not one it can follow.
  mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Bool {
    var index = 0
    while index < bytes.count {
      let left = bytes.count - index
      switch state {
      case .end:
        return true
      case .header:
        let take = min(Self.block - partial.count, left)
        partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<index + take]))
        index += take
        if partial.count == Self.block {
          let header = partial
          partial.removeAll(keepingCapacity: true)
          guard begin(header) else { return false }
        }
      case .pax(let remaining, var records, let padding):
        let take = min(remaining, left)
        records.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<index + take]))
        index += take
        if take == remaining {
          guard readPax(records) else { return false }
          state = .skip(Int64(padding))
        } else {
          state = .pax(remaining: remaining - take, records: records, padding: padding)
        }
      case .data(var data):
        guard data.spans.isEmpty else { return false }
        let take = Int(min(Int64(left), data.remaining))
        if !data.overBudget && inlineBytes + take <= inlineLimit {
          data.inline.append(
            contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<index + take]))
          inlineBytes += take
        } else {
          data.overBudget = true
          inlineBytes -= data.inline.count
          data.inline = []
        }
        index += take
        data.remaining -= Int64(take)
        guard finishIfComplete(data) else { return false }
      case .skip(let count):
        let take = Int(min(Int64(left), count))
        index += take
        state = count == Int64(take) ? .header : .skip(count - Int64(take))
      }
    }
    if case .skip(0) = state { state = .header }
    return true
  }

  /// The next `span.data` bytes of the current entry are in a gzip data member of their own.
  mutating func member(_ span: ArchiveMap.MemberSpan) -> Bool {
    guard case .data(var data) = state, data.inline.isEmpty, !data.overBudget,
      span.data <= data.remaining
    else { return false }
    data.spans.append(span)
    data.remaining -= span.data
    return finishIfComplete(data)
  }

  /// The current entry's data lies at `offset` of a plain tar; returns the bytes to skip to
  /// the next header (data and padding).
  mutating func contiguous(at offset: Int64) -> Int64? {
    guard case .data(let data) = state, data.inline.isEmpty, data.remaining == data.size else {
      return nil
    }
    guard add(Entry(name: data.name, size: data.size, placement: .contiguous(offset: offset)))
    else { return nil }
    state = .header
    return data.size + Self.padding(data.size)
  }

  static func padding(_ size: Int64) -> Int64 {
    (Int64(block) - size % Int64(block)) % Int64(block)
  }

  private mutating func finishIfComplete(_ data: Data) -> Bool {
    guard data.remaining == 0 else {
      state = .data(data)
      return true
    }
    let placement: ArchiveMap.Placement =
      !data.spans.isEmpty
      ? .members(data.spans) : data.overBudget ? .unavailable : .inline(data.inline)
    guard add(Entry(name: data.name, size: data.size, placement: placement)) else { return false }
    state = .skip(Self.padding(data.size))
    if case .skip(0) = state { state = .header }
    return true
  }

  /// Records an entry under its canonical name (`EntryName`, as the stream reader names it);
  /// an unsafe or duplicate name is left to the stream reader, which refuses it properly.
  private mutating func add(_ raw: Entry) -> Bool {
    guard case .success(let name) = EntryName.normalize(raw.name), entries[name] == nil else {
      return false
    }
    entries[name] = Entry(name: name, size: raw.size, placement: raw.placement)
    names.append(name)
    return true
  }

  /// A 512-byte header block: sets the state for what follows it.
  private mutating func begin(_ header: [UInt8]) -> Bool {
    if header.allSatisfy({ $0 == 0 }) {
      zeroBlocks += 1
      if zeroBlocks == 2 { state = .end }
      return true
    }
    guard zeroBlocks == 0, let parsed = TarHeader(header) else { return false }
    switch parsed.type {
    case UInt8(ascii: "x"):
      guard parsed.size < 1 << 20 else { return false }
      state = .pax(
        remaining: Int(parsed.size), records: [], padding: Int(Self.padding(parsed.size)))
      if parsed.size == 0 { state = .header }
    case UInt8(ascii: "g"):
      state = .skip(parsed.size + Self.padding(parsed.size))
    case UInt8(ascii: "0"), 0:
      let name = paxPath ?? parsed.name
      let size = paxSize ?? parsed.size
      (paxPath, paxSize) = (nil, nil)
      return finishIfComplete(Data(name: name, size: size, remaining: size))
    default:
      return false
    }
    if case .skip(0) = state { state = .header }
    return true
  }

  /// `path` and `size` from pax records (`"<len> <key>=<value>\n"`).
  private mutating func readPax(_ records: [UInt8]) -> Bool {
    var index = 0
    while index < records.count {
      guard let space = records[index...].firstIndex(of: UInt8(ascii: " ")),
        let length = Int(String(decoding: records[index..<space], as: UTF8.self)), length > 0,
        index + length <= records.count, records[index + length - 1] == UInt8(ascii: "\n")
      else { return false }
      let record = records[(space + 1)..<(index + length - 1)]
      if let equals = record.firstIndex(of: UInt8(ascii: "=")) {
        let key = String(decoding: record[record.startIndex..<equals], as: UTF8.self)
        let value = String(decoding: record[(equals + 1)...], as: UTF8.self)
        if key == "path" { paxPath = value }
        if key == "size" {
          guard let size = Int64(value), size >= 0 else { return false }
          paxSize = size
        }
      }
      index += length
    }
    return true
  }
}

/// The fields of a ustar header block that locating entries needs; nil when the checksum is
/// wrong (not a tar header).
struct TarHeader {
  let name: String
  let size: Int64
  let type: UInt8

  init?(_ block: [UInt8]) {
    guard block.count == 512, let stored = Self.octal(block[148..<156]) else { return nil }
    var sum: Int64 = 0
    for (index, byte) in block.enumerated() {
      sum += (148..<156).contains(index) ? 32 : Int64(byte)
    }
    guard sum == stored else { return nil }
    func text(_ range: Range<Int>) -> String {
      let field = block[range]
      let end = field.firstIndex(of: 0) ?? range.upperBound
      return String(decoding: block[range.lowerBound..<end], as: UTF8.self)
    }
    var name = text(0..<100)
    if block[257..<262].elementsEqual("ustar".utf8) {
      let prefix = text(345..<500)
      if !prefix.isEmpty { name = prefix + "/" + name }
    }
    let size: Int64
    if block[124] & 0x80 != 0 {
      // base-256: the remaining bytes, big-endian.
      var value: Int64 = 0
      for byte in block[125..<136] {
        guard value < Int64.max >> 8 else { return nil }
        value = value << 8 | Int64(byte)
      }
      size = value
    } else {
      guard let value = Self.octal(block[124..<136]) else { return nil }
      size = value
    }
    self.name = name
    self.size = size
    self.type = block[156]
  }

  /// An octal field: digits after optional spaces, ended by NUL or space.
  static func octal(_ field: ArraySlice<UInt8>) -> Int64? {
    var value: Int64 = 0
    var digits = 0
    for byte in field {
      if byte == 0 || (byte == 32 && digits > 0) { break }
      if byte == 32 { continue }
      guard byte >= 48, byte <= 55, value < Int64.max >> 3 else { return nil }
      value = value << 3 | Int64(byte - 48)
      digits += 1
    }
    return digits > 0 ? value : nil
  }
}
