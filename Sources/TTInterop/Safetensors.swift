import TTCore
import TTFormat

// safetensors (huggingface/safetensors, `safetensors/src/tensor.rs`; the rules are those of
// the 0.8.0 reference). The one safetensors reader and writer of tt-ckpt: `import`,
// `inspect`, `diff` and sharded sets all read through `SafetensorsFile`.
//
//   u64 LE   N, the header length (≤ 100,000,000)
//   N bytes  UTF-8 JSON object: {"__metadata__": {string: string}, NAME: {"dtype": D,
//            "shape": [..], "data_offsets": [BEGIN, END]}, ...}; the reference writer pads
//            it with spaces so that 8 + N is a multiple of 8
//   rest     the data buffer; each tensor's bytes at [BEGIN, END), little-endian, C order
//
// The reader validates like the reference: N capped and inside the file, the header a JSON
// object (first byte '{', parsed by the one strict parser `HeaderJSON`: duplicate keys
// refused), offsets contiguous from 0 in offset order, element count × dtype bits a whole
// number of bytes equal to END − BEGIN (checked arithmetic), and the last END exactly at
// the end of the file. The writer orders tensors like the reference (descending dtype
// alignment, then name by bytes) and writes compact JSON with `__metadata__` first and its
// keys sorted, so the same tensors and metadata always give the same bytes.

/// Every element type the safetensors reference (0.8.0) defines, in its enum order
/// (increasing alignment). Raw values are the names the header uses.
public enum SafetensorsDType: String, CaseIterable, Sendable {
    case bool = "BOOL"
    case f4 = "F4"
    case f6e2m3 = "F6_E2M3", f6e3m2 = "F6_E3M2"
    case u8 = "U8", i8 = "I8"
    case f8e5m2 = "F8_E5M2", f8e4m3 = "F8_E4M3", f8e8m0 = "F8_E8M0"
    case f8e4m3fnuz = "F8_E4M3FNUZ", f8e5m2fnuz = "F8_E5M2FNUZ"
    case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
    case i32 = "I32", u32 = "U32", f32 = "F32"
    case c64 = "C64", f64 = "F64", i64 = "I64", u64 = "U64"

    /// Bits per element.
    public var bitSize: Int {
        switch self {
        case .f4: return 4
        case .f6e2m3, .f6e3m2: return 6
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3, .f8e8m0, .f8e4m3fnuz, .f8e5m2fnuz: return 8
        case .i16, .u16, .f16, .bf16: return 16
        case .i32, .u32, .f32: return 32
        case .c64, .f64, .i64, .u64: return 64
        }
    }

    /// Bytes per element for the whole-byte types; 0 for F4 and F6, whose elements are
    /// packed bits (`bitSize`).
    public var byteSize: Int { bitSize % 8 == 0 ? bitSize / 8 : 0 }

    /// Float types that import converts to Float32 (F64 rounds to nearest).
    public var isConvertibleToFloat: Bool { [.f32, .f16, .bf16, .f64].contains(self) }

    /// How values decode, or nil for the types listed but not decoded: F4 and F6 (packed
    /// sub-byte microscaling elements, meaningless without their block scales) and C64.
    public var encoding: ElementEncoding? {
        switch self {
        case .bool: return .bool
        case .u8: return .u8
        case .i8: return .i8
        case .i16: return .i16
        case .u16: return .u16
        case .i32: return .i32
        case .u32: return .u32
        case .i64: return .i64
        case .u64: return .u64
        case .f16: return .f16
        case .bf16: return .bf16
        case .f32: return .f32
        case .f64: return .f64
        case .f8e4m3: return .f8e4m3fn
        case .f8e5m2: return .f8e5m2
        case .f8e4m3fnuz: return .f8e4m3fnuz
        case .f8e5m2fnuz: return .f8e5m2fnuz
        case .f8e8m0: return .f8e8m0
        case .f4, .f6e2m3, .f6e3m2, .c64: return nil
        }
    }
}

/// One tensor's entry in a safetensors header, validated.
public struct SafetensorsTensorInfo: Equatable, Sendable {
    public var name: String
    public let dtype: SafetensorsDType
    public let shape: [Int]
    /// [begin, end) relative to the start of the data buffer (inside the file: validated).
    public let begin: Int
    public let end: Int
    public var byteCount: Int { end - begin }
    public let elementCount: Int
}

/// A safetensors file: the validated header, and tensor data on demand.
public final class SafetensorsFile {
    /// The reference's cap on the header length.
    public static let maxHeaderLength: UInt64 = 100_000_000
    /// Caps on what a header lists (tensors plus metadata keys; dimensions per shape): far
    /// above any real model, they bound the memory a hostile header can make us use.
    public static let maxEntries = 1 << 20
    public static let maxRank = 64

