import TTCore

/// How the stored bytes of one decodable tensor turn into numbers. Shared by the GGUF and
/// safetensors readers: all little-endian, C order (GGUF: ne[0] fastest, the same memory
/// order). Integer types up to 16 bits and all float types of ≤ 32 bits decode to Float
/// exactly; F64 and the 32/64-bit integer types decode to Double (exact for |v| ≤ 2^53,
/// rounded to nearest above, as numpy's astype(float64) does).
public enum ElementEncoding: String, Sendable, CaseIterable {
    case f32, f16, bf16, f64
    case bool, u8, i8, i16, u16, i32, u32, i64, u64
    /// OCP/torch float8 types: e4m3fn (no inf, NaN = S.1111.111), e5m2 (IEEE-like),
    /// the fnuz variants (bias + 1, NaN = 0x80 only, no -0) and e8m0fnu (2^(e-127), 0xFF NaN).
    case f8e4m3fn, f8e5m2, f8e4m3fnuz, f8e5m2fnuz, f8e8m0
    /// ggml blocks of 32: f16 scale d, then 32 int8 (Q8_0) or 16 bytes of nibbles (Q4_0).
    case q8_0, q4_0

    /// Elements per block and bytes per block.
    var blockElements: Int { self == .q8_0 || self == .q4_0 ? 32 : 1 }
    var blockBytes: Int {
        switch self {
        case .bool, .u8, .i8, .f8e4m3fn, .f8e5m2, .f8e4m3fnuz, .f8e5m2fnuz, .f8e8m0: return 1
        case .f16, .bf16, .i16, .u16: return 2
        case .f32, .i32, .u32: return 4
        case .f64, .i64, .u64: return 8
        case .q8_0: return 34
        case .q4_0: return 18
        }
    }

    /// True when values come out as Double (F64, I32, U32, I64, U64), false for Float.
    public var decodesToDouble: Bool { [.f64, .i32, .u32, .i64, .u64].contains(self) }
}

/// A tensor's values.
public enum TensorValues: Equatable, Sendable {
    case float([Float])
    case double([Double])

    public var count: Int {
        switch self {
        case let .float(v): return v.count
        case let .double(v): return v.count
        }
    }

    /// Every value widened to Double (exact).
    public var doubles: [Double] {
        switch self {
        case let .float(v): return v.map(Double.init)
        case let .double(v): return v
        }
    }
}

/// A run of decoded values, valid only inside the callback that receives it.
public enum ValueChunk {
    case float(UnsafeBufferPointer<Float>)
    case double(UnsafeBufferPointer<Double>)

    public var count: Int {
        switch self {
        case let .float(b): return b.count
        case let .double(b): return b.count
        }
    }
}

/// Values per chunk when streaming: 2^16, a multiple of every block size (32, 256).
public let defaultChunkElements = 1 << 16

/// Where a decodable tensor's bytes are and how to read them.
struct StoredTensor {
    let source: RandomAccessSource
    /// Absolute file offset of the first byte.
    let offset: UInt64
    let elementCount: Int
    let encoding: ElementEncoding

