import Foundation
import TTCore
import TTFormat

/// One metadata entry, for display: GGUF's typed values, safetensors' strings, a sharded
/// index's members.
public struct MetadataEntry: Equatable, Sendable {
    public let key: String
    /// "str", "u32", "arr[str]", ... for GGUF; "str" for safetensors; "json" for index
    /// metadata that is not a string.
    public let type: String
    /// The value as text; arrays are summarised (type, length, first elements). Not escaped.
    public let summary: String
    /// The typed value, for GGUF files.
    public let gguf: GGUFValue?
}

/// One tensor, whatever the format.
public struct ModelTensor: Equatable, Sendable {
    public let name: String
    /// The format's own type name: "F32", "BF16", "Q4_K", "F8_E4M3"; "f32" for .ttc.
    public let dtype: String
    /// Row-major dimensions (GGUF's ne reversed).
    public let shape: [Int]
    public let elementCount: UInt64
    /// Bytes in the file (for .ttc: raw, uncompressed bytes).
    public let byteCount: UInt64
    /// How values decode, or nil: "values not decoded" (listed only).
    public let encoding: ElementEncoding?
    /// The storage unit: "4 bytes", "32 values in 34-byte blocks", "4 bits".
    public let storage: String
    /// The .ttc role (parameter, adam_m, ...); nil in foreign formats, which have none.
    public var role: TensorRole? = nil
    /// The shard file holding the tensor, for sharded sets.
    public var shard: String? = nil
    public var decodable: Bool { encoding != nil }
}

/// Reads one decodable tensor's values by block-aligned ranges.
public protocol TensorValueReader {
    var elementCount: Int { get }
    /// Values come out as Double (else Float).
    var decodesToDouble: Bool { get }
    /// Elements per block: `start` of a range read must be a multiple.
    var blockElements: Int { get }
    /// Decodes elements [start, start + count) and passes them to `body` (valid only
    /// inside it). Reads only that range's bytes.
    func read(start: Int, count: Int, _ body: (ValueChunk) throws -> Void) throws
}

/// A model file opened for inspect, stats and diff: a .ttc checkpoint, a safetensors file,
/// a sharded safetensors set or a GGUF file. Opening reads and validates headers only.
public protocol ModelFile: AnyObject {
    var path: String { get }
    /// ".ttc 1.0", "safetensors", "safetensors (sharded, N shards)", "GGUF v3".
    var formatName: String { get }
    var format: ModelFileFormat { get }
    var metadata: [MetadataEntry] { get }
    /// In storage order.
    var tensors: [ModelTensor] { get }
    /// A reader for a decodable tensor; `.tensorNotFound` or `.valuesNotDecoded` otherwise.
    func reader(for name: String) throws -> TensorValueReader
}

extension ModelFile {
    public func tensor(named name: String) -> ModelTensor? { tensors.first { $0.name == name } }

    /// All values of one tensor (memory: the tensor's values).
    public func values(of name: String) throws -> TensorValues {
        let r = try reader(for: name)
        if r.decodesToDouble {
            var all: [Double] = []
            all.reserveCapacity(r.elementCount)
            try r.stream { if case let .double(b) = $0 { all.append(contentsOf: b) } }
            return .double(all)
        }
        var all: [Float] = []
        all.reserveCapacity(r.elementCount)
        try r.stream { if case let .float(b) = $0 { all.append(contentsOf: b) } }
        return .float(all)
    }

    /// Streams one tensor's values in order, `chunkElements` at a time (memory: one chunk).
    public func streamValues(of name: String, chunkElements: Int = defaultChunkElements, _ body: (ValueChunk) throws -> Void) throws {
        try reader(for: name).stream(chunkElements: chunkElements, body)
    }
}

extension TensorValueReader {
    /// All elements in order, in chunks of `chunkElements` rounded down to whole blocks.
    public func stream(chunkElements: Int = defaultChunkElements, _ body: (ValueChunk) throws -> Void) throws {
        let perChunk = max(blockElements, chunkElements / blockElements * blockElements)
        var start = 0
        while start < elementCount {
            let n = min(perChunk, elementCount - start)
            try read(start: start, count: n, body)
            start += n
        }
    }
}

extension StoredTensor: TensorValueReader {
    var decodesToDouble: Bool { encoding.decodesToDouble }
    var blockElements: Int { encoding.blockElements }
}

// MARK: - The four formats

final class GGUFModelFile: ModelFile {
    let file: GGUFFile
    let tensors: [ModelTensor]
    let metadata: [MetadataEntry]
    var path: String { file.path }
    var formatName: String { "GGUF v\(file.version)" }
    var format: ModelFileFormat { .gguf }