    public let source: RandomAccessSource
    public var path: String { source.path }
    public var fileSize: Int { Int(source.size) }
    /// N from the first 8 bytes; the data buffer starts at 8 + N.
    public let headerLength: Int
    /// `__metadata__` in file order, or nil when the header has none.
    public let metadataPairs: [(key: String, value: String)]?
    /// Every tensor, in data-offset order.
    public let tensors: [SafetensorsTensorInfo]
    private let tensorIndex: [String: Int]

    public var dataStart: Int { 8 + headerLength }

    /// `__metadata__` as a dictionary (keys are unique: the parser refuses duplicates).
    public var metadata: [String: String]? {
        metadataPairs.map { Dictionary($0.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a }) }
    }

    /// Opens `path` through the file layer; tensor data is mapped range by range when
    /// `mapped` (the default), else read with pread.
    public convenience init(path: String, mapped: Bool = true) throws {
        try self.init(source: FileSource(path: path, mapped: mapped))
    }

    /// Reads and validates the header; reads no tensor data.
    /// - Throws: `ModelFileError` naming the file and, if one is at fault, the tensor.
    public init(source: RandomAccessSource) throws {
        self.source = source
        let path = source.path
        func fail(_ p: ModelFileError.Problem) -> ModelFileError { ModelFileError(path: path, p) }
        let fileSize = source.size
        guard fileSize >= 8 else { throw fail(.stFileTooShort(fileSize)) }
        let n = try source.withBytes(offset: 0, count: 8) { $0.le64(0) }
        guard n <= Self.maxHeaderLength else { throw fail(.stHeaderTooLarge(n, limit: Self.maxHeaderLength)) }
        guard n <= fileSize - 8 else { throw fail(.stHeaderPastEnd(length: n, fileSize: fileSize)) }
        guard n >= 2 else { throw fail(.stHeaderTooShort(n)) }
        headerLength = Int(n)
        let headerBytes = try source.read(offset: 8, count: Int(n))
        guard headerBytes.first == UInt8(ascii: "{") else { throw fail(.stHeaderNotObjectStart) }
        let json: HeaderJSON
        do {
            json = try HeaderJSON.parse(headerBytes, maxArrayLength: Self.maxRank, maxObjectMembers: Self.maxEntries)
        } catch let e as HeaderJSONError {
            throw fail(.stHeaderJSON(e.description))
        }
        guard case let .object(members) = json else { throw fail(.stHeaderJSON("not a JSON object")) }

        var metadata: [(key: String, value: String)]? = nil
        var tensors: [SafetensorsTensorInfo] = []
        var raw: [(name: String, dtype: SafetensorsDType, shape: [Int], begin: UInt64, end: UInt64)] = []
        for (name, value) in members {
            if name == "__metadata__" {
                if value == .null { continue }  // serde reads null as "no metadata"
                guard case let .object(pairs) = value else { throw fail(.stMetadataNotObject) }
                var map: [(key: String, value: String)] = []
                for (k, v) in pairs {
                    guard let s = v.stringValue else { throw fail(.stMetadataValueNotString(key: k)) }
                    map.append((k, s))
                }
                metadata = map
                continue
            }
            guard case .object = value else { throw fail(.stEntryNotObject(tensor: name)) }
            guard let dtypeText = value["dtype"]?.stringValue else { throw fail(.stMissingDtype(tensor: name)) }
            guard let dtype = SafetensorsDType(rawValue: dtypeText) else {
                throw fail(.stUnknownDtype(tensor: name, dtype: dtypeText))
            }
            guard case let .array(dims)? = value["shape"] else { throw fail(.stBadShape(tensor: name)) }
            var shape: [Int] = []
            for d in dims {
                guard let v = d.nonNegativeInt else { throw fail(.stBadShape(tensor: name)) }
                shape.append(v)
            }
            guard case let .array(offsets)? = value["data_offsets"], offsets.count == 2,
                  let begin = offsets[0].nonNegativeInt, let end = offsets[1].nonNegativeInt else {
                throw fail(.stBadOffsets(tensor: name))
            }
            raw.append((name, dtype, shape, UInt64(begin), UInt64(end)))
        }
        // Offset order, as the reference sorts before validating (ties by name, so the
        // tensor named in an error does not depend on header order).
        raw.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var expected: UInt64 = 0
        for t in raw {
            guard t.begin == expected, t.end >= t.begin else {
                throw fail(.stNotContiguous(tensor: t.name, begin: t.begin, end: t.end, expected: expected))
            }
            var elements: UInt64 = 1
            for d in t.shape {
                let (p, overflow) = elements.multipliedReportingOverflow(by: UInt64(d))
                guard !overflow else { throw fail(.stShapeOverflow(tensor: t.name, shape: t.shape)) }
                elements = p
            }
            let (bits, overflow) = elements.multipliedReportingOverflow(by: UInt64(t.dtype.bitSize))
            guard !overflow else { throw fail(.stShapeOverflow(tensor: t.name, shape: t.shape)) }
            guard bits % 8 == 0 else { throw fail(.stPartialByte(tensor: t.name, dtype: t.dtype.rawValue, shape: t.shape)) }
            guard bits / 8 == t.end - t.begin else {
                throw fail(.stByteLengthMismatch(tensor: t.name, dtype: t.dtype.rawValue, shape: t.shape, needed: bits / 8, span: t.end - t.begin))
            }
            expected = t.end
            tensors.append(SafetensorsTensorInfo(name: t.name, dtype: t.dtype, shape: t.shape, begin: Int(t.begin), end: Int(t.end),
                                                 elementCount: Int(elements)))
        }
        let dataLength = fileSize - 8 - n
        guard expected == dataLength else { throw fail(.stDataLengthMismatch(dataLength: dataLength, covered: expected)) }
        self.metadataPairs = metadata
        self.tensors = tensors
        var index: [String: Int] = [:]
        for (i, t) in tensors.enumerated() { index[t.name] = i }
        tensorIndex = index
    }

    public func tensor(named name: String) -> SafetensorsTensorInfo? { tensorIndex[name].map { tensors[$0] } }

    func stored(_ t: SafetensorsTensorInfo) throws -> StoredTensor {
        guard let encoding = t.dtype.encoding else {
            throw ModelFileError(path: path, .valuesNotDecoded(tensor: t.name, dtype: t.dtype.rawValue))
        }
        return StoredTensor(source: source, offset: UInt64(dataStart + t.begin), elementCount: t.elementCount, encoding: encoding)
    }

    /// The raw little-endian bytes of one tensor.
    public func loadBytes(_ t: SafetensorsTensorInfo) throws -> [UInt8] {
        try source.read(offset: UInt64(dataStart + t.begin), count: t.byteCount)
    }

    /// One tensor's values as Float32: F32 as stored, F16 and BF16 widened exactly, F64
    /// rounded to nearest. Other dtypes throw, naming the tensor.
    public func loadFloats(_ t: SafetensorsTensorInfo) throws -> [Float] {
        guard t.dtype.isConvertibleToFloat else {
            throw ModelFileError(path: path, .stNotConvertibleToFloat(tensor: t.name, dtype: t.dtype.rawValue))
        }
        switch try values(t) {
        case .float(let v): return v
        case .double(let v): return v.map { Float($0) }
        }
    }

    /// One tensor's values in C order (Float, or Double for F64 and the 32/64-bit integers).
    public func values(_ t: SafetensorsTensorInfo) throws -> TensorValues { try stored(t).values() }

    /// One tensor's values, a chunk at a time.
    public func streamValues(_ t: SafetensorsTensorInfo, chunkElements: Int = defaultChunkElements, _ body: (ValueChunk) throws -> Void) throws {
        try stored(t).stream(chunkElements: chunkElements, body)
    }
}

