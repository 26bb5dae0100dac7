import TTCore
/// Hand-written SVG charts of a checkpoint's loss history and of the change between two
/// checkpoints. Output is deterministic: coordinates are written with two decimals by
/// integer rounding (no locale, no platform formatting), data values with Swift's
/// shortest round-trip `description`.
///
/// Elements tests and scripts can rely on:
/// - `<g id="x-axis" data-min data-max data-scale>` and `<g id="y-axis" ...>`: the axis
///   ranges (the chart maps data-min..data-max onto the plot area) and `linear` or `log`;
///   each tick is a `<g class="tick" data-value>` holding a line and a text label.
/// - Loss chart: `<polyline id="loss" data-count>` with one "x,y" pair per plotted step,
///   `data-steps` listing those steps; `<g class="resume" data-step>` per resume point.
/// - Change chart: one `<g class="bar" data-name data-value>` per tensor, in the given order.
public enum SVGPlot {
    /// Loss histories longer than this are thinned (see `sampledSteps`).
    public static let defaultMaxPoints = 2000

    // Canvas and plot area (pixels).
    static let width = 800.0
    static let height = 450.0
    static let left = 80.0, right = 770.0, top = 50.0, bottom = 390.0

    /// The 1-based steps the loss chart draws for a history of `count` steps.
    ///
    /// Rule: all steps when `count ≤ maxPoints`; otherwise every k-th step starting at 1,
    /// with k = ⌈count / maxPoints⌉, plus the last step if the stride misses it. So at most
    /// maxPoints + 1 points, the first and last step always included.
    public static func sampledSteps(count: Int, maxPoints: Int = defaultMaxPoints) -> [Int] {
        guard count > 0 else { return [] }
        let k = count <= maxPoints ? 1 : (count + maxPoints - 1) / maxPoints
        var steps = Array(stride(from: 1, through: count, by: k))
        if steps.last != count { steps.append(count) }
        return steps
    }

    /// The loss chart: step (1-based) on x, linear from 0 to a round number ≥ the last step;
    /// loss on y, linear or log10 (`logScale`), over round numbers enclosing the plotted
    /// values. Steps whose loss is not finite (or not positive on a log scale) are left out
    /// of the line and counted in the `<desc>`. Each entry of `sessionStarts` after the first
    /// that is inside the history is a resume: a dashed vertical line at x = that step count
    /// (the boundary after it), labelled "resume @ N".
    public static func lossChart(history: [Float], sessionStarts: [Int], logScale: Bool = false,
                                 title: String = "Training loss", maxPoints: Int = defaultMaxPoints) -> String {
        let steps = sampledSteps(count: history.count, maxPoints: maxPoints)
        let usable = steps.filter { s in
            let v = history[s - 1]
            return v.isFinite && (!logScale || v > 0)
        }
        let omitted = steps.count - usable.count
        let values = usable.map { Double(history[$0 - 1]) }

        // X axis: [0, nice ceiling of the last step].
        let xTicks = niceTicks(lower: 0, upper: Double(max(history.count, 1)), minimumStep: 1)
        let xMin = xTicks.first!, xMax = xTicks.last!
        // Y axis.
        let yTicks: [Double]
        if logScale {
            yTicks = logTicks(lower: values.min() ?? 0.1, upper: values.max() ?? 10)
        } else {
            yTicks = niceTicks(lower: values.min() ?? 0, upper: values.max() ?? 1)
        }
        let yMin = yTicks.first!, yMax = yTicks.last!
        func px(_ x: Double) -> Double { left + (x - xMin) / (xMax - xMin) * (right - left) }
        func py(_ y: Double) -> Double {
            let f = logScale ? (log10(y) - log10(yMin)) / (log10(yMax) - log10(yMin)) : (y - yMin) / (yMax - yMin)
            return bottom - f * (bottom - top)
        }

        var svg = header(title: title, description:
            "Loss of \(history.count) steps; \(usable.count) plotted" +
            (steps.count < history.count ? " (every \(steps.count > 1 ? steps[1] - steps[0] : 1)th step and the last)" : "") +
            (omitted > 0 ? "; \(omitted) left out (not finite\(logScale ? " or not positive" : ""))" : "") +
            "; y axis \(logScale ? "log10" : "linear").")
        svg += xAxis(ticks: xTicks, label: "step", position: px, decimals: 0)
        svg += yAxis(ticks: yTicks, label: logScale ? "loss (log scale)" : "loss", scale: logScale ? "log" : "linear", position: py)

        // Resume markers.
        let resumes = sessionStarts.dropFirst().filter { $0 > 0 && $0 <= history.count }
        svg += "<g id=\"resumes\">\n"
        for s in resumes {
            let x = fixed(px(Double(s)), 2)
            svg += "<g class=\"resume\" data-step=\"\(s)\">"
            svg += "<line x1=\"\(x)\" y1=\"\(fixed(top, 2))\" x2=\"\(x)\" y2=\"\(fixed(bottom, 2))\" stroke=\"#d62728\" stroke-width=\"1\" stroke-dasharray=\"5 4\"/>"
            svg += "<text x=\"\(fixed(px(Double(s)) + 3, 2))\" y=\"\(fixed(top + 12, 2))\" fill=\"#d62728\" font-size=\"11\">resume @ \(s)</text></g>\n"
        }
        svg += "</g>\n"

        // The line.
        let points = zip(usable, values).map { "\(fixed(px(Double($0)), 2)),\(fixed(py($1), 2))" }.joined(separator: " ")
        svg += "<polyline id=\"loss\" data-count=\"\(usable.count)\" data-steps=\"\(usable.map(String.init).joined(separator: " "))\" "
        svg += "points=\"\(points)\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" stroke-linejoin=\"round\"/>\n"
        svg += "</svg>\n"
        return svg
    }