    init(_ file: GGUFFile) {
        self.file = file
        tensors = file.tensors.map {
            ModelTensor(name: $0.name, dtype: $0.type.name, shape: $0.shape, elementCount: $0.elementCount,
                        byteCount: $0.byteCount, encoding: $0.type.encoding,
                        storage: $0.type.blockSize == 1 ? "\($0.type.typeSize) bytes"
                                                        : "\($0.type.blockSize) values in \($0.type.typeSize)-byte blocks")
        }
        metadata = file.metadata.map { MetadataEntry(key: $0.key, type: ggufTypeName($0.value), summary: summarize($0.value), gguf: $0.value) }
    }

    func reader(for name: String) throws -> TensorValueReader {
        guard let t = file.tensor(named: name) else { throw ModelFileError(path: path, .tensorNotFound(name)) }
        return try file.stored(t)
    }
}

final class SafetensorsModelFile: ModelFile {
    let file: SafetensorsFile
    let tensors: [ModelTensor]
    let metadata: [MetadataEntry]
    var path: String { file.path }
    var formatName: String { "safetensors" }
    var format: ModelFileFormat { .safetensors }

    init(_ file: SafetensorsFile) {
        self.file = file
        tensors = file.tensors.map { safetensorsEntry($0, shard: nil) }
        metadata = (file.metadataPairs ?? []).map { MetadataEntry(key: $0.key, type: "str", summary: $0.value, gguf: nil) }
    }

    func reader(for name: String) throws -> TensorValueReader {
        guard let t = file.tensor(named: name) else { throw ModelFileError(path: path, .tensorNotFound(name)) }
        return try file.stored(t)
    }
}

final class ShardedModelFile: ModelFile {
    let shardSet: ShardedSafetensors
    let tensors: [ModelTensor]
    let metadata: [MetadataEntry]
    var path: String { shardSet.indexPath }
    var formatName: String { "safetensors (sharded, \(shardSet.shards.count) shard\(shardSet.shards.count == 1 ? "" : "s"))" }
    var format: ModelFileFormat { .shardedSafetensors }

    init(_ set: ShardedSafetensors) {
        self.shardSet = set
        tensors = set.tensors.map { safetensorsEntry($0.info, shard: set.shards[$0.shard].name) }
        metadata = set.metadata.map { MetadataEntry(key: $0.key, type: "json", summary: $0.value, gguf: nil) }
    }

    func reader(for name: String) throws -> TensorValueReader {
        guard let (t, file) = shardSet.tensor(named: name) else { throw ModelFileError(path: path, .tensorNotFound(name)) }
        return try file.stored(t)
    }
}

/// A .ttc checkpoint as a model file: the tensor directory (roles kept) and, per tensor,
/// a reader that loads the tensor (for a file: inflate and every CRC and length check of
/// `loadTensor`) on its first read and serves ranges from the values.
public final class TTCModelFile: ModelFile {
    public let path: String
    public let formatName: String
    public var format: ModelFileFormat { .ttc }
    public var metadata: [MetadataEntry] { [] }
    public let entries: [TensorEntry]
    public let tensors: [ModelTensor]
    /// The reader, when the view is of a file.
    public let checkpointReader: CheckpointReader?
    private let load: (TensorEntry) throws -> [Float]

    /// A view of a .ttc file; with `checkingDigests`, every load also checks the tensor's
    /// SHA-256 against the `hash` section (format 1.1), as `--verify` does.
    public convenience init(_ reader: CheckpointReader, checkingDigests: Bool = false) {
        self.init(path: reader.path, formatVersion: reader.formatVersion, entries: reader.entries, reader: reader,
                  load: { try reader.loadTensor($0, checkingDigest: checkingDigests) })
    }

    /// A view of any source of .ttc tensors (tests use in-memory ones). `load` must be safe
    /// to call from several threads at once.
    public init(path: String, formatVersion: (major: UInt16, minor: UInt16), entries: [TensorEntry],
                reader: CheckpointReader? = nil, load: @escaping (TensorEntry) throws -> [Float]) {
        self.path = path
        self.formatName = ".ttc \(formatVersion.major).\(formatVersion.minor)"
        self.entries = entries
        self.checkpointReader = reader
        self.load = load
        tensors = entries.map {
            ModelTensor(name: $0.name, dtype: $0.dtype.label, shape: $0.shape, elementCount: UInt64($0.elementCount),
                        byteCount: $0.rawLength, encoding: .f32, storage: "4 bytes", role: $0.role)
        }
    }

