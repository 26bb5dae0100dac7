// Typed key/value metadata (the META section) and its mapping to the shared training types.

/// The type byte of a metadata value. spec/FORMAT.md, "Value types".
enum MetaType: UInt8, CaseIterable, Sendable {
    case u32 = 0
    case i64 = 1
    case u64 = 2
    case f32 = 3
    case f64 = 4
    case bool = 5
    case string = 6
    case array = 7

    var label: String {
        switch self {
        case .u32: return "u32"
        case .i64: return "i64"
        case .u64: return "u64"
        case .f32: return "f32"
        case .f64: return "f64"
        case .bool: return "bool"
        case .string: return "string"
        case .array: return "array"
        }
    }
    /// Smallest encoded size of one value of this type (strings: the u32 length alone).
    var minimumSize: Int {
        switch self {
        case .u32, .f32, .string: return 4
        case .i64, .u64, .f64: return 8
        case .bool: return 1
        case .array: return 9
        }
    }
}

/// One decoded metadata value. Arrays hold one element type and cannot nest.
enum MetaValue: Equatable, Sendable {
    case u32(UInt32)
    case i64(Int64)
    case u64(UInt64)
    case f32(Float)
    case f64(Double)
    case bool(Bool)
    case string(String)
    case u32Array([UInt32])
    case i64Array([Int64])
    case u64Array([UInt64])
    case f32Array([Float])
    case f64Array([Double])
    case boolArray([Bool])
    case stringArray([String])

    /// The type of the value, or of its elements for an array.
    var elementType: MetaType {
        switch self {
        case .u32, .u32Array: return .u32
        case .i64, .i64Array: return .i64
        case .u64, .u64Array: return .u64
        case .f32, .f32Array: return .f32
        case .f64, .f64Array: return .f64
        case .bool, .boolArray: return .bool
        case .string, .stringArray: return .string
        }
    }

    var isArray: Bool {
        switch self {
        case .u32Array, .i64Array, .u64Array, .f32Array, .f64Array, .boolArray, .stringArray: return true
        default: return false
        }
    }

    /// "u32", "array<f32>", ...: used in wrong-type messages.
    var typeLabel: String { isArray ? "array<\(elementType.label)>" : elementType.label }

    /// Bit-exact equality (Float/Double compared by bit pattern, so NaN payloads count).
    static func == (a: MetaValue, b: MetaValue) -> Bool {
        switch (a, b) {
        case let (.u32(x), .u32(y)): return x == y
        case let (.i64(x), .i64(y)): return x == y
        case let (.u64(x), .u64(y)): return x == y
        case let (.f32(x), .f32(y)): return x.bitPattern == y.bitPattern
        case let (.f64(x), .f64(y)): return x.bitPattern == y.bitPattern
        case let (.bool(x), .bool(y)): return x == y
        case let (.string(x), .string(y)): return Array(x.utf8) == Array(y.utf8)
        case let (.u32Array(x), .u32Array(y)): return x == y
        case let (.i64Array(x), .i64Array(y)): return x == y
        case let (.u64Array(x), .u64Array(y)): return x == y
        case let (.f32Array(x), .f32Array(y)): return x.map(\.bitPattern) == y.map(\.bitPattern)
        case let (.f64Array(x), .f64Array(y)): return x.map(\.bitPattern) == y.map(\.bitPattern)
        case let (.boolArray(x), .boolArray(y)): return x == y
        case let (.stringArray(x), .stringArray(y)): return x.map { Array($0.utf8) } == y.map { Array($0.utf8) }
        default: return false
        }
    }

    func encode(into w: inout ByteWriter) {
        func array(_ t: MetaType, _ n: Int) {
            w.u8(MetaType.array.rawValue)
            w.u8(t.rawValue)
            w.u64(UInt64(n))
        }
        switch self {
        case .u32(let v): w.u8(MetaType.u32.rawValue); w.u32(v)
        case .i64(let v): w.u8(MetaType.i64.rawValue); w.i64(v)
        case .u64(let v): w.u8(MetaType.u64.rawValue); w.u64(v)
        case .f32(let v): w.u8(MetaType.f32.rawValue); w.f32(v)
        case .f64(let v): w.u8(MetaType.f64.rawValue); w.f64(v)
        case .bool(let v): w.u8(MetaType.bool.rawValue); w.u8(v ? 1 : 0)
        case .string(let v): w.u8(MetaType.string.rawValue); w.string(v)
        case .u32Array(let a): array(.u32, a.count); for v in a { w.u32(v) }
        case .i64Array(let a): array(.i64, a.count); for v in a { w.i64(v) }
        case .u64Array(let a): array(.u64, a.count); for v in a { w.u64(v) }
        case .f32Array(let a): array(.f32, a.count); for v in a { w.f32(v) }
        case .f64Array(let a): array(.f64, a.count); for v in a { w.f64(v) }
        case .boolArray(let a): array(.bool, a.count); for v in a { w.u8(v ? 1 : 0) }
        case .stringArray(let a): array(.string, a.count); for v in a { w.string(v) }
        }
    }
}

/// One metadata entry: key and value.
struct MetaItem: Equatable, Sendable {
    var key: String
    var value: MetaValue
    init(_ key: String, _ value: MetaValue) {
        self.key = key
        self.value = value
    }
}

/// Encodes a META payload: u64 count, then each item (key string, type byte, value),
/// in the order given. The writer passes items sorted by key bytes.
func encodeMetadata(_ items: [MetaItem]) -> [UInt8] {
    var w = ByteWriter()
    w.u64(UInt64(items.count))
    for item in items {
        w.string(item.key)
        item.value.encode(into: &w)
    }
    return w.bytes
}