    /// One tensor's change between two checkpoints.
    public struct TensorChange: Equatable, Sendable {
        public var name: String
        /// ‖a‖₂ over the tensor's elements.
        public var normA: Double
        /// ‖a − b‖₂.
        public var normDiff: Double
        /// ‖a − b‖ / ‖a‖, or nil when ‖a‖ = 0 (undefined).
        public var relative: Double? { normA > 0 ? normDiff / normA : nil }
        public init(name: String, normA: Double, normDiff: Double) {
            self.name = name
            self.normA = normA
            self.normDiff = normDiff
        }
    }

    /// Per-tensor ‖a−b‖ and ‖a‖ for the parameters of two checkpoints of the same layout,
    /// in `a`'s order, accumulated in Double in element order.
    /// - Throws: `ConfigError` (field "tensors") naming a parameter that is missing from `b`
    ///   or has another shape.
    public static func relativeChanges(from a: Checkpoint, to b: Checkpoint) throws -> [TensorChange] {
        var changes: [TensorChange] = []
        for ta in a.tensors where ta.role == .parameter {
            guard let tb = b.tensors.first(where: { $0.name == ta.name && $0.role == .parameter }) else {
                throw ConfigError(field: "tensors", message: "\(ta.name) is in the first checkpoint but not the second")
            }
            guard tb.shape == ta.shape, tb.values.count == ta.values.count else {
                throw ConfigError(field: "tensors", message: "\(ta.name) has shape \(ta.shape) in the first checkpoint and \(tb.shape) in the second")
            }
            var na = 0.0, nd = 0.0
            for i in 0..<ta.values.count {
                let x = Double(ta.values[i]), d = Double(ta.values[i]) - Double(tb.values[i])
                na += x * x
                nd += d * d
            }
            changes.append(TensorChange(name: ta.name, normA: na.squareRoot(), normDiff: nd.squareRoot()))
        }
        return changes
    }

