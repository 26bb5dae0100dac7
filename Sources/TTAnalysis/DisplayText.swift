import TTCore
import TTFormat
import TTInterop
import Foundation

/// Text helpers for printing file contents (token strings, tensor names) on a terminal.
public enum DisplayText {
    /// `s` with every invisible or terminal-controlling character made visible, so a token
    /// can never move the cursor, ring the bell, send an escape sequence or reorder text:
    /// `\n`, `\r`, `\t`, `\0`, and `\u{XX}` for other controls (C0, DEL, C1), format
    /// characters (bidi overrides, zero-width), line/paragraph separators, private-use,
    /// surrogate and unassigned scalars. A backslash prints as `\\` so the escapes stay
    /// unambiguous. Everything else, non-ASCII letters included, is unchanged.
    public static func escaped(_ s: String) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\0": out += "\\0"
            default:
                switch scalar.properties.generalCategory {
                case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned:
                    out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
                default:
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// `escaped(s)` in double quotes, with `"` escaped too: shows leading/trailing spaces
    /// and the empty string.
    public static func quoted(_ s: String) -> String {
        "\"" + escaped(s).replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// A shape as `6×16`, or `scalar` for an empty shape.
    public static func shape(_ shape: [Int]) -> String {
        shape.isEmpty ? "scalar" : shape.map(String.init).joined(separator: "×")
    }

    /// A multi-index as `[3, 7]`.
    public static func index(_ index: [Int]) -> String {
        "[" + index.map(String.init).joined(separator: ", ") + "]"
    }

    /// `value` with `digits` significant digits in %g style (deterministic, locale-free):
    /// `0.0012346`, `1.5e+07`, `nan`, `inf`, `-inf`.
    public static func general(_ value: Double, digits: Int = 5) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        return String(format: "%.\(digits)g", value)
    }

    /// Pads `s` on the left (right-aligns) to `width` characters.
    public static func padLeft(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }

    /// Pads `s` on the right (left-aligns) to `width` characters.
    public static func padRight(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    /// Rows of cells as aligned columns separated by two spaces; `rightAligned[i]` aligns
    /// column i to the right (numbers). Trailing spaces are trimmed.
    public static func table(_ rows: [[String]], rightAligned: [Bool]) -> [String] {
        guard let columns = rows.map(\.count).max() else { return [] }
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        return rows.map { row in
            var line = ""
            for (i, cell) in row.enumerated() {
                if i > 0 { line += "  " }
                let right = i < rightAligned.count && rightAligned[i]
                line += right ? padLeft(cell, widths[i]) : padRight(cell, widths[i])
            }
            while line.hasSuffix(" ") { line.removeLast() }
            return line
        }
    }
}