    /// Decodes elements [start, start + count) and passes them to `body`; `start` must be a
    /// multiple of the block size and `count` one too unless the range ends the tensor.
    /// Memory: the range's bytes (mapped or read) and, unless the stored type is the decoded
    /// one (F32 or F64, aligned, on a little-endian host: used in place), `count` values.
    func read(start: Int, count: Int, _ body: (ValueChunk) throws -> Void) throws {
        let block = encoding.blockElements
        precondition(start >= 0 && count >= 0 && start % block == 0 && start + count <= elementCount
                     && (count % block == 0 || start + count == elementCount), "range not block-aligned")
        guard count > 0 else { return }
        let byteOffset = offset + UInt64(start / block * encoding.blockBytes)
        let byteCount = (count + block - 1) / block * encoding.blockBytes
        try source.withBytes(offset: byteOffset, count: byteCount) { raw in
            #if _endian(little)
            if encoding == .f32, Int(bitPattern: raw.baseAddress) % MemoryLayout<Float>.alignment == 0 {
                return try raw.baseAddress!.withMemoryRebound(to: Float.self, capacity: count) {
                    try body(.float(UnsafeBufferPointer(start: $0, count: count)))
                }
            }
            if encoding == .f64, Int(bitPattern: raw.baseAddress) % MemoryLayout<Double>.alignment == 0 {
                return try raw.baseAddress!.withMemoryRebound(to: Double.self, capacity: count) {
                    try body(.double(UnsafeBufferPointer(start: $0, count: count)))
                }
            }
            #endif
            if encoding.decodesToDouble {
                try withUnsafeTemporaryAllocation(of: Double.self, capacity: count) { out in
                    decode(raw, into: out, count: count)
                    try body(.double(UnsafeBufferPointer(out)))
                }
            } else {
                try withUnsafeTemporaryAllocation(of: Float.self, capacity: count) { out in
                    decodeFloat(raw, into: out, count: count)
                    try body(.float(UnsafeBufferPointer(out)))
                }
            }
        }
    }

    /// All values at once.
    func values() throws -> TensorValues {
        if encoding.decodesToDouble {
            var all: [Double] = []
            all.reserveCapacity(elementCount)
            try stream { if case let .double(b) = $0 { all.append(contentsOf: b) } }
            return .double(all)
        }
        var all: [Float] = []
        all.reserveCapacity(elementCount)
        try stream { if case let .float(b) = $0 { all.append(contentsOf: b) } }
        return .float(all)
    }

    private func decode(_ raw: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<Double>, count n: Int) {
        switch encoding {
        case .f64: for i in 0..<n { out[i] = Double(bitPattern: raw.le64(i &* 8)) }
        case .i64: for i in 0..<n { out[i] = Double(Int64(bitPattern: raw.le64(i &* 8))) }
        case .u64: for i in 0..<n { out[i] = Double(raw.le64(i &* 8)) }
        case .i32: for i in 0..<n { out[i] = Double(Int32(bitPattern: raw.le32(i &* 4))) }
        case .u32: for i in 0..<n { out[i] = Double(raw.le32(i &* 4)) }
        default: preconditionFailure("not a Double encoding")
        }
    }

    private func decodeFloat(_ raw: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<Float>, count n: Int) {
        switch encoding {
        case .f32: for i in 0..<n { out[i] = Float(bitPattern: raw.le32(i &* 4)) }
        case .f16: for i in 0..<n { out[i] = halfToFloat(raw.le16(i &* 2)) }
        case .bf16: for i in 0..<n { out[i] = Float(bitPattern: UInt32(raw.le16(i &* 2)) << 16) }
        case .bool, .u8: for i in 0..<n { out[i] = Float(raw[i]) }
        case .i8: for i in 0..<n { out[i] = Float(Int8(bitPattern: raw[i])) }
        case .i16: for i in 0..<n { out[i] = Float(Int16(bitPattern: raw.le16(i &* 2))) }
        case .u16: for i in 0..<n { out[i] = Float(raw.le16(i &* 2)) }
        case .f8e4m3fn: Float8Tables.e4m3fn.withUnsafeBufferPointer { t in for i in 0..<n { out[i] = t[Int(raw[i])] } }
        case .f8e5m2: Float8Tables.e5m2.withUnsafeBufferPointer { t in for i in 0..<n { out[i] = t[Int(raw[i])] } }
        case .f8e4m3fnuz: Float8Tables.e4m3fnuz.withUnsafeBufferPointer { t in for i in 0..<n { out[i] = t[Int(raw[i])] } }
        case .f8e5m2fnuz: Float8Tables.e5m2fnuz.withUnsafeBufferPointer { t in for i in 0..<n { out[i] = t[Int(raw[i])] } }
        case .f8e8m0: Float8Tables.e8m0.withUnsafeBufferPointer { t in for i in 0..<n { out[i] = t[Int(raw[i])] } }
        case .q8_0:
            // ggml dequantize_row_q8_0: y[i*32 + j] = qs[j] * d, d = fp16 → fp32. The product of
            // an 11-bit significand and an 8-bit integer is exact in Float.
            for b in 0..<n / 32 {
                let base = b &* 34
                let d = halfToFloat(raw.le16(base))
                for j in 0..<32 { out[b &* 32 &+ j] = Float(Int8(bitPattern: raw[base &+ 2 &+ j])) * d }
            }
        case .q4_0:
            // ggml dequantize_row_q4_0: low nibbles are elements 0..15, high nibbles 16..31,
            // each minus 8, times d.
            for b in 0..<n / 32 {
                let base = b &* 18
                let d = halfToFloat(raw.le16(base))
                for j in 0..<16 {
                    let q = raw[base &+ 2 &+ j]
                    out[b &* 32 &+ j] = Float(Int(q & 0x0F) - 8) * d
                    out[b &* 32 &+ j &+ 16] = Float(Int(q >> 4) - 8) * d
                }
            }
        case .f64, .i32, .u32, .i64, .u64: preconditionFailure("not a Float encoding")
        }
    }
}

