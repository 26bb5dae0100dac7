import TTCore
import TTFormat

// The public safetensors layout (huggingface/safetensors, `safetensors/src/tensor.rs`):
//
//   u64 LE   N, the header length
//   N bytes  UTF-8 JSON object: {"__metadata__": {string: string}, NAME: {"dtype": D,
//            "shape": [..], "data_offsets": [BEGIN, END]}, ...}, padded with spaces so
//            that 8 + N is a multiple of 8
//   rest     the data buffer; each tensor's bytes at [BEGIN, END), little-endian, C order
//
// The reader validates like the reference: N ≤ 100 MB and inside the file, the header is
// UTF-8 JSON starting with '{', offsets contiguous from 0 in offset order, END − BEGIN equal
// to product(shape) × dtype size with checked arithmetic, and the last END exactly at the
// end of the file. The writer orders tensors like the reference (descending dtype alignment,
// then name by bytes) and writes compact JSON with `__metadata__` first and its keys sorted,
// so the same tensors and metadata always give the same bytes.

/// A safetensors element type. Raw values are the names the header uses.
public enum SafetensorsDType: String, CaseIterable, Sendable {
    case bool = "BOOL", u8 = "U8", i8 = "I8", f8e5m2 = "F8_E5M2", f8e4m3 = "F8_E4M3"
    case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
    case i32 = "I32", u32 = "U32", f32 = "F32"
    case f64 = "F64", i64 = "I64", u64 = "U64"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3: return 1
        case .i16, .u16, .f16, .bf16: return 2
        case .i32, .u32, .f32: return 4
        case .f64, .i64, .u64: return 8
        }
    }

    /// The reference's sort key (its enum order, "increasing alignment").
    var rank: Int { Self.allCases.firstIndex(of: self)! }

    /// Float types that import converts to Float32 (F64 rounds to nearest).
    public var isConvertibleToFloat: Bool { [.f32, .f16, .bf16, .f64].contains(self) }
}

/// One tensor's entry in a safetensors header.
public struct SafetensorsTensorInfo: Equatable, Sendable {
    public var name: String
    public var dtype: SafetensorsDType
    public var shape: [Int]
    /// [begin, end) relative to the start of the data buffer.
    public var begin: Int
    public var end: Int
    public var byteCount: Int { end - begin }
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A safetensors file opened for reading: the validated header, and tensor data on demand.
public final class SafetensorsFile {
    /// The reference's cap on the header length.
    public static let maxHeaderLength = 100_000_000
    /// Our caps on what a header lists: tensors (and metadata keys), and dimensions per shape.
    /// Far above any real model's, they bound the memory a hostile header can make us use.
    public static let maxTensors = 1 << 20
    public static let maxRank = 64

    public let path: String
    public let fileSize: Int
    /// N from the first 8 bytes; the data buffer starts at 8 + N.
    public let headerLength: Int
    /// `__metadata__`, or nil when the header has none.
    public let metadata: [String: String]?
    /// Every tensor, in data-offset order.
    public let tensors: [SafetensorsTensorInfo]

    public var dataStart: Int { 8 + headerLength }
    /// Open for the reader's life, so the data read is the file the header came from.
    private let file: ReadableFile

