/// A one-line chart of a series (the loss history) in the eight block characters ▁▂▃▄▅▆▇█.
public enum Sparkline {
    public static let levels: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// The series in `min(width, values.count)` characters.
    ///
    /// - Buckets: with n values and w characters, character i summarizes values
    ///   `i·n/w ..< (i+1)·n/w` (integer division), so every bucket is non-empty and the
    ///   buckets tile the series in order; its value is the mean (in Double) of the
    ///   bucket's finite values. A bucket with no finite value prints a space.
    /// - Levels: with lo and hi the smallest and largest bucket values, a bucket value v
    ///   gets level ⌊8·(v − lo)/(hi − lo)⌋ clamped to 0...7 (eight equal-width bins; the
    ///   maximum is █). When hi == lo every bucket prints ▁.
    /// - Returns "" for no values or `width < 1`.
    public static func render(_ values: [Float], width: Int) -> String {
        let n = values.count
        guard n > 0, width > 0 else { return "" }
        let w = min(width, n)
        var buckets: [Double?] = []
        buckets.reserveCapacity(w)
        for i in 0..<w {
            let start = i * n / w, end = (i + 1) * n / w
            var sum = 0.0, finite = 0
            for v in values[start..<end] where v.isFinite {
                sum += Double(v)
                finite += 1
            }
            buckets.append(finite == 0 ? nil : sum / Double(finite))
        }
        let present = buckets.compactMap { $0 }
        guard let lo = present.min(), let hi = present.max() else {
            return String(repeating: " ", count: w)
        }
        var out = ""
        for bucket in buckets {
            guard let v = bucket else { out += " "; continue }
            var level = 0
            if hi > lo {
                let scaled = 8 * (v - lo) / (hi - lo)
                level = scaled.isFinite ? Swift.min(7, Swift.max(0, Int(scaled))) : 7
            }
            out.append(levels[level])
        }
        return out
    }
}