    /// A horizontal bar per tensor: its relative change ‖a−b‖/‖a‖ on a linear x axis from 0
    /// to a round number ≥ the largest. Tensors with ‖a‖ = 0 get no bar and a note with
    /// ‖a−b‖ instead. Names are XML-escaped.
    public static func changeChart(_ changes: [TensorChange], title: String = "Relative change per tensor") -> String {
        let rowHeight = 18.0
        let longest = changes.map { $0.name.count }.max() ?? 0
        let labelWidth = min(360.0, max(80.0, Double(longest) * 7.0 + 10))
        let x0 = labelWidth + 10, x1 = width - 110
        let y0 = top, y1 = top + rowHeight * Double(max(changes.count, 1))
        let canvasHeight = y1 + 60
        let largest = changes.compactMap { $0.relative }.max() ?? 0
        let ticks = niceTicks(lower: 0, upper: largest > 0 ? largest : 1)
        let xMax = ticks.last!
        func px(_ v: Double) -> Double { x0 + v / xMax * (x1 - x0) }

        let undefined = changes.filter { $0.relative == nil }.count
        var svg = header(title: title, description:
            "Relative change ‖a−b‖/‖a‖ of \(changes.count) tensors" +
            (undefined > 0 ? "; \(undefined) with ‖a‖ = 0 shown without a bar" : "") + "; x axis linear.",
            height: canvasHeight)
        // X axis along the bottom of the bars.
        svg += "<g id=\"x-axis\" data-min=\"0\" data-max=\"\(xMax)\" data-scale=\"linear\">\n"
        svg += "<line x1=\"\(fixed(x0, 2))\" y1=\"\(fixed(y1, 2))\" x2=\"\(fixed(x1, 2))\" y2=\"\(fixed(y1, 2))\" stroke=\"#000\"/>\n"
        let decimals = tickDecimals(ticks)
        for t in ticks {
            let x = fixed(px(t), 2)
            svg += "<g class=\"tick\" data-value=\"\(t)\"><line x1=\"\(x)\" y1=\"\(fixed(y0, 2))\" x2=\"\(x)\" y2=\"\(fixed(y1 + 4, 2))\" stroke=\"#ddd\"/>"
            svg += "<text x=\"\(x)\" y=\"\(fixed(y1 + 18, 2))\" text-anchor=\"middle\">\(fixed(t, decimals))</text></g>\n"
        }
        svg += "<text class=\"label\" x=\"\(fixed((x0 + x1) / 2, 2))\" y=\"\(fixed(y1 + 40, 2))\" text-anchor=\"middle\">relative change ‖a−b‖ / ‖a‖</text>\n"
        svg += "</g>\n<g id=\"bars\">\n"
        for (i, c) in changes.enumerated() {
            let yTop = y0 + Double(i) * rowHeight
            let name = xmlEscape(c.name)
            let textY = fixed(yTop + rowHeight / 2 + 4, 2)
            svg += "<g class=\"bar\" data-name=\"\(name)\" data-value=\"\(c.relative.map { "\($0)" } ?? "undefined")\">"
            svg += "<text x=\"\(fixed(x0 - 6, 2))\" y=\"\(textY)\" text-anchor=\"end\">\(name)</text>"
            if let r = c.relative {
                svg += "<rect x=\"\(fixed(x0, 2))\" y=\"\(fixed(yTop + 3, 2))\" width=\"\(fixed(px(r) - x0, 2))\" height=\"\(fixed(rowHeight - 6, 2))\" fill=\"#1f77b4\"/>"
                svg += "<text x=\"\(fixed(px(r) + 4, 2))\" y=\"\(textY)\">\(significant(r, 3))</text>"
            } else {
                svg += "<text x=\"\(fixed(x0 + 4, 2))\" y=\"\(textY)\" fill=\"#777\">‖a‖ = 0, ‖a−b‖ = \(significant(c.normDiff, 3))</text>"
            }
            svg += "</g>\n"
        }
        svg += "</g>\n</svg>\n"
        return svg
    }

    // MARK: - Pieces

    static func header(title: String, description: String, height: Double = height) -> String {
        var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(fixed(width, 0))\" height=\"\(fixed(height, 0))\" "
        s += "viewBox=\"0 0 \(fixed(width, 0)) \(fixed(height, 0))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<title>\(xmlEscape(title))</title>\n<desc>\(xmlEscape(description))</desc>\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
        s += "<text x=\"\(fixed(width / 2, 2))\" y=\"28\" text-anchor=\"middle\" font-size=\"15\">\(xmlEscape(title))</text>\n"
        return s
    }

    static func xAxis(ticks: [Double], label: String, position: (Double) -> Double, decimals: Int) -> String {
        var s = "<g id=\"x-axis\" data-min=\"\(ticks.first!)\" data-max=\"\(ticks.last!)\" data-scale=\"linear\">\n"
        s += "<line x1=\"\(fixed(left, 2))\" y1=\"\(fixed(bottom, 2))\" x2=\"\(fixed(right, 2))\" y2=\"\(fixed(bottom, 2))\" stroke=\"#000\"/>\n"
        let d = max(decimals, tickDecimals(ticks))
        for t in ticks {
            let x = fixed(position(t), 2)
            s += "<g class=\"tick\" data-value=\"\(t)\"><line x1=\"\(x)\" y1=\"\(fixed(bottom, 2))\" x2=\"\(x)\" y2=\"\(fixed(bottom + 5, 2))\" stroke=\"#000\"/>"
            s += "<text x=\"\(x)\" y=\"\(fixed(bottom + 19, 2))\" text-anchor=\"middle\">\(fixed(t, d))</text></g>\n"
        }
        s += "<text class=\"label\" x=\"\(fixed((left + right) / 2, 2))\" y=\"\(fixed(bottom + 42, 2))\" text-anchor=\"middle\">\(xmlEscape(label))</text>\n"
        s += "</g>\n"
        return s
    }

