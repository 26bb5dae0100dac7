/// A plain-text table with right-aligned numeric columns, printed in Markdown form so it
/// pastes into the README unchanged.
struct Table {
    var title: String
    var headers: [String]
    var rows: [[String]] = []

    init(_ title: String, headers: [String]) {
        self.title = title
        self.headers = headers
    }

    mutating func add(_ row: [String]) { rows.append(row) }

    func render() -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for (i, w) in widths.enumerated() {
                let cell = i < cells.count ? cells[i] : ""
                let pad = String(repeating: " ", count: w - cell.count)
                parts.append(i == 0 ? cell + pad : pad + cell)
            }
            return "| " + parts.joined(separator: " | ") + " |"
        }
        var out = "### \(title)\n\n" + line(headers) + "\n"
        out += "|" + widths.enumerated().map { i, w in
            i == 0 ? String(repeating: "-", count: w + 2) : String(repeating: "-", count: w + 1) + ":"
        }.joined(separator: "|") + "|\n"
        for row in rows { out += line(row) + "\n" }
        return out
    }
}

/// Fixed-point formatting without Foundation.
func fmt(_ x: Double, _ digits: Int = 1) -> String {
    guard x.isFinite else { return "-" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let r = (abs(x) * scale).rounded()
    let whole = Int(r / scale)
    let frac = Int(r - Double(whole) * scale)
    var s = (x < 0 && r != 0 ? "-" : "") + String(whole)
    if digits > 0 {
        let f = String(frac)
        s += "." + String(repeating: "0", count: digits - f.count) + f
    }
    return s
}
