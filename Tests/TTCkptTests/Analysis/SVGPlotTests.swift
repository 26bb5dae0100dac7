import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import TTAnalysis
@testable import TTCore

/// Every element of an SVG document, with its attributes and text, in document order.
final class SVGElements: NSObject, XMLParserDelegate {
    struct Element {
        var name: String
        var attributes: [String: String]
        var text = ""
    }
    var elements: [Element] = []
    private var open: [Int] = []

    static func parse(_ svg: String) throws -> SVGElements {
        let collector = SVGElements()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = collector
        guard parser.parse() else { throw ConfigError(field: "svg", message: "\(String(describing: parser.parserError))") }
        return collector
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        open.append(elements.count)
        elements.append(Element(name: name, attributes: attributes))
    }
    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        open.removeLast()
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if let i = open.last { elements[i].text += string }
    }

    func first(id: String) -> Element? { elements.first { $0.attributes["id"] == id } }
    func all(class c: String) -> [Element] { elements.filter { $0.attributes["class"] == c } }
}

@Suite struct SVGPlotTests {
    // Plot area from SVGPlot: x 80...770, y 50 (top) ... 390 (bottom).
    func points(_ polyline: SVGElements.Element) -> [(Double, Double)] {
        (polyline.attributes["points"] ?? "").split(separator: " ").map { pair in
            let xy = pair.split(separator: ",").map { Double($0)! }
            return (xy[0], xy[1])
        }
    }

    @Test func sampledStepsRule() {
        #expect(SVGPlot.sampledSteps(count: 0) == [])
        #expect(SVGPlot.sampledSteps(count: 5, maxPoints: 5) == [1, 2, 3, 4, 5])
        // 5000 steps, at most 2000 points: k = ceil(5000/2000) = 3, steps 1, 4, ..., 4999
        // (1667 of them) plus the last step 5000.
        let s = SVGPlot.sampledSteps(count: 5000, maxPoints: 2000)
        #expect(s.count == 1668)
        #expect(s.prefix(3) == [1, 4, 7] && s.suffix(2) == [4999, 5000])
        // 4000 steps: k = 2, steps 1, 3, ..., 3999 plus 4000.
        #expect(SVGPlot.sampledSteps(count: 4000, maxPoints: 2000).count == 2001)
        // 6001 steps: k = 4, 1 + 4·1500 = 6001 is on the stride: 1501 points.
        #expect(SVGPlot.sampledSteps(count: 6001, maxPoints: 2000).count == 1501)
    }

    @Test func lossChartAxesPointsAndResumes() throws {
        let history: [Float] = [2.0, 1.75, 1.5, 1.25, 1.0, 0.875, 0.75, 0.625, 0.5, 0.5]
        let svg = SVGPlot.lossChart(history: history, sessionStarts: [0, 4, 7])
        let doc = try SVGElements.parse(svg)
        let x = try #require(doc.first(id: "x-axis"))
        let y = try #require(doc.first(id: "y-axis"))
        // x: 10 steps, step 1 ticks → [0, 10]. y: values 0.5...2.0, span/10 = 0.15 → step 0.2 →
        // [0.4, 2.0].
        #expect(x.attributes["data-min"] == "0.0" && x.attributes["data-max"] == "10.0")
        #expect(y.attributes["data-min"] == "0.4" && y.attributes["data-max"] == "2.0" && y.attributes["data-scale"] == "linear")
        let line = try #require(doc.first(id: "loss"))
        #expect(line.attributes["data-count"] == "10")
        let p = points(line)
        #expect(p.count == 10)
        // Step 1 at x = 80 + 1/10·690 = 149; step 10 at 770. Loss 2.0 at the top (50),
        // loss 0.5 at 390 − (0.1/1.6)·340 = 368.75.
        #expect(p[0].0 == 149 && p[0].1 == 50)
        #expect(p[9].0 == 770 && p[9].1 == 368.75)
        let resumes = doc.all(class: "resume")
        #expect(resumes.map { $0.attributes["data-step"] } == ["4", "7"])
        let resumeLine = try #require(doc.elements.first { $0.name == "line" && $0.attributes["stroke-dasharray"] != nil })
        #expect(resumeLine.attributes["x1"] == "356.00")  // 80 + 4/10·690
        #expect(doc.elements.contains { $0.name == "text" && $0.text == "resume @ 7" })
        // Tick labels: x 0...10, y 0.4...2.0 in steps of 0.2.
        let yLabels = doc.elements.filter { $0.name == "text" && $0.attributes["text-anchor"] == "end" }.map(\.text)
        #expect(yLabels == ["0.4", "0.6", "0.8", "1.0", "1.2", "1.4", "1.6", "1.8", "2.0"])
        #expect(doc.elements.contains { $0.attributes["class"] == "label" && $0.text == "step" })
    }