    static func yAxis(ticks: [Double], label: String, scale: String, position: (Double) -> Double) -> String {
        var s = "<g id=\"y-axis\" data-min=\"\(ticks.first!)\" data-max=\"\(ticks.last!)\" data-scale=\"\(scale)\">\n"
        s += "<line x1=\"\(fixed(left, 2))\" y1=\"\(fixed(top, 2))\" x2=\"\(fixed(left, 2))\" y2=\"\(fixed(bottom, 2))\" stroke=\"#000\"/>\n"
        let shared = tickDecimals(ticks)
        for t in ticks {
            let y = fixed(position(t), 2)
            let d = scale == "log" ? max(0, -Int(log10(t).rounded(.down))) : shared
            s += "<g class=\"tick\" data-value=\"\(t)\"><line x1=\"\(fixed(left - 5, 2))\" y1=\"\(y)\" x2=\"\(fixed(right, 2))\" y2=\"\(y)\" stroke=\"#e5e5e5\"/>"
            s += "<text x=\"\(fixed(left - 8, 2))\" y=\"\(fixed(position(t) + 4, 2))\" text-anchor=\"end\">\(fixed(t, d))</text></g>\n"
        }
        let cy = fixed((top + bottom) / 2, 2)
        s += "<text class=\"label\" x=\"20\" y=\"\(cy)\" text-anchor=\"middle\" transform=\"rotate(-90 20 \(cy))\">\(xmlEscape(label))</text>\n"
        s += "</g>\n"
        return s
    }

    /// Round-number ticks enclosing [lower, upper]: a step of 1, 2 or 5 × 10^k giving at
    /// most 10 intervals, from ⌊lower/step⌋·step to ⌈upper/step⌉·step. A zero span is
    /// widened to ±0.5 (or [0, 1] at zero) so the axis never collapses. The step is at
    /// least `minimumStep` (1 for step counts).
    public static func niceTicks(lower: Double, upper: Double, minimumStep: Double = 0) -> [Double] {
        var lo = lower, hi = upper
        if hi <= lo {
            if lo == 0 { hi = 1 } else { lo -= 0.5 * abs(lo); hi += 0.5 * abs(hi) }
        }
        let raw = (hi - lo) / 10
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let step = max(minimumStep, [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw * (1 - 1e-12) }!)
        let first = (lo / step).rounded(.down), last = (hi / step).rounded(.up)
        // Ticks as integer multiples of `step`, so labels are exact round numbers.
        return stride(from: first, through: last, by: 1).map { tidy($0 * step, step) }
    }

    /// Powers of ten enclosing [lower, upper] (both > 0); with at most two decades, also
    /// the 2× and 5× values between them.
    public static func logTicks(lower: Double, upper: Double) -> [Double] {
        let lo = Int(log10(lower).rounded(.down))
        var hi = Int(log10(upper).rounded(.up))
        if hi <= lo { hi = lo + 1 }
        var ticks: [Double] = []
        for e in lo...hi {
            let decade = pow(10, Double(e))
            ticks.append(tidy(decade, decade))
            if hi - lo <= 2 && e < hi {
                ticks.append(tidy(2 * decade, decade))
                ticks.append(tidy(5 * decade, decade))
            }
        }
        return ticks
    }

    /// `value` rounded to the decimals `step` needs, so 0.30000000000000004 prints as 0.3.
    static func tidy(_ value: Double, _ step: Double) -> Double {
        let d = max(0, -Int(log10(step).rounded(.down)))
        let scale = pow(10, Double(d))
        return (value * scale).rounded() / scale
    }

    /// Decimals that show every tick exactly (at most 12).
    static func tickDecimals(_ ticks: [Double]) -> Int {
        for d in 0...12 {
            let scale = pow(10, Double(d))
            if ticks.allSatisfy({ abs(($0 * scale).rounded() - $0 * scale) < 1e-6 }) { return d }
        }
        return 12
    }

    /// `value` with exactly `decimals` digits after the point, rounded half away from
    /// zero, by integer arithmetic ("-0.00" prints as "0.00").
    public static func fixed(_ value: Double, _ decimals: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
        let scale = pow(10, Double(decimals))
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9e15 else { return "\(value)" }
        let n = Int64(scaled)
        let p = Int64(scale)
        var s = String(n / p)
        if decimals > 0 {
            let frac = String(n % p)
            s += "." + String(repeating: "0", count: decimals - frac.count) + frac
        }
        return (value < 0 && n != 0 ? "-" : "") + s
    }

    /// `value` with `digits` significant digits: fixed notation for 1e-3 ≤ |v| < 1e4,
    /// otherwise mantissa and exponent ("1.23e-5").
    public static func significant(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite, value != 0 else { return value == 0 ? "0" : fixed(value, 0) }
        var e = Int(log10(abs(value)).rounded(.down))
        if e >= -3 && e < 4 { return fixed(value, max(0, digits - 1 - e)) }
        var mantissa = value / pow(10, Double(e))
        if abs((mantissa * pow(10, Double(digits - 1))).rounded()) >= pow(10, Double(digits)) {
            e += 1
            mantissa /= 10
        }
        return fixed(mantissa, digits - 1) + "e" + String(e)
    }

    /// Escapes & < > " ' for text and attributes; characters XML 1.0 forbids (C0 controls
    /// but tab, newline and return) become U+FFFD.
    public static func xmlEscape(_ s: String) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n", "\r": out += "&#\(scalar.value);"
            default:
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