extension UnsafeRawBufferPointer {
    @inline(__always) func le16(_ at: Int) -> UInt16 { UInt16(littleEndian: loadUnaligned(fromByteOffset: at, as: UInt16.self)) }
    @inline(__always) func le32(_ at: Int) -> UInt32 { UInt32(littleEndian: loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
    @inline(__always) func le64(_ at: Int) -> UInt64 { UInt64(littleEndian: loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
}

/// IEEE 754 binary16 → binary32, exact (subnormals, infinities and NaN payloads kept): the
/// same bits numpy's float16 → float32 and ggml's GGML_FP16_TO_FP32 give.
@inline(__always)
public func halfToFloat(_ h: UInt16) -> Float {
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

/// Every float8 byte's value, built once from the formats' definitions.
enum Float8Tables {
    static func table(exponentBits: Int, bias: Int, _ special: (UInt8) -> Float?) -> [Float] {
        let mantissaBits = 7 - exponentBits
        return (0..<256).map { i -> Float in
            let b = UInt8(i)
            if let s = special(b) { return s }
            let negative = b & 0x80 != 0
            let e = Int(b >> mantissaBits) & ((1 << exponentBits) - 1)
            let m = Float(Int(b) & ((1 << mantissaBits) - 1))
            let scale = Float(1 << mantissaBits)
            // Subnormal: m/2^M · 2^(1-bias); normal: (1 + m/2^M) · 2^(e-bias). Exact in Float.
            let magnitude = e == 0 ? m / scale * Float(sign: .plus, exponent: 1 - bias, significand: 1)
                                   : (1 + m / scale) * Float(sign: .plus, exponent: e - bias, significand: 1)
            return negative ? -magnitude : magnitude
        }
    }

    static let e4m3fn = table(exponentBits: 4, bias: 7) { b in
        b & 0x7F == 0x7F ? (b & 0x80 != 0 ? -Float.nan : .nan) : nil
    }
    static let e5m2 = table(exponentBits: 5, bias: 15) { b in
        guard b & 0x7C == 0x7C else { return nil }
        let negative = b & 0x80 != 0
        if b & 0x03 == 0 { return negative ? -.infinity : .infinity }
        return negative ? -Float.nan : .nan
    }
    static let e4m3fnuz = table(exponentBits: 4, bias: 8) { b in b == 0x80 ? .nan : nil }
    static let e5m2fnuz = table(exponentBits: 5, bias: 16) { b in b == 0x80 ? .nan : nil }
    static let e8m0: [Float] = (0..<256).map { e in
        e == 255 ? .nan : Float(sign: .plus, exponent: e - 127, significand: 1)
    }
}
