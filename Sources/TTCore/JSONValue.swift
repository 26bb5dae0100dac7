/// A JSON document built in memory and printed deterministically: object keys keep the
/// order they were added in, and every number prints so that parsing it gives back the
/// exact value it came from.
///
/// Numbers:
/// - `.float` prints Swift's `Float.description` (the shortest decimal that reads back as
///   the same Float), `.double` prints `Double.description`, `.int` prints the integer.
/// - JSON has no NaN or infinity: a non-finite `.float`/`.double` prints `null`.
///
/// Strings escape `"`, `\`, and every control character (U+0000...U+001F, U+007F and the
/// C1 controls U+0080...U+009F, and U+2028/U+2029 for JavaScript) as `\uXXXX` or its short
/// form (`\n`, `\t`, ...), so a token or tensor name can never break the document or a terminal.
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

    /// The document as text. `pretty`: two-space indentation, with arrays of scalars kept
    /// on one line (so a matrix prints one row per line). No trailing newline.
    public func serialized(pretty: Bool = true) -> String {
        var out = ""
        write(to: &out, pretty: pretty, indent: 0)
        return out
    }

    private var isScalar: Bool {
        switch self {
        case .array, .object: return false
        default: return true
        }
    }

    private func write(to out: inout String, pretty: Bool, indent: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .uint(let u): out += String(u)
        case .float(let f): out += f.isFinite ? f.description : "null"
        case .double(let d): out += d.isFinite ? d.description : "null"
        case .string(let s): JSONValue.writeString(s, to: &out)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            if !pretty || items.allSatisfy({ $0.isScalar }) {
                out += "["
                for (i, item) in items.enumerated() {
                    if i > 0 { out += pretty ? ", " : "," }
                    item.write(to: &out, pretty: pretty, indent: indent)
                }
                out += "]"
                return
            }
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += String(repeating: " ", count: indent + 2)
                item.write(to: &out, pretty: pretty, indent: indent + 2)
                out += i + 1 < items.count ? ",\n" : "\n"
            }
            out += String(repeating: " ", count: indent) + "]"
        case .object(let members):
            if members.isEmpty { out += "{}"; return }
            if !pretty {
                out += "{"
                for (i, (key, value)) in members.enumerated() {
                    if i > 0 { out += "," }
                    JSONValue.writeString(key, to: &out)
                    out += ":"
                    value.write(to: &out, pretty: false, indent: 0)
                }
                out += "}"
                return
            }
            out += "{\n"
            for (i, (key, value)) in members.enumerated() {
                out += String(repeating: " ", count: indent + 2)
                JSONValue.writeString(key, to: &out)
                out += ": "
                value.write(to: &out, pretty: true, indent: indent + 2)
                out += i + 1 < members.count ? ",\n" : "\n"
            }
            out += String(repeating: " ", count: indent) + "}"
        }
    }

    /// Appends `s` as a JSON string literal.
    public static func writeString(_ s: String, to out: inout String) {
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
                if v < 0x20 || (0x7F...0x9F).contains(v) || v == 0x2028 || v == 0x2029 {
                    let hex = String(v, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
