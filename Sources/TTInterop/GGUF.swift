import TTCore
import TTFormat

// GGUF (ggml's docs/gguf.md; reference readers ggml/src/gguf.cpp and gguf-py's gguf_reader.py),
// versions 2 and 3, little-endian:
//
//   u32 magic "GGUF" · u32 version · u64 tensor_count · u64 kv_count
//   kv_count × { string key · u32 value_type · value }
//   tensor_count × { string name · u32 n_dims · n_dims × u64 ne · u32 ggml_type · u64 offset }
//   padding to ALIGNMENT (general.alignment, u32, default 32) · data section
//
// string = u64 length + UTF-8 bytes (no NUL); array = u32 element type + u64 count + elements
// (arrays may nest). ne[0] is the fastest-varying dimension; `GGUFTensorInfo.shape` gives the
// dims in row-major order (reversed), as numpy and safetensors do, and `dims` keeps ggml's.
// Version 2 and 3 have the same layout (3 only allows big-endian files, refused here).
//
// Validation, before anything is allocated from a size read from the file: counts, string
// and array lengths and nesting capped; every size and offset computed with checked
// arithmetic; key and tensor names unique, non-empty keys, UTF-8; bool bytes 0 or 1;
// general.alignment a u32 power of two; per tensor (the rules of ggml's gguf.cpp): at most 4
// dims each ≤ 2^63-1, element count representable, a known type with a layout, row length a
// multiple of the block size, byte size = ne[0]/block × type size × ne[1] × ne[2] × ne[3];
// offsets multiples of the alignment, data inside the file, no two tensors overlapping.
// ggml also requires offsets to follow file order with exact padding; that is reported by
// `isCanonicalLayout`, not enforced (gguf-py reads files that break it).

/// GGUF metadata value types (gguf.md `gguf_metadata_value_type`).
public enum GGUFValueType: UInt32, Sendable, CaseIterable {
    case uint8 = 0, int8, uint16, int16, uint32, int32, float32, bool, string, array, uint64, int64, float64

    public var name: String {
        switch self {
        case .uint8: return "u8"
        case .int8: return "i8"
        case .uint16: return "u16"
        case .int16: return "i16"
        case .uint32: return "u32"
        case .int32: return "i32"
        case .float32: return "f32"
        case .bool: return "bool"
        case .string: return "str"
        case .array: return "arr"
        case .uint64: return "u64"
        case .int64: return "i64"
        case .float64: return "f64"
        }
    }

    /// Bytes of one value in the file; for strings and arrays, the least (an empty one).
    var minimumSize: UInt64 {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64, .string: return 8
        case .array: return 12
        }
    }
}

/// One metadata value.
public enum GGUFValue: Equatable, Sendable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case float32(Float), bool(Bool), string(String), uint64(UInt64), int64(Int64), float64(Double)
    case array(GGUFArray)

    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        case .array: return .array
        }
    }
}

/// A metadata array, stored as one typed Swift array (memory ≈ its size in the file).
public indirect enum GGUFArray: Equatable, Sendable {
    case uint8([UInt8]), int8([Int8]), uint16([UInt16]), int16([Int16]), uint32([UInt32]), int32([Int32])
    case float32([Float]), bool([Bool]), string([String]), uint64([UInt64]), int64([Int64]), float64([Double])
    case array([GGUFArray])

    public var count: Int {
        switch self {
        case let .uint8(a): return a.count
        case let .int8(a): return a.count
        case let .uint16(a): return a.count
        case let .int16(a): return a.count
        case let .uint32(a): return a.count
        case let .int32(a): return a.count
        case let .float32(a): return a.count
        case let .bool(a): return a.count
        case let .string(a): return a.count
        case let .uint64(a): return a.count
        case let .int64(a): return a.count
        case let .float64(a): return a.count
        case let .array(a): return a.count
        }
    }

    public var elementType: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        case .array: return .array
        }
    }
}

/// One tensor info, validated.
public struct GGUFTensorInfo: Equatable, Sendable {
    public let name: String
    /// ggml order: dims[0] = ne[0], the fastest-varying.
    public let dims: [UInt64]
    /// Row-major order (dims reversed); [] for a scalar (n_dims 0).
    public var shape: [Int] { dims.reversed().map { Int($0) } }
    public let type: GGMLType
    /// Offset of the data relative to the start of the data section.
    public let offset: UInt64
    public let byteCount: UInt64
    public let elementCount: UInt64
}

