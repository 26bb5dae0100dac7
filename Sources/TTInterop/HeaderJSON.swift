import TTCore
import TTFormat
import TTTokenizer
/// A small, strict JSON reader for the safetensors header (what is written goes through
/// the one JSON writer, `JSONValue`, with `.minimal` escaping: serde_json's bytes).
///
/// Why not Foundation's `JSONSerialization`: the header comes from untrusted files, so the
/// reader must reject duplicate keys, keep integers exact (offsets are u64), bound its
/// nesting depth, and never allocate more than the input's size.
public indirect enum HeaderJSON: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The number's text exactly as written (converted on demand).
    case number(String)
    case string(String)
    case array([HeaderJSON])
    /// Members in file order; keys are unique (the parser rejects duplicates).
    case object([(String, HeaderJSON)])

    public static func == (a: HeaderJSON, b: HeaderJSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The value of `key` in an object, nil otherwise.
    public subscript(key: String) -> HeaderJSON? {
        if case let .object(members) = self { return members.first { $0.0 == key }?.1 }
        return nil
    }

    /// A non-negative integer written without sign, fraction or exponent, that fits in Int.
    public var nonNegativeInt: Int? {
        guard case let .number(text) = self, !text.isEmpty,
              text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int(text)
    }

    public var stringValue: String? {
        if case let .string(s) = self { return s }
        return nil
    }
}

/// Why a JSON text was rejected, with the byte offset where the reader stopped.
public struct HeaderJSONError: Error, Equatable, CustomStringConvertible, Sendable {
    public var offset: Int
    public var message: String
    public var description: String { "invalid JSON at byte \(offset): \(message)" }
}

extension HeaderJSON {
    /// Maximum nesting of arrays and objects; the safetensors header needs 3.
    public static let maxDepth = 64

    /// Parses one JSON value (RFC 8259) surrounded by optional whitespace.
    /// Rejects: invalid UTF-8 in strings, lone surrogates, duplicate object keys, nesting
    /// deeper than `maxDepth`, trailing content, and arrays or objects longer than the limits
    /// (so a hostile 100 MB header cannot expand into gigabytes of parsed values).
    public static func parse(_ bytes: [UInt8], maxArrayLength: Int = 1 << 20, maxObjectMembers: Int = 1 << 20) throws -> HeaderJSON {
        var parser = HeaderJSONParser(bytes: bytes, maxArrayLength: maxArrayLength, maxObjectMembers: maxObjectMembers)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw parser.error("trailing characters after the value") }
        return value
    }
}

private struct HeaderJSONParser {
    let bytes: [UInt8]
    let maxArrayLength: Int
    let maxObjectMembers: Int
    var index = 0

    init(bytes: [UInt8], maxArrayLength: Int, maxObjectMembers: Int) {
        self.bytes = bytes
        self.maxArrayLength = maxArrayLength
        self.maxObjectMembers = maxObjectMembers
    }

    func error(_ message: String) -> HeaderJSONError { HeaderJSONError(offset: index, message: message) }

    mutating func skipWhitespace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    mutating func expect(_ literal: String) throws {
        for b in literal.utf8 {
            guard index < bytes.count, bytes[index] == b else { throw error("expected '\(literal)'") }
            index += 1
        }
    }

    mutating func parseValue(depth: Int) throws -> HeaderJSON {
        guard index < bytes.count else { throw error("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character")
        }
    }