    @Test func logScaleAndNonFiniteLosses() throws {
        var history: [Float] = [5, 2, 0.5, 0.05]
        history.append(.nan)
        history.append(0)  // not plottable on a log axis
        let doc = try SVGElements.parse(SVGPlot.lossChart(history: history, sessionStarts: [0], logScale: true))
        let y = try #require(doc.first(id: "y-axis"))
        // 0.05 ... 5 → decades 10^-2 ... 10^1 (three decades, so no 2× / 5× ticks).
        #expect(y.attributes["data-scale"] == "log" && y.attributes["data-min"] == "0.01" && y.attributes["data-max"] == "10.0")
        #expect(doc.all(class: "tick").count == 7 + 4)  // x: 0...6; y: 4 decades
        let p = points(try #require(doc.first(id: "loss")))
        #expect(p.count == 4)
        // log10(5) − log10(0.01) = 2.69897 of 3 decades: y = 390 − 0.899657·340 = 84.12.
        #expect(abs(p[0].1 - 84.12) < 0.006)  // 2-decimal rounding
        #expect(doc.all(class: "resume").isEmpty)
        #expect(doc.elements.first { $0.name == "desc" }?.text.contains("2 left out") == true)
    }

    @Test func longHistoryIsThinned() throws {
        let history = (0..<5000).map { Float(3) * exp(-Float($0) / 1000) }
        let doc = try SVGElements.parse(SVGPlot.lossChart(history: history, sessionStarts: [0, 2500]))
        let line = try #require(doc.first(id: "loss"))
        #expect(points(line).count == 1668)
        #expect(line.attributes["data-steps"]?.split(separator: " ").last == "5000")
        #expect(doc.first(id: "x-axis")?.attributes["data-max"] == "5000.0")
    }

    @Test func relativeChangesAndBars() throws {
        func ckpt(_ values: [[Float]]) -> Checkpoint {
            let names = ["w", "zero", "a<&\"b>"]
            return Checkpoint(config: .tutorial, vocabulary: .tutorial, training: TrainingState(rng: PythonRandom(seed: 1).state),
                              tensors: zip(names, values).map { NamedTensor(name: $0, role: .parameter, shape: [$1.count], values: $1) })
        }
        let a = ckpt([[3, 4], [0, 0], [1, 0, 0]])
        let b = ckpt([[3, 9], [0, 2], [1, 0, 0.5]])
        let changes = try SVGPlot.relativeChanges(from: a, to: b)
        // ‖(0,5)‖/‖(3,4)‖ = 1; ‖a‖ = 0 → undefined; ‖(0,0,0.5)‖/1 = 0.5.
        #expect(changes.map(\.relative) == [1.0, nil, 0.5])
        #expect(changes[1].normDiff == 2)
        let doc = try SVGElements.parse(SVGPlot.changeChart(changes))
        let bars = doc.all(class: "bar")
        #expect(bars.map { $0.attributes["data-name"] } == ["w", "zero", "a<&\"b>"])
        #expect(bars.map { $0.attributes["data-value"] } == ["1.0", "undefined", "0.5"])
        // x axis 0...1 (step 0.1); bar width 1.0 → full width, 0.5 → half.
        #expect(doc.first(id: "x-axis")?.attributes["data-max"] == "1.0")
        let rects = doc.elements.filter { $0.name == "rect" && $0.attributes["fill"] == "#1f77b4" }
        #expect(rects.count == 2)
        let full = Double(rects[0].attributes["width"]!)!, half = Double(rects[1].attributes["width"]!)!
        #expect(abs(full - 2 * half) < 0.011)
        #expect(doc.elements.contains { $0.name == "text" && $0.text == "a<&\"b>" })

        var c = b
        c.tensors[0].shape = [1, 2]
        #expect(throws: ConfigError.self) { try SVGPlot.relativeChanges(from: a, to: c) }
    }

    @Test func numberFormatting() {
        #expect(SVGPlot.fixed(-0.004, 2) == "0.00")
        #expect(SVGPlot.fixed(-1.25, 1) == "-1.3")  // 1.25 is exact in binary: half away from zero
        #expect(SVGPlot.fixed(1234.5, 0) == "1235")
        #expect(SVGPlot.fixed(0.05, 3) == "0.050")
        #expect(SVGPlot.significant(0.000012345, 3) == "1.23e-5")
        #expect(SVGPlot.significant(0.5, 3) == "0.500")
        #expect(SVGPlot.significant(99999, 3) == "1.00e5")
        #expect(SVGPlot.xmlEscape("a<b>&\"c'\u{01}") == "a&lt;b&gt;&amp;&quot;c&apos;\u{FFFD}")
    }

    @Test func niceTicks() {
        #expect(SVGPlot.niceTicks(lower: 0, upper: 10, minimumStep: 1) == Array(stride(from: 0.0, through: 10, by: 1)))
        #expect(SVGPlot.niceTicks(lower: 0, upper: 3, minimumStep: 1) == [0, 1, 2, 3])
        #expect(SVGPlot.niceTicks(lower: 0.31, upper: 0.69) == [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7])
        #expect(SVGPlot.niceTicks(lower: 2, upper: 2) == [1, 1.2, 1.4, 1.6, 1.8, 2, 2.2, 2.4, 2.6, 2.8, 3])
        #expect(SVGPlot.logTicks(lower: 0.3, upper: 4) == [0.1, 0.2, 0.5, 1, 2, 5, 10])
    }
}