/// A GGUF file: validated header, metadata and tensor infos; tensor data on demand.
public final class GGUFFile {
    // Caps on what a header may claim. Far above any real model (llama.cpp models have
    // ~300 to ~3,000 tensors, ~30 keys, token arrays of ~250k strings, chat templates of a
    // few KB), they bound the memory and time a hostile header can make us spend.
    public static let maxTensors: UInt64 = 1 << 20
    public static let maxKeys: UInt64 = 1 << 20
    /// gguf.md: keys are at most 65535 bytes.
    public static let maxKeyLength: UInt64 = 65_535
    /// ggml's GGML_MAX_NAME is 64 including the terminating NUL.
    public static let maxTensorNameLength: UInt64 = 63
    public static let maxStringLength: UInt64 = 64 << 20
    public static let maxArrayLength: UInt64 = 1 << 26
    public static let maxArrayDepth = 8
    /// ggml's GGML_MAX_DIMS.
    public static let maxDims: UInt32 = 4
    public static let defaultAlignment: UInt32 = 32

    public let source: RandomAccessSource
    public var path: String { source.path }
    public let version: UInt32
    public let alignment: UInt32
    /// Metadata in file order.
    public let metadata: [(key: String, value: GGUFValue)]
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    /// File offset of the end of the tensor infos, and of the (aligned) data section.
    public let headerEnd: UInt64
    public let dataStart: UInt64
    private let tensorIndex: [String: Int]
    private let keyIndex: [String: Int]

    public convenience init(path: String, mapped: Bool = true) throws {
        try self.init(source: FileSource(path: path, mapped: mapped))
    }

