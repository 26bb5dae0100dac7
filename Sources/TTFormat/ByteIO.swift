// Little-endian encoding and bounds-checked decoding of the .ttc header.

/// Appends little-endian values to a byte array.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { for i in 0..<2 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * i))) } }
    mutating func u32(_ v: UInt32) { for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * i))) } }
    mutating func u64(_ v: UInt64) { for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * i))) } }
    mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    mutating func f32(_ v: Float) { u32(v.bitPattern) }
    mutating func f64(_ v: Double) { u64(v.bitPattern) }
    /// u32 byte length, then the UTF-8 bytes (no terminator).
    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        u32(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }
    mutating func append(_ other: [UInt8]) { bytes.append(contentsOf: other) }
}

/// Why a read from a `ByteReader` failed; the caller turns it into a `FormatError`.
struct ByteReaderEnd: Error {}

/// Reads little-endian values from a byte slice, never past its end.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var position: Int
    let end: Int

    init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        self.position = start
        self.end = end ?? bytes.count
    }

    var remaining: Int { end - position }
    var isAtEnd: Bool { position == end }

    mutating func take(_ n: Int) throws -> Range<Int> {
        guard n >= 0, n <= remaining else { throw ByteReaderEnd() }
        let r = position..<(position + n)
        position += n
        return r
    }

    mutating func skip(_ n: Int) throws { _ = try take(n) }

    mutating func u8() throws -> UInt8 { bytes[try take(1).lowerBound] }

    private mutating func le<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let r = try take(MemoryLayout<T>.size)
        return T(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: r.lowerBound, as: T.self) })
    }

    /// `count` consecutive little-endian values of `T` (the caller has checked the count
    /// against `remaining`), copied in one pass.
    mutating func array<T: FixedWidthInteger>(of _: T.Type, count: Int) throws -> [T] {
        let r = try take(count * MemoryLayout<T>.size)
        return bytes.withUnsafeBytes { raw in
            [T](unsafeUninitializedCapacity: count) { buf, n in
                UnsafeMutableRawBufferPointer(buf).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[r]))
                #if _endian(big)
                for i in 0..<count { buf[i] = T(littleEndian: buf[i]) }
                #endif
                n = count
            }
        }
    }

    mutating func u32Array(count: Int) throws -> [UInt32] { try array(of: UInt32.self, count: count) }
    mutating func u64Array(count: Int) throws -> [UInt64] { try array(of: UInt64.self, count: count) }

    mutating func u16() throws -> UInt16 { try le(UInt16.self) }
    mutating func u32() throws -> UInt32 { try le(UInt32.self) }
    mutating func u64() throws -> UInt64 { try le(UInt64.self) }
    mutating func i64() throws -> Int64 { try le(Int64.self) }
    mutating func f32() throws -> Float { Float(bitPattern: try u32()) }
    mutating func f64() throws -> Double { Double(bitPattern: try u64()) }

    /// Raw bytes of a u32-length-prefixed string, its length capped by `maxLength`.
    /// Returns nil for bad UTF-8; throws `ByteReaderEnd` when it runs past the end and
    /// `StringTooLong` when the length exceeds the cap.
    mutating func string(maxLength: Int) throws -> String? {
        let n = Int(try u32())
        guard n <= maxLength else { throw StringTooLong(length: n) }
        let r = try take(n)
        return String(validatingUTF8Bytes: bytes[r])
    }
}

struct StringTooLong: Error { let length: Int }

extension String {
    /// Decodes strictly: nil if the bytes are not valid UTF-8 (no replacement characters).
    init?(validatingUTF8Bytes bytes: ArraySlice<UInt8>) {
        guard let s = String(validating: bytes, as: UTF8.self) else { return nil }
        self = s
    }
}