    /// Reads and validates the header; reads no tensor data.
    /// - Throws: `FormatError` naming `path` and the problem (and the tensor, if one is at fault).
    public init(path: String) throws {
        self.path = path
        func fail(_ message: String) -> FormatError { FormatError(path: path, message: message) }
        let handle = try ReadableFile(path: path)
        file = handle
        fileSize = handle.size
        guard fileSize >= 8 else { throw fail("not a safetensors file: \(fileSize) bytes, shorter than the 8-byte header length") }
        let prefix = try handle.read(at: 0, count: 8)
        let n = prefix.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard n <= UInt64(Self.maxHeaderLength) else {
            throw fail("header length \(n) is more than the limit \(Self.maxHeaderLength)")
        }
        headerLength = Int(n)
        guard headerLength <= fileSize - 8 else {
            throw fail("header length \(headerLength) runs past the end of the file (\(fileSize) bytes)")
        }
        guard headerLength >= 2 else { throw fail("header length \(headerLength) is too short for a JSON object") }
        let headerBytes = try handle.read(at: 8, count: headerLength)
        guard headerBytes.first == UInt8(ascii: "{") else { throw fail("header does not start with '{'") }
        let json: HeaderJSON
        do {
            json = try HeaderJSON.parse(headerBytes, maxArrayLength: Self.maxRank, maxObjectMembers: Self.maxTensors)
        } catch let e as HeaderJSONError {
            throw fail("header: \(e)")
        }
        guard case let .object(members) = json else { throw fail("header is not a JSON object") }

        var metadata: [String: String]? = nil
        var tensors: [SafetensorsTensorInfo] = []
        for (name, value) in members {
            let quoted = quotedName(name)
            if name == "__metadata__" {
                if value == .null { continue }  // serde reads null as "no metadata"
                guard case let .object(pairs) = value else { throw fail("__metadata__ is not a JSON object") }
                var map: [String: String] = [:]
                for (k, v) in pairs {
                    guard let s = v.stringValue else { throw fail("__metadata__ value of \(quotedName(k)) is not a string") }
                    map[k] = s
                }
                metadata = map
                continue
            }
            guard case .object = value else { throw fail("tensor \(quoted): entry is not a JSON object") }
            guard let dtypeText = value["dtype"]?.stringValue else { throw fail("tensor \(quoted): missing or non-string dtype") }
            guard let dtype = SafetensorsDType(rawValue: dtypeText) else {
                throw fail("tensor \(quoted): unknown dtype \(quotedName(dtypeText))")
            }
            guard case let .array(dims)? = value["shape"] else { throw fail("tensor \(quoted): missing or non-array shape") }
            var shape: [Int] = []
            for d in dims {
                guard let v = d.nonNegativeInt else { throw fail("tensor \(quoted): shape entries must be non-negative integers") }
                shape.append(v)
            }
            guard case let .array(offsets)? = value["data_offsets"], offsets.count == 2,
                  let begin = offsets[0].nonNegativeInt, let end = offsets[1].nonNegativeInt else {
                throw fail("tensor \(quoted): data_offsets must be two non-negative integers")
            }
            tensors.append(SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, begin: begin, end: end))
        }
        // Offset order (the reference sorts the same way before validating).
        tensors.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var expected = 0
        for t in tensors {
            let quoted = quotedName(t.name)
            guard t.begin == expected, t.end >= t.begin else {
                throw fail("tensor \(quoted): data_offsets [\(t.begin), \(t.end)] are not contiguous (expected to begin at \(expected))")
            }
            var elements = 1
            for d in t.shape {
                let (p, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow else { throw fail("tensor \(quoted): shape \(t.shape) overflows") }
                elements = p
            }
            let (bytes, overflow) = elements.multipliedReportingOverflow(by: t.dtype.byteSize)
            guard !overflow else { throw fail("tensor \(quoted): shape \(t.shape) overflows") }
            guard bytes == t.end - t.begin else {
                throw fail("tensor \(quoted): \(t.dtype.rawValue) \(t.shape) needs \(bytes) bytes but data_offsets span \(t.end - t.begin)")
            }
            expected = t.end
        }
        let dataLength = fileSize - 8 - headerLength
        guard expected == dataLength else {
            throw fail("data buffer is \(dataLength) bytes but the tensors cover \(expected)")
        }
        self.metadata = metadata
        self.tensors = tensors
    }

    public func tensor(named name: String) -> SafetensorsTensorInfo? { tensors.first { $0.name == name } }

    /// The raw little-endian bytes of one tensor.
    public func loadBytes(_ info: SafetensorsTensorInfo) throws -> [UInt8] {
        try file.read(at: dataStart + info.begin, count: info.byteCount)
    }

    /// One tensor's values as Float32: F32 as stored, F16 and BF16 widened exactly,
    /// F64 rounded to nearest. Other dtypes throw, naming the tensor.
    public func loadFloats(_ info: SafetensorsTensorInfo) throws -> [Float] {
        guard info.dtype.isConvertibleToFloat else {
            throw FormatError(path: path, message: "tensor \(quotedName(info.name)): dtype \(info.dtype.rawValue) cannot be imported (need F32, F16, BF16 or F64)")
        }
        let bytes = try loadBytes(info)
        return SafetensorsFile.decodeFloats(bytes, dtype: info.dtype)
    }

    /// Decodes little-endian floats of `dtype` (F32, F16, BF16 or F64).
    static func decodeFloats(_ bytes: [UInt8], dtype: SafetensorsDType) -> [Float] {
        let n = bytes.count / dtype.byteSize
        return bytes.withUnsafeBytes { raw -> [Float] in
            [Float](unsafeUninitializedCapacity: n) { out, count in
                for i in 0..<n {
                    switch dtype {
                    case .f32:
                        out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self)))
                    case .f64:
                        out[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self))))
                    case .bf16:
                        out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))) << 16)
                    default:  // .f16
                        out[i] = halfToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)))
                    }
                }
                count = n
            }
        }
    }

    /// IEEE 754 binary16 → binary32, exact (subnormals, infinities and NaN payloads kept).
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int((h >> 10) & 0x1F)
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        if exponent == 0 {
            // Zero or subnormal: mantissa · 2^-24, exact in Float.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign != 0 ? -magnitude : magnitude
        }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
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