    /// Reads and validates everything before the data section; reads no tensor data.
    /// - Throws: `ModelFileError` naming the file and the key or tensor at fault.
    public init(source: RandomAccessSource) throws {
        self.source = source
        let path = source.path
        func fail(_ p: ModelFileError.Problem) -> ModelFileError { ModelFileError(path: path, p) }
        var c = ByteCursor(source)

        let magic = try c.bytes(4, what: "the magic")
        guard Array(magic) == Array("GGUF".utf8) else { throw fail(.ggufBadMagic) }
        let version = try c.u32("the version")
        // Order as gguf.cpp: 0 is bad; a version whose low 16 bits are 0 is a byte-swapped
        // small number (a big-endian file); 1 is the retired layout with u32 counts.
        if version != 0, version & 0xFFFF == 0 { throw fail(.ggufBigEndian(version)) }
        if version == 1 { throw fail(.ggufVersion1) }
        guard version == 2 || version == 3 else { throw fail(.ggufUnsupportedVersion(version)) }
        self.version = version
        let tensorCount = try c.u64("the tensor count")
        let keyCount = try c.u64("the metadata key count")
        guard tensorCount <= Self.maxTensors else { throw fail(.ggufTooManyTensors(tensorCount, limit: Self.maxTensors)) }
        guard keyCount <= Self.maxKeys else { throw fail(.ggufTooManyKeys(keyCount, limit: Self.maxKeys)) }

        // Metadata. Nothing is reserved from the counts: entries are appended as they are
        // read, so memory grows only with bytes actually present in the file.
        var metadata: [(key: String, value: GGUFValue)] = []
        var keyIndex: [String: Int] = [:]
        for i in 0..<keyCount {
            let keyLength = try c.u64("the key length of metadata entry \(i)")
            guard keyLength <= Self.maxKeyLength else {
                throw fail(.ggufKeyTooLong(index: i, length: keyLength, limit: Self.maxKeyLength))
            }
            guard keyLength > 0 else { throw fail(.ggufEmptyKey(index: i)) }
            let keyBytes = try c.bytes(Int(keyLength), what: "the key of metadata entry \(i)")
            guard let key = validUTF8(keyBytes) else { throw fail(.ggufKeyNotUTF8(index: i)) }
            guard keyIndex[key] == nil else { throw fail(.ggufDuplicateKey(key)) }
            let rawType = try c.u32("the value type of \(quotedName(key))")
            guard let type = GGUFValueType(rawValue: rawType) else { throw fail(.ggufInvalidValueType(key: key, type: rawType)) }
            let value = try Self.readValue(&c, type: type, key: key, depth: 0, path: path)
            keyIndex[key] = metadata.count
            metadata.append((key, value))
        }

        var alignment = Self.defaultAlignment
        if let i = keyIndex["general.alignment"] {
            guard case let .uint32(a) = metadata[i].value else {
                throw fail(.ggufAlignmentType(type: metadata[i].value.type.name))
            }
            guard a != 0, a & (a - 1) == 0 else { throw fail(.ggufAlignmentInvalid(a)) }
            alignment = a
        }
        self.alignment = alignment

        // Tensor infos.
        var tensors: [GGUFTensorInfo] = []
        var tensorIndex: [String: Int] = [:]
        for i in 0..<tensorCount {
            let nameLength = try c.u64("the name length of tensor info \(i)")
            guard nameLength <= Self.maxTensorNameLength else {
                throw fail(.ggufTensorNameTooLong(index: i, length: nameLength, limit: Self.maxTensorNameLength))
            }
            let nameBytes = try c.bytes(Int(nameLength), what: "the name of tensor info \(i)")
            guard let name = validUTF8(nameBytes) else { throw fail(.ggufTensorNameNotUTF8(index: i)) }
            guard tensorIndex[name] == nil else { throw fail(.ggufDuplicateTensor(name)) }
            let nDims = try c.u32("the dimension count of tensor \(quotedName(name))")
            guard nDims <= Self.maxDims else {
                throw fail(.ggufTooManyDimensions(tensor: name, count: nDims, limit: Self.maxDims))
            }
            var dims: [UInt64] = []
            for d in 0..<Int(nDims) {
                let ne = try c.u64("the dimensions of tensor \(quotedName(name))")
                guard ne <= UInt64(Int64.max) else { throw fail(.ggufDimensionTooLarge(tensor: name, index: d, value: ne)) }
                dims.append(ne)
            }
            var elements: UInt64 = 1
            for ne in dims {
                let (p, overflow) = elements.multipliedReportingOverflow(by: ne)
                guard !overflow, p <= UInt64(Int64.max) else { throw fail(.ggufElementCountOverflow(tensor: name, dims: dims)) }
                elements = p
            }
            let rawType = try c.u32("the type of tensor \(quotedName(name))")
            guard let type = GGMLType.byRaw[rawType] else {
                if let old = GGMLType.removed[rawType] { throw fail(.ggufRemovedType(tensor: name, type: rawType, name: old)) }
                throw fail(.ggufUnknownType(tensor: name, type: rawType))
            }
            let rowLength = dims.first ?? 1
            guard rowLength % UInt64(type.blockSize) == 0 else {
                throw fail(.ggufRowNotMultipleOfBlock(tensor: name, type: type.name, rowLength: rowLength, blockSize: type.blockSize))
            }
            // Bytes: ne[0]/block × type size × ne[1] × ne[2] × ne[3], checked.
            var bytes = rowLength / UInt64(type.blockSize)
            var overflow = false
            (bytes, overflow) = bytes.multipliedReportingOverflow(by: UInt64(type.typeSize))
            for ne in dims.dropFirst() where !overflow { (bytes, overflow) = bytes.multipliedReportingOverflow(by: ne) }
            guard !overflow, bytes <= UInt64(Int64.max) else { throw fail(.ggufByteSizeOverflow(tensor: name)) }
            let offset = try c.u64("the offset of tensor \(quotedName(name))")
            tensorIndex[name] = tensors.count
            tensors.append(GGUFTensorInfo(name: name, dims: dims, type: type, offset: offset, byteCount: bytes, elementCount: elements))
        }
        headerEnd = c.offset
        // The data section starts at the next multiple of the alignment (checked: a huge
        // alignment cannot wrap).
        let (padded, overflow) = headerEnd.addingReportingOverflow(UInt64(alignment) - 1)
        let dataStart = overflow ? UInt64.max : padded / UInt64(alignment) * UInt64(alignment)
        self.dataStart = dataStart

        // Each tensor inside the file and aligned, then no two overlapping.
        let fileSize = source.size
        for t in tensors {
            guard t.offset % UInt64(alignment) == 0 else {
                throw fail(.ggufOffsetMisaligned(tensor: t.name, offset: t.offset, alignment: alignment))
            }
            let (begin, o1) = dataStart.addingReportingOverflow(t.offset)
            let (end, o2) = begin.addingReportingOverflow(t.byteCount)
            guard !o1, !o2, end <= fileSize else {
                throw fail(.ggufTensorOutOfFile(tensor: t.name, offset: t.offset, bytes: t.byteCount, dataStart: dataStart, fileSize: fileSize))
            }
        }
        let order = tensors.indices.filter { tensors[$0].byteCount > 0 }
            .sorted { (tensors[$0].offset, $0) < (tensors[$1].offset, $1) }
        for (a, b) in zip(order, order.dropFirst()) where tensors[a].offset + tensors[a].byteCount > tensors[b].offset {
            // Name the later tensor in file order, so the message is the same whichever way
            // the two are listed.
            let (first, second) = a < b ? (a, b) : (b, a)
            throw fail(.ggufTensorsOverlap(tensor: tensors[second].name, other: tensors[first].name))
        }

        self.metadata = metadata
        self.keyIndex = keyIndex
        self.tensors = tensors
        self.tensorIndex = tensorIndex
    }

