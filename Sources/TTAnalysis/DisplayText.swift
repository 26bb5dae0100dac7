import Foundation

/// Formatting for inspect's and diff's text output: shapes, indices, numbers, aligned
/// columns. Names and tokens are escaped with `TerminalText` before they get here.
public enum DisplayText {
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