/// Why decoding a META payload failed (the reader adds the file name).
struct MetaDecodeError: Error {
    var kind: FormatError.Kind
    var message: String
}

/// Decodes a META payload, enforcing the structural rules of spec/FORMAT.md (caps, strictly
/// increasing keys, known value types, valid UTF-8, bool bytes 0/1). Every allocation is
/// bounded by the payload's own size.
func decodeMetadata(_ bytes: [UInt8], from start: Int, to end: Int) throws -> [MetaItem] {
    var r = ByteReader(bytes, from: start, to: end)
    func fail(_ kind: FormatError.Kind, _ m: String) -> MetaDecodeError { MetaDecodeError(kind: kind, message: m) }
    let count: UInt64
    do { count = try r.u64() } catch { throw fail(.malformedMetadata, "metadata: section too short for its key count") }
    // Each item takes at least 4 (key length) + 1 (key byte) + 1 (type) + 1 bytes.
    guard count <= UInt64(FormatLimits.maxMetadataKeys), count <= UInt64(r.remaining / 7) else {
        throw fail(.malformedMetadata, "metadata: key count \(count) exceeds the cap or the section size")
    }
    var items: [MetaItem] = []
    ReaderAllocationMeter.note(Int(count) * MemoryLayout<MetaItem>.stride)
    items.reserveCapacity(Int(count))
    var previousKey: [UInt8]? = nil
    for index in 0..<Int(count) {
        var keyName = "#\(index)"
        do {
            guard let key = try r.string(maxLength: FormatLimits.maxKeyLength) else {
                throw fail(.malformedMetadata, "metadata key #\(index): not valid UTF-8")
            }
            guard !key.isEmpty else { throw fail(.malformedMetadata, "metadata key #\(index): empty key") }
            keyName = key
            let keyBytes = Array(key.utf8)
            if let p = previousKey, !p.lexicographicallyPrecedes(keyBytes) {
                throw fail(.malformedMetadata, "metadata key \(quotedName(key)): keys are not in strictly increasing byte order (duplicate or unsorted)")
            }
            previousKey = keyBytes
            let value = try decodeValue(&r, key: key)
            items.append(MetaItem(key, value))
        } catch let e as MetaDecodeError {
            throw e
        } catch let e as StringTooLong {
            throw fail(.malformedMetadata, "metadata key \(quotedName(keyName)): string length \(e.length) exceeds the cap")
        } catch {
            throw fail(.malformedMetadata, "metadata key \(quotedName(keyName)): runs past the end of the META section")
        }
    }
    guard r.isAtEnd else {
        throw fail(.malformedMetadata, "metadata: \(r.remaining) unused bytes after the last key")
    }
    return items
}

private func decodeValue(_ r: inout ByteReader, key: String) throws -> MetaValue {
    let typeByte = try r.u8()
    guard let type = MetaType(rawValue: typeByte) else {
        throw MetaDecodeError(kind: .malformedMetadata, message: "metadata key \(quotedName(key)): unknown value type \(typeByte)")
    }
    func string() throws -> String {
        guard let s = try r.string(maxLength: FormatLimits.maxStringLength) else {
            throw MetaDecodeError(kind: .malformedMetadata, message: "metadata key \(quotedName(key)): string is not valid UTF-8")
        }
        return s
    }
    func bool() throws -> Bool {
        let b = try r.u8()
        guard b <= 1 else {
            throw MetaDecodeError(kind: .malformedMetadata, message: "metadata key \(quotedName(key)): bool byte is \(b), not 0 or 1")
        }
        return b == 1
    }
    switch type {
    case .u32: return .u32(try r.u32())
    case .i64: return .i64(try r.i64())
    case .u64: return .u64(try r.u64())
    case .f32: return .f32(try r.f32())
    case .f64: return .f64(try r.f64())
    case .bool: return .bool(try bool())
    case .string: return .string(try string())
    case .array:
        let elementByte = try r.u8()
        guard let element = MetaType(rawValue: elementByte), element != .array else {
            throw MetaDecodeError(kind: .malformedMetadata, message: "metadata key \(quotedName(key)): bad array element type \(elementByte)")
        }
        let n64 = try r.u64()
        guard n64 <= UInt64(r.remaining / element.minimumSize) else {
            throw MetaDecodeError(kind: .malformedMetadata, message: "metadata key \(quotedName(key)): array count \(n64) does not fit in the section")
        }
        let n = Int(n64)
        // Largest in-memory element: String (16 bytes) for a 4-byte minimum encoding.
        ReaderAllocationMeter.note(n * max(MemoryLayout<String>.stride, MemoryLayout<UInt64>.stride))
        switch element {
        case .u32: return .u32Array(try r.u32Array(count: n))
        case .i64: return .i64Array(try r.u64Array(count: n).map { Int64(bitPattern: $0) })
        case .u64: return .u64Array(try r.u64Array(count: n))
        case .f32: return .f32Array(try r.u32Array(count: n).map { Float(bitPattern: $0) })
        case .f64: return .f64Array(try r.u64Array(count: n).map { Double(bitPattern: $0) })
        case .bool:
            var a: [Bool] = []
            a.reserveCapacity(n)
            for _ in 0..<n { a.append(try bool()) }
            return .boolArray(a)
        case .string:
            var a: [String] = []
            a.reserveCapacity(n)
            for _ in 0..<n { a.append(try string()) }
            return .stringArray(a)
        case .array: fatalError("unreachable: nested arrays rejected above")
        }
    }
}