    /// Reads one value of `type` (after its type field), validating as it goes.
    private static func readValue(_ c: inout ByteCursor, type: GGUFValueType, key: String, depth: Int, path: String) throws -> GGUFValue {
        let what = "the value of \(quotedName(key))"
        switch type {
        case .uint8: return .uint8(try c.u8(what))
        case .int8: return .int8(Int8(bitPattern: try c.u8(what)))
        case .uint16: return .uint16(UInt16(truncatingIfNeeded: try c.u32Prefix(2, what)))
        case .int16: return .int16(Int16(bitPattern: UInt16(truncatingIfNeeded: try c.u32Prefix(2, what))))
        case .uint32: return .uint32(try c.u32(what))
        case .int32: return .int32(Int32(bitPattern: try c.u32(what)))
        case .float32: return .float32(Float(bitPattern: try c.u32(what)))
        case .uint64: return .uint64(try c.u64(what))
        case .int64: return .int64(Int64(bitPattern: try c.u64(what)))
        case .float64: return .float64(Double(bitPattern: try c.u64(what)))
        case .bool:
            let b = try c.u8(what)
            guard b <= 1 else { throw ModelFileError(path: path, .ggufInvalidBool(key: key, byte: b)) }
            return .bool(b == 1)
        case .string: return .string(try readString(&c, key: key, path: path))
        case .array: return .array(try readArray(&c, key: key, depth: depth + 1, path: path))
        }
    }

    private static func readString(_ c: inout ByteCursor, key: String, path: String) throws -> String {
        let length = try c.u64("a string length in \(quotedName(key))")
        guard length <= maxStringLength else {
            throw ModelFileError(path: path, .ggufStringTooLong(key: key, length: length, limit: maxStringLength))
        }
        let bytes = try c.bytes(Int(length), what: "a string in \(quotedName(key))")
        guard let s = validUTF8(bytes) else { throw ModelFileError(path: path, .ggufStringNotUTF8(key: key)) }
        return s
    }

