/// A JSON document built in memory and printed deterministically: object keys keep the
/// order they were added in, and every number prints so that parsing it gives back the
/// exact value it came from.
///
/// Numbers:
/// - `.float` prints Swift's `Float.description` (the shortest decimal that reads back as
///   the same Float), `.double` prints `Double.description`, `.int` prints the integer.
/// - JSON has no NaN or infinity: a non-finite `.float`/`.double` prints `null`.
///
/// Strings escape `"`, `\` and the C0 controls (as `\n`, `\t`, ... or `\u00XX`); with
/// `.terminal` escaping (the default, for documents printed to a terminal) also every
/// scalar `TerminalText.needsEscape` flags (DEL, C1, bidi and other format controls, line
/// separators, private use, unassigned) as `\uXXXX`, so a token or tensor name can never
/// break the document or drive the terminal. This is the one JSON writer: `inspect --json`,
/// `diff --json`, `train --json` and the safetensors header all use it.
public indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case uint(UInt64)
    case float(Float)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.int(a), .int(b)): return a == b
        case let (.uint(a), .uint(b)): return a == b
        case let (.float(a), .float(b)): return a.bitPattern == b.bitPattern
        case let (.double(a), .double(b)): return a.bitPattern == b.bitPattern
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// `.null` for nil.
    public static func optional(_ value: JSONValue?) -> JSONValue { value ?? .null }

    /// A nested row-major array of `values` with the given shape (`[]` for a scalar).
    /// - Precondition: `values.count == shape.reduce(1, *)`.
    public static func nestedArray(_ values: UnsafeBufferPointer<Float>, shape: [Int]) -> JSONValue {
        precondition(values.count == shape.reduce(1, *), "values do not match shape")
        if shape.isEmpty { return .float(values[0]) }
        func build(_ dim: Int, _ base: Int) -> JSONValue {
            let n = shape[dim]
            if dim == shape.count - 1 {
                return .array((0..<n).map { .float(values[base + $0]) })
            }
            let stride = shape[(dim + 1)...].reduce(1, *)
            return .array((0..<n).map { build(dim + 1, base + $0 * stride) })
        }
        return build(0, 0)
    }

    /// How strings are escaped.
    public enum StringEscaping: Sendable {
        /// `"`, `\`, `\b \f \n \r \t` and `\u00xx` for the other C0 controls; everything
        /// else as UTF-8. These are the bytes serde_json writes (the safetensors reference).
        case minimal
        /// `minimal`, plus `\uxxxx` (a UTF-16 pair above U+FFFF) for every scalar
        /// `TerminalText.needsEscape` flags.
        case terminal
    }

    /// The document as text. `pretty`: two-space indentation, with arrays of scalars kept
    /// on one line (so a matrix prints one row per line); otherwise compact, no spaces at
    /// all. No trailing newline.
    public func serialized(pretty: Bool = true, escaping: StringEscaping = .terminal) -> String {
        var out = ""
        write(to: &out, pretty: pretty, indent: 0, escaping: escaping)
        return out
    }

    private var isScalar: Bool {
        switch self {
        case .array, .object: return false
        default: return true
        }
    }

    private func write(to out: inout String, pretty: Bool, indent: Int, escaping: StringEscaping) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .uint(let u): out += String(u)
        case .float(let f): out += f.isFinite ? f.description : "null"
        case .double(let d): out += d.isFinite ? d.description : "null"
        case .string(let s): JSONValue.writeString(s, escaping, to: &out)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            if !pretty || items.allSatisfy({ $0.isScalar }) {
                out += "["
                for (i, item) in items.enumerated() {
                    if i > 0 { out += pretty ? ", " : "," }
                    item.write(to: &out, pretty: pretty, indent: indent, escaping: escaping)
                }
                out += "]"
                return
            }
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += String(repeating: " ", count: indent + 2)
                item.write(to: &out, pretty: pretty, indent: indent + 2, escaping: escaping)
                out += i + 1 < items.count ? ",\n" : "\n"
            }
            out += String(repeating: " ", count: indent) + "]"
        case .object(let members):
            if members.isEmpty { out += "{}"; return }
            if !pretty {
                out += "{"
                for (i, (key, value)) in members.enumerated() {
                    if i > 0 { out += "," }
                    JSONValue.writeString(key, escaping, to: &out)
                    out += ":"
                    value.write(to: &out, pretty: false, indent: 0, escaping: escaping)
                }
                out += "}"
                return
            }
            out += "{\n"
            for (i, (key, value)) in members.enumerated() {
                out += String(repeating: " ", count: indent + 2)
                JSONValue.writeString(key, escaping, to: &out)
                out += ": "
                value.write(to: &out, pretty: true, indent: indent + 2, escaping: escaping)
                out += i + 1 < members.count ? ",\n" : "\n"
            }
            out += String(repeating: " ", count: indent) + "}"
        }
    }

    /// Appends `s` as a JSON string literal.
    private static func writeString(_ s: String, _ escaping: StringEscaping, to out: inout String) {
        func hex4(_ v: UInt32) {
            let hex = String(v, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        }
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                let v = scalar.value
                if v < 0x20 || (escaping == .terminal && TerminalText.needsEscape(scalar)) {
                    if v > 0xFFFF {
                        hex4(0xD800 + ((v - 0x10000) >> 10))
                        hex4(0xDC00 + ((v - 0x10000) & 0x3FF))
                    } else {
                        hex4(v)
                    }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