    mutating func parseObject(depth: Int) throws -> HeaderJSON {
        guard depth <= HeaderJSON.maxDepth else { throw error("nesting deeper than \(HeaderJSON.maxDepth)") }
        index += 1  // {
        var members: [(String, HeaderJSON)] = []
        var keys = Set<String>()
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let keyStart = index
            let key = try parseString()
            guard keys.insert(key).inserted else {
                throw HeaderJSONError(offset: keyStart, message: "duplicate key \(quotedName(key))")
            }
            skipWhitespace()
            try expect(":")
            skipWhitespace()
            guard members.count < maxObjectMembers else { throw error("object has more than \(maxObjectMembers) members") }
            members.append((key, try parseValue(depth: depth)))
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input in an object") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
            throw error("expected ',' or '}'")
        }
    }

    mutating func parseArray(depth: Int) throws -> HeaderJSON {
        guard depth <= HeaderJSON.maxDepth else { throw error("nesting deeper than \(HeaderJSON.maxDepth)") }
        index += 1  // [
        var items: [HeaderJSON] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
        while true {
            skipWhitespace()
            guard items.count < maxArrayLength else { throw error("array has more than \(maxArrayLength) items") }
            items.append(try parseValue(depth: depth))
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input in an array") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
            throw error("expected ',' or ']'")
        }
    }

    mutating func parseNumber() throws -> HeaderJSON {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        func digits() -> Int {
            let s = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
            return index - s
        }
        guard index < bytes.count else { throw error("incomplete number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if digits() == 0 {
            throw error("invalid number")
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw error("invalid number fraction") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw error("invalid number exponent") }
        }
        return .number(String(decoding: bytes[start..<index], as: UTF8.self))
    }

    mutating func hex4() throws -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("incomplete \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[index]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw error("invalid hex digit in \\u escape")
            }
            v = v << 4 | d
            index += 1
        }
        return v
    }

    /// Parses a string starting at the opening quote; validates UTF-8 and escapes.
    mutating func parseString() throws -> String {
        index += 1  // "
        var scalars = String.UnicodeScalarView()
        while true {
            guard index < bytes.count else { throw error("unterminated string") }
            let b = bytes[index]
            if b == UInt8(ascii: "\"") { index += 1; return String(scalars) }
            if b < 0x20 { throw error("control character in a string") }
            if b == UInt8(ascii: "\\") {
                index += 1
                guard index < bytes.count else { throw error("unterminated escape") }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var v = try hex4()
                    if (0xD800..<0xDC00).contains(v) {
                        guard index + 2 <= bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw error("lone surrogate in \\u escape")
                        }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("invalid surrogate pair") }
                        v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(v) {
                        throw error("lone surrogate in \\u escape")
                    }
                    guard let s = Unicode.Scalar(v) else { throw error("invalid \\u escape") }
                    scalars.append(s)
                default:
                    throw error("invalid escape")
                }
                continue
            }
            // One UTF-8 sequence, strictly validated (no overlongs, no surrogates, ≤ U+10FFFF).
            let (scalar, length) = try decodeUTF8(at: index)
            scalars.append(scalar)
            index += length
        }
    }

    func decodeUTF8(at i: Int) throws -> (Unicode.Scalar, Int) {
        let b0 = bytes[i]
        if b0 < 0x80 { return (Unicode.Scalar(b0), 1) }
        let length: Int
        var v: UInt32
        let minimum: UInt32
        switch b0 {
        case 0xC2...0xDF: length = 2; v = UInt32(b0 & 0x1F); minimum = 0x80
        case 0xE0...0xEF: length = 3; v = UInt32(b0 & 0x0F); minimum = 0x800
        case 0xF0...0xF4: length = 4; v = UInt32(b0 & 0x07); minimum = 0x10000
        default: throw HeaderJSONError(offset: i, message: "invalid UTF-8")
        }
        guard i + length <= bytes.count else { throw HeaderJSONError(offset: i, message: "truncated UTF-8") }
        for k in 1..<length {
            let c = bytes[i + k]
            guard c & 0xC0 == 0x80 else { throw HeaderJSONError(offset: i, message: "invalid UTF-8") }
            v = v << 6 | UInt32(c & 0x3F)
        }
        guard v >= minimum, let scalar = Unicode.Scalar(v) else { throw HeaderJSONError(offset: i, message: "invalid UTF-8") }
        return (scalar, length)
    }
}

extension HeaderJSON {
    /// The value as the one JSON writer's document, for display: integers exact (Int, else
    /// UInt64), other numbers as Double (the text's nearest), everything else as it is.
    public var jsonValue: JSONValue {
        switch self {
        case .null: return .null
        case let .bool(b): return .bool(b)
        case let .number(text):
            if let i = Int(text) { return .int(i) }
            if let u = UInt64(text) { return .uint(u) }
            return Double(text).map { .double($0) } ?? .string(text)
        case let .string(s): return .string(s)
        case let .array(items): return .array(items.map(\.jsonValue))
        case let .object(members): return .object(members.map { ($0.0, $0.1.jsonValue) })
        }
    }
}