    private static func readArray(_ c: inout ByteCursor, key: String, depth: Int, path: String) throws -> GGUFArray {
        func fail(_ p: ModelFileError.Problem) -> ModelFileError { ModelFileError(path: path, p) }
        guard depth <= maxArrayDepth else { throw fail(.ggufArrayTooDeep(key: key, limit: maxArrayDepth)) }
        let rawType = try c.u32("the element type of \(quotedName(key))")
        guard let type = GGUFValueType(rawValue: rawType) else { throw fail(.ggufInvalidValueType(key: key, type: rawType)) }
        let count = try c.u64("the array length of \(quotedName(key))")
        guard count <= maxArrayLength else { throw fail(.ggufArrayTooLong(key: key, count: count, limit: maxArrayLength)) }
        // Every element takes at least minimumSize bytes: a count the rest of the file cannot
        // hold is truncation, found before anything is allocated for it.
        let (least, overflow) = count.multipliedReportingOverflow(by: type.minimumSize)
        guard !overflow, least <= c.remaining else {
            throw fail(.truncated(what: "the \(count) elements of \(quotedName(key))", offset: c.offset, count: overflow ? UInt64.max : least, size: c.source.size))
        }
        let n = Int(count)
        let what = "the elements of \(quotedName(key))"
        func fixed<T>(_ size: Int, _ make: (UnsafeRawBufferPointer, Int) -> T) throws -> [T] {
            let bytes = try c.bytes(n * size, what: what)
            return bytes.withUnsafeBytes { raw in (0..<n).map { make(raw, $0 * size) } }
        }
        switch type {
        case .uint8: return .uint8(Array(try c.bytes(n, what: what)))
        case .int8: return .int8(try fixed(1) { Int8(bitPattern: $0[$1]) })
        case .uint16: return .uint16(try fixed(2) { $0.le16($1) })
        case .int16: return .int16(try fixed(2) { Int16(bitPattern: $0.le16($1)) })
        case .uint32: return .uint32(try fixed(4) { $0.le32($1) })
        case .int32: return .int32(try fixed(4) { Int32(bitPattern: $0.le32($1)) })
        case .float32: return .float32(try fixed(4) { Float(bitPattern: $0.le32($1)) })
        case .uint64: return .uint64(try fixed(8) { $0.le64($1) })
        case .int64: return .int64(try fixed(8) { Int64(bitPattern: $0.le64($1)) })
        case .float64: return .float64(try fixed(8) { Double(bitPattern: $0.le64($1)) })
        case .bool:
            let bytes = try c.bytes(n, what: what)
            if let bad = bytes.first(where: { $0 > 1 }) { throw fail(.ggufInvalidBool(key: key, byte: bad)) }
            return .bool(bytes.map { $0 == 1 })
        case .string:
            var out: [String] = []
            for _ in 0..<n { out.append(try readString(&c, key: key, path: path)) }
            return .string(out)
        case .array:
            var out: [GGUFArray] = []
            for _ in 0..<n { out.append(try readArray(&c, key: key, depth: depth + 1, path: path)) }
            return .array(out)
        }
    }

    public subscript(key: String) -> GGUFValue? { keyIndex[key].map { metadata[$0].value } }

    public func tensor(named name: String) -> GGUFTensorInfo? { tensorIndex[name].map { tensors[$0] } }

    /// True when the tensors' offsets are what ggml's reader requires: in file order, each
    /// the previous offset plus the previous size padded to the alignment, from 0.
    public var isCanonicalLayout: Bool {
        var expected: UInt64 = 0
        let a = UInt64(alignment)
        for t in tensors {
            guard t.offset == expected else { return false }
            expected = t.offset + (t.byteCount + a - 1) / a * a
        }
        return true
    }

    func stored(_ t: GGUFTensorInfo) throws -> StoredTensor {
        guard let encoding = t.type.encoding else {
            throw ModelFileError(path: path, .valuesNotDecoded(tensor: t.name, dtype: t.type.name))
        }
        return StoredTensor(source: source, offset: dataStart + t.offset, elementCount: Int(t.elementCount), encoding: encoding)
    }

    /// The raw bytes of one tensor.
    public func rawBytes(_ t: GGUFTensorInfo) throws -> [UInt8] {
        try source.read(offset: dataStart + t.offset, count: Int(t.byteCount))
    }

    /// One tensor's values in memory order (ne[0] fastest = row-major of `shape`).
    public func values(_ t: GGUFTensorInfo) throws -> TensorValues { try stored(t).values() }

    /// One tensor's values, a chunk at a time.
    public func streamValues(_ t: GGUFTensorInfo, chunkElements: Int = defaultChunkElements, _ body: (ValueChunk) throws -> Void) throws {
        try stored(t).stream(chunkElements: chunkElements, body)
    }
}

extension ByteCursor {
    /// A little-endian integer of `n` ≤ 4 bytes.
    mutating func u32Prefix(_ n: Int, _ what: @autoclosure () -> String) throws -> UInt32 {
        let b = try bytes(n, what: what())
        var v: UInt32 = 0
        for (i, x) in b.enumerated() { v |= UInt32(x) << (8 * UInt32(i)) }
        return v
    }
}

/// The bytes as a String if they are valid UTF-8, else nil.
func validUTF8(_ bytes: ArraySlice<UInt8>) -> String? {
    String(validating: bytes, as: UTF8.self)
}