    public func reader(for name: String) throws -> TensorValueReader {
        guard let entry = entries.first(where: { $0.name == name }) else {
            throw FormatError(path: path, kind: .unknownEntry, message: "no tensor \(quotedName(name))")
        }
        return TTCTensorReader(entry: entry, load: load)
    }
}

/// One .ttc tensor: loaded whole on the first read (each blob is one zlib stream).
final class TTCTensorReader: TensorValueReader {
    let entry: TensorEntry
    let load: (TensorEntry) throws -> [Float]
    private var values: [Float]?
    var elementCount: Int { entry.elementCount }
    var decodesToDouble: Bool { false }
    var blockElements: Int { 1 }

    init(entry: TensorEntry, load: @escaping (TensorEntry) throws -> [Float]) {
        self.entry = entry
        self.load = load
    }

    func read(start: Int, count: Int, _ body: (ValueChunk) throws -> Void) throws {
        if values == nil { values = try load(entry) }
        try values!.withUnsafeBufferPointer { try body(.float(UnsafeBufferPointer(rebasing: $0[start..<(start + count)]))) }
    }
}

private func safetensorsEntry(_ t: SafetensorsTensorInfo, shard: String?) -> ModelTensor {
    ModelTensor(name: t.name, dtype: t.dtype.rawValue, shape: t.shape, elementCount: UInt64(t.elementCount),
                byteCount: UInt64(t.byteCount), encoding: t.dtype.encoding,
                storage: t.dtype.bitSize % 8 == 0 ? "\(t.dtype.bitSize / 8) bytes" : "\(t.dtype.bitSize) bits", shard: shard)
}

/// A GGUF value's type as gguf-dump names it: "u32", "str", "arr[str]", "arr[arr[i32]]".
public func ggufTypeName(_ v: GGUFValue) -> String {
    guard case let .array(a) = v else { return v.type.name }
    var inner = a
    var name = "arr["
    var closing = "]"
    while case let .array(items) = inner, let first = items.first {
        name += "arr["
        closing += "]"
        inner = first
    }
    return name + inner.elementType.name + closing
}

/// A value as one line: strings quoted, arrays as `[first, …, (n items)]`. Not escaped
/// (callers escape what they print).
public func summarize(_ v: GGUFValue, maxItems: Int = 8) -> String {
    func str(_ s: String) -> String { "\"" + s + "\"" }
    func num<T>(_ items: [T], _ f: (T) -> String) -> [String] { items.prefix(maxItems).map(f) }
    func array(_ a: GGUFArray) -> String {
        let items: [String]
        switch a {
        case let .uint8(x): items = num(x) { "\($0)" }
        case let .int8(x): items = num(x) { "\($0)" }
        case let .uint16(x): items = num(x) { "\($0)" }
        case let .int16(x): items = num(x) { "\($0)" }
        case let .uint32(x): items = num(x) { "\($0)" }
        case let .int32(x): items = num(x) { "\($0)" }
        case let .float32(x): items = num(x) { "\($0)" }
        case let .bool(x): items = num(x) { "\($0)" }
        case let .string(x): items = num(x) { str(String($0.prefix(200))) }
        case let .uint64(x): items = num(x) { "\($0)" }
        case let .int64(x): items = num(x) { "\($0)" }
        case let .float64(x): items = num(x) { "\($0)" }
        case let .array(x): items = num(x) { array($0) }
        }
        return "[" + items.joined(separator: ", ") + (a.count > maxItems ? ", … (\(a.count) items)" : "") + "]"
    }
    switch v {
    case let .uint8(x): return "\(x)"
    case let .int8(x): return "\(x)"
    case let .uint16(x): return "\(x)"
    case let .int16(x): return "\(x)"
    case let .uint32(x): return "\(x)"
    case let .int32(x): return "\(x)"
    case let .float32(x): return "\(x)"
    case let .bool(x): return "\(x)"
    case let .string(x): return str(x)
    case let .uint64(x): return "\(x)"
    case let .int64(x): return "\(x)"
    case let .float64(x): return "\(x)"
    case let .array(a): return array(a)
    }
}

// MARK: - Detection and opening

/// What a path holds, judged by content (never by extension).
public enum ModelFileFormat: String, Equatable, Sendable {
    case ttc
    case gguf
    case safetensors
    /// A safetensors index (given as the index file or its directory).
    case shardedSafetensors = "sharded safetensors"
}