/// A Float32 tensor to write.
public struct SafetensorsTensor: Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]
    public init(name: String, shape: [Int], values: [Float]) {
        self.name = name
        self.shape = shape
        self.values = values
    }
}

public enum SafetensorsWriter {
    /// The whole file's bytes. Tensors are ordered like the reference serializer (all F32
    /// here, so by name, compared as UTF-8 bytes); `__metadata__` comes first with sorted
    /// keys and is omitted when `metadata` is nil. Deterministic: same input, same bytes.
    /// - Precondition: names are unique, not `__metadata__`, and values.count = product(shape).
    public static func serialize(_ tensors: [SafetensorsTensor], metadata: [String: String]?) -> [UInt8] {
        let ordered = tensors.sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
        var members: [(String, JSONValue)] = []
        if let metadata {
            let pairs = metadata.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
                .map { ($0, JSONValue.string(metadata[$0]!)) }
            members.append(("__metadata__", .object(pairs)))
        }
        var offset = 0
        for t in ordered {
            precondition(t.values.count == t.shape.reduce(1, *), "tensor \(t.name): shape does not match value count")
            precondition(t.name != "__metadata__")
            let end = offset + 4 * t.values.count
            members.append((t.name, .object([
                ("dtype", .string("F32")),
                ("shape", .array(t.shape.map { .int($0) })),
                ("data_offsets", .array([.int(offset), .int(end)])),
            ])))
            offset = end
        }
        var header = Array(JSONValue.object(members).serialized(pretty: false, escaping: .minimal).utf8)
        header += [UInt8](repeating: UInt8(ascii: " "), count: (8 - header.count % 8) % 8)
        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out += $0 }
        out += header
        for t in ordered {
            t.values.withUnsafeBufferPointer { values in
                for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
            }
        }
        return out
    }

    /// Serializes and writes atomically through `io` (`AtomicWrite`: temporary file, fsync,
    /// rename, directory fsync).
    public static func write(_ tensors: [SafetensorsTensor], metadata: [String: String]?, to path: String,
                             io: any FileSystemIO = POSIXFileSystem()) throws {
        try AtomicWrite.write([serialize(tensors, metadata: metadata)], to: path, io: io)
    }
}
