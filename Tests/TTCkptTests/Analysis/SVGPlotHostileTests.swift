import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import TTAnalysis
@testable import TTCore

/// Issue 11 #8: charts of any loss history and any tensor change: no trap (a loss in
/// (0, 1e-18) used to trap converting a tick's 10^19 scale to Int64), no "nan" or "inf" in
/// an attribute, and well-formed XML.
@Suite struct SVGPlotHostileTests {
    static let extremes: [Float] = [0, -0, 1e-19, 1e-30, 1.1754944e-38, Float(bitPattern: 0x11D6C), /* ≈ 1e-40, subnormal */ .leastNonzeroMagnitude, 1, 2.5, 1e10, 3e38,
                                    .greatestFiniteMagnitude, -1, -3e38, .nan, .infinity, -.infinity]

    static func check(_ svg: String, _ label: String) {
        let bad = svg.range(of: #"="[^"]*(nan|inf)[^"]*""#, options: .regularExpression)
        #expect(bad == nil, "\(bad.map { svg[$0] } ?? ""): \(label)")
        #expect(throws: Never.self, "\(label)") { _ = try SVGElements.parse(svg) }
    }

    @Test func lossChartsOfHostileHistories() {
        var rng = PythonRandom(seed: 600)
        for trial in 0..<600 {
            let count = 1 + Int(rng.randbelow(40))
            let history: [Float] = (0..<count).map { _ in
                switch rng.randbelow(3) {
                case 0: return Self.extremes[Int(rng.randbelow(UInt64(Self.extremes.count)))]
                case 1: return Float(bitPattern: UInt32(truncatingIfNeeded: rng.nextUInt32()))  // any bits: NaNs, subnormals
                default: return Float(rng.random()) * pow(10, Float(Int(rng.randbelow(80)) - 45))
                }
            }
            let starts = [0] + (0..<Int(rng.randbelow(3))).map { _ in Int(rng.randbelow(UInt64(count + 2))) }.sorted()
            for logScale in [false, true] {
                Self.check(SVGPlot.lossChart(history: history, sessionStarts: starts, logScale: logScale, maxPoints: 2 + Int(rng.randbelow(50))),
                           "trial \(trial) log \(logScale): \(history)")
            }
        }
    }

    @Test func changeChartsOfNonFiniteAndExtremeNorms() {
        let norms: [Double] = [0, 1e-300, 1e-45, 1, 1e38, 1e300, .greatestFiniteMagnitude, .nan, .infinity]
        var changes: [SVGPlot.TensorChange] = []
        for a in norms { for d in norms { changes.append(SVGPlot.TensorChange(name: "t\(changes.count)", normA: a, normDiff: d)) } }
        let svg = SVGPlot.changeChart(changes)
        Self.check(svg, "all pairs")
        // The non-finite ones get a note, never a bar.
        let nan = SVGPlot.changeChart([SVGPlot.TensorChange(name: "w", normA: .nan, normDiff: 1)])
        #expect(!nan.contains("<rect x") && nan.contains("not finite: ‖a‖ = nan"))
    }

    @Test func logTickLabelsOfTinyLosses() throws {
        let svg = SVGPlot.lossChart(history: [1e-19, 3e-19, 2e-18], sessionStarts: [0], logScale: true)
        let labels = try SVGElements.parse(svg).elements.filter { $0.name == "text" }.map(\.text)
        #expect(labels.contains("1e-19") && labels.contains("1e-17"), "\(labels)")
    }
}