public enum ModelFileOpener {
    /// The format at `path` and the file to open for it (for a directory, its index file or
    /// its `model.safetensors`). Reads at most 16 bytes.
    ///
    /// By content: "GGUF" → GGUF; .ttc's 8-byte magic (or a prefix of it: a cut .ttc) →
    /// .ttc; 8 bytes of header length followed by '{' → safetensors (unless byte 0 is '{'
    /// too and the length, read from JSON text, exceeds the file: an index); a file whose
    /// first non-blank byte is '{' → a safetensors index; a directory → its index, else its
    /// `model.safetensors`. An empty file is `.emptyFile`.
    /// - Throws: `ModelFileError` (`.unknownFormat`, `.emptyFile`, `.shardNoIndex`, file errors).
    public static func detect(path: String) throws -> (format: ModelFileFormat, path: String) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            if let index = try ShardedSafetensors.indexFile(inDirectory: path) { return (.shardedSafetensors, index) }
            let single = (path.hasSuffix("/") ? path : path + "/") + "model.safetensors"
            if FileManager.default.fileExists(atPath: single) { return (.safetensors, single) }
            throw ModelFileError(path: path, .shardNoIndex)
        }
        let source = try FileSource(path: path, mapped: false)
        guard source.size > 0 else { throw ModelFileError(path: path, .emptyFile) }
        let head = try source.read(offset: 0, count: Int(min(source.size, 16)))
        if head.starts(with: Array("GGUF".utf8)) { return (.gguf, path) }
        // A file cut inside the magic is a truncated .ttc, for the .ttc reader to report.
        if head.starts(with: TTCFormat.magic) || (head.count < TTCFormat.magic.count && TTCFormat.magic.starts(with: head)) {
            return (.ttc, path)
        }
        if head.count >= 9, head[8] == UInt8(ascii: "{") {
            // A header length then '{': safetensors, even when the length is absurd or runs
            // past the end (the reader says which). A JSON text read as a length exceeds any
            // file size, so a '{' at byte 0 too means an index unless the length fits.
            let n = head.withUnsafeBytes { $0.le64(0) }
            if head[0] != UInt8(ascii: "{") || n <= source.size - 8 { return (.safetensors, path) }
        }
        if let first = head.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }), first == UInt8(ascii: "{") {
            return (.shardedSafetensors, path)
        }
        throw ModelFileError(path: path, .unknownFormat)
    }

    /// Opens and validates (headers only) a .ttc checkpoint, GGUF file, safetensors file or
    /// sharded set. Raw tensor data is memory-mapped range by range when `mapped` (the
    /// default), else read with pread.
    /// - Throws: `ModelFileError`, or the .ttc reader's `FormatError`.
    public static func open(path: String, mapped: Bool = true) throws -> ModelFile {
        let (format, file) = try detect(path: path)
        switch format {
        case .gguf: return GGUFModelFile(try GGUFFile(path: file, mapped: mapped))
        case .safetensors: return SafetensorsModelFile(try SafetensorsFile(path: file, mapped: mapped))
        case .shardedSafetensors: return ShardedModelFile(try ShardedSafetensors(indexPath: file, mapped: mapped))
        case .ttc: return TTCModelFile(try CheckpointReader(path: file))
        }
    }

    /// Views of files already opened (tests, fuzzing, in-memory sources).
    public static func view(_ file: GGUFFile) -> ModelFile { GGUFModelFile(file) }
    public static func view(_ file: SafetensorsFile) -> ModelFile { SafetensorsModelFile(file) }
    public static func view(_ set: ShardedSafetensors) -> ModelFile { ShardedModelFile(set) }
}

extension ModelFile {
    /// The GGUF file behind a GGUF view, else nil.
    public var gguf: GGUFFile? { (self as? GGUFModelFile)?.file }
    /// The safetensors file behind a single-file view, else nil.
    public var safetensors: SafetensorsFile? { (self as? SafetensorsModelFile)?.file }
    /// The sharded set behind a sharded view, else nil.
    public var sharded: ShardedSafetensors? { (self as? ShardedModelFile)?.shardSet }
    /// The .ttc reader behind a .ttc view, else nil.
    public var checkpoint: CheckpointReader? { (self as? TTCModelFile)?.checkpointReader }
}

// MARK: - Exact integers and offsets

/// An integer tensor's values exactly (a Double holds integers exactly only up to 2^53).
public enum IntegerValues: Equatable, Sendable {
    case signed([Int64])
    case unsigned([UInt64])
}

extension ModelFile {
    /// The values of an integer or BOOL tensor as integers, exactly; nil for other types.
    public func integers(of name: String) throws -> IntegerValues? {
        guard let stored = try reader(for: name) as? StoredTensor else { return nil }
        let n = stored.elementCount
        func read<T: FixedWidthInteger>(_: T.Type, _ make: (UnsafeRawBufferPointer, Int) -> T) throws -> [T] {
            try stored.source.withBytes(offset: stored.offset, count: n * MemoryLayout<T>.size) { raw in
                (0..<n).map { make(raw, $0 * MemoryLayout<T>.size) }
            }
        }
        switch stored.encoding {
        case .bool, .u8: return .unsigned(try read(UInt8.self) { $0[$1] }.map(UInt64.init))
        case .u16: return .unsigned(try read(UInt16.self) { $0.le16($1) }.map(UInt64.init))
        case .u32: return .unsigned(try read(UInt32.self) { $0.le32($1) }.map(UInt64.init))
        case .u64: return .unsigned(try read(UInt64.self) { $0.le64($1) })
        case .i8: return .signed(try read(Int8.self) { Int8(bitPattern: $0[$1]) }.map(Int64.init))
        case .i16: return .signed(try read(Int16.self) { Int16(bitPattern: $0.le16($1)) }.map(Int64.init))
        case .i32: return .signed(try read(Int32.self) { Int32(bitPattern: $0.le32($1)) }.map(Int64.init))
        case .i64: return .signed(try read(Int64.self) { Int64(bitPattern: $0.le64($1)) })
        default: return nil
        }
    }

    /// Where a tensor's bytes start: the absolute offset in its file (its shard's, for a
    /// sharded set); nil for .ttc, whose directory gives blob offsets instead.
    public func dataOffset(of name: String) -> UInt64? {
        if let g = gguf, let t = g.tensor(named: name) { return g.dataStart + t.offset }
        if let s = safetensors, let t = s.tensor(named: name) { return UInt64(s.dataStart + t.begin) }
        if let set = sharded, let (t, file) = set.tensor(named: name) { return UInt64(file.dataStart + t.begin) }
        return nil
    }
}

// MARK: - The model digest

extension ModelFile {
    /// The model digest (spec/FORMAT.md §4.3) of a safetensors file or sharded set: the
    /// value a .ttc holding the same weights stores, so the two can be matched (the same as
    /// `SafetensorsFile.modelDigest()` for one file). Defined when every tensor but the
    /// `adam_m.`/`adam_v.` moments is F32; nil otherwise, and for GGUF (a .ttc gives its own
    /// through `CheckpointReader`). Reads every weight tensor once, mapped, hashing tensors
    /// two at a time on up to `threads` threads (the digest does not depend on how many).
    public func safetensorsModelDigest(threads: Int = 1) throws -> String? {
        let weights = tensors.filter { !$0.name.hasPrefix(TensorRole.adamM.namePrefix) && !$0.name.hasPrefix(TensorRole.adamV.namePrefix) }
        guard format == .safetensors || format == .shardedSafetensors, weights.allSatisfy({ $0.dtype == "F32" }) else { return nil }
        var located: [(info: SafetensorsTensorInfo, file: SafetensorsFile)] = []
        for t in weights {
            if let file = safetensors, let info = file.tensor(named: t.name) { located.append((info, file)) }
            if let set = sharded, let pair = set.tensor(named: t.name) { located.append(pair) }
        }
        let results = UnsafeMutableBufferPointer<Result<[UInt8], Error>?>.allocate(capacity: located.count)
        results.initialize(repeating: nil)
        defer { results.deinitialize(); results.deallocate() }
        nonisolated(unsafe) let out = results
        func bytes<R>(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
            let (info, file) = located[i]
            return try file.source.withBytes(offset: UInt64(file.dataStart + info.begin), count: info.byteCount, body)
        }
        // Two tensors at a time (SHA256.digests); a pair whose read fails is hashed one by
        // one, so each tensor gets its own result.
        let pairs = pairsLargestFirst(sizes: located.map(\.info.byteCount))
        forEachLargestFirst(sizes: pairs.map { located[$0.0].info.byteCount }, threads: threads) { k in
            let (i, pair) = pairs[k]
            if let j = pair, let (a, b) = try? bytes(i, { a in try bytes(j) { b in SHA256.digests(a, b) } }) {
                out[i] = .success(a)
                out[j] = .success(b)
                return
            }
            for t in [i, pair].compactMap({ $0 }) { out[t] = Result { try bytes(t) { SHA256.digest($0) } } }
        }
        var items: [ModelDigest.Item] = []
        for (i, (info, _)) in located.enumerated() {
            items.append(ModelDigest.Item(name: info.name, dtypeCode: DType.f32.rawValue, shape: info.shape, sha256: try results[i]!.get()))
        }
        return ModelDigest.compute(items)
    }
}
