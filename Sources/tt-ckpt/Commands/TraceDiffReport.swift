import ArgumentParser
import Foundation
import TTAnalysis
import TTCore
import TTFormat

/// `diff` when one side is a trace (spec/TRACE.md): a learner's tensors (safetensors or
/// .ttc) matched by name against the trace, listed in the order of the step, with the
/// recognised mistakes (`TraceHints`) under the rows they explain.
enum TraceDiffCommand {
    /// Runs the trace comparison when `a` or `b` is a `.ttc` trace; returns nil otherwise
    /// (the ordinary checkpoint diff applies). Returns whether the files are equal.
    static func runIfTrace(a: String, b: String, atol: Double?, rtol: Double?, json: Bool) throws -> Bool? {
        let aIsTrace = NamedTensorFile.isTrace(a), bIsTrace = NamedTensorFile.isTrace(b)
        guard aIsTrace || bIsTrace else { return nil }
        let (minePath, tracePath) = bIsTrace ? (a, b) : (b, a)
        let mine = try open(minePath), trace = try open(tracePath)
        var tolerance = TraceDiff.defaultTolerance
        if atol != nil || rtol != nil { tolerance = Tolerance(absolute: atol ?? 0, relative: rtol ?? 0) }
        let diff: TraceDiff
        do {
            diff = try TraceDiff.compare(mine, trace: trace, tolerance: tolerance)
        } catch {
            throw AnalysisIO.fail(error, path: (error as? FormatError)?.path ?? "\(a) vs \(b)")
        }
        if json {
            AnalysisIO.printJSON(document(diff, mine: minePath, trace: tracePath))
        } else {
            print(report(diff, mine: minePath, trace: tracePath).joined(separator: "\n"))
        }
        return diff.isEqual
    }

    static func open(_ path: String) throws -> NamedTensorFile {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw AnalysisIO.fail(path, "no such file") }
        if isDirectory.boolValue { throw AnalysisIO.fail(path, "is a directory, not a file") }
        do { return try NamedTensorFile.open(path) } catch { throw AnalysisIO.fail(error, path: path) }
    }

    static func report(_ d: TraceDiff, mine: String, trace: String) -> [String] {
        var lines: [String] = []
        let t = d.trace
        lines.append("A      \(TerminalText.escaped(mine))")
        lines.append("trace  \(TerminalText.escaped(trace)): step \(t.step), batch \(t.batchSize) × \(t.seqLen), N = \(t.targetCount) targets")
        lines.append("tolerance |a−b| ≤ \(d.tolerance.absolute) + \(d.tolerance.relative)·|b|; tensors in the order of the step (forward, backward, update)")
        lines.append("")
        lines.append("compared \(d.compared) of the trace's \(d.traceCount) tensors (\(d.notInA) not in A, not counted)")
        var rows: [[String]] = [["name", "shape", "status", "max |a−b|", "‖a−b‖/‖b‖"]]
        var hints: [Int: String] = [:]
        for r in d.rows where r.status != .notInTrace {
            var shape = DisplayText.shape(r.shapeA)
            if r.status == .shapeMismatch, let sb = r.shapeB { shape += " vs " + DisplayText.shape(sb) }
            let status = r.status == .equal ? r.status.rawValue : Colour.paint(r.status.rawValue, .red)
            rows.append([TerminalText.escaped(r.name), shape, status,
                         r.comparison.map { DisplayText.general($0.maxAbsDifference) } ?? "-",
                         r.comparison == nil ? "-" : DisplayText.general(r.relativeDifference)])
            if let h = r.hint { hints[rows.count - 1] = h }
        }
        let table = DisplayText.table(rows, rightAligned: [false, false, false, true, true])
        var previous: String? = nil
        for (i, line) in table.enumerated() {
            lines.append(line)
            guard let h = hints[i] else { continue }
            lines.append("    hint: " + (h == previous ? "as above" : h))
            previous = h
        }
        let extra = d.rows.filter { $0.status == .notInTrace }
        if !extra.isEmpty {
            lines.append("")
            lines.append("in A but not in the trace (not compared): " + extra.map { TerminalText.escaped($0.name) }.joined(separator: ", "))
        }
        lines.append("")
        if let first = d.firstDifference {
            lines.append("first difference: \(TerminalText.escaped(first.name))" + (first.hint.map { " (\($0))" } ?? ""))
        }
        let equal = d.isEqual
        lines.append("result: " + (equal ? Colour.paint("equal within tolerance", .green)
                                         : Colour.paint(d.compared == 0 ? "nothing compared" : "different", .red)))
        return lines
    }

    static func document(_ d: TraceDiff, mine: String, trace: String) -> JSONValue {
        let rows: [JSONValue] = d.rows.map { r in
            var m: [(String, JSONValue)] = [
                ("name", .string(r.name)),
                ("status", .string(r.status.rawValue)),
                ("role", r.role.map { .string($0.label) } ?? .null),
                ("shape_a", .array(r.shapeA.map { .int($0) })),
                ("shape_b", r.shapeB.map { .array($0.map { .int($0) }) } ?? .null),
            ]
            if let c = r.comparison {
                m.append(("max_abs_diff", .double(c.maxAbsDifference)))
                m.append(("outside_tolerance", .int(c.outsideTolerance)))
                m.append(("relative_diff", .double(r.relativeDifference)))
            }
            m.append(("hint", r.hint.map { .string($0) } ?? .null))
            return .object(m)
        }
        return .object([
            ("a", .string(mine)),
            ("trace", .string(trace)),
            ("atol", .double(d.tolerance.absolute)),
            ("rtol", .double(d.tolerance.relative)),
            ("equal", .bool(d.isEqual)),
            ("compared", .int(d.compared)),
            ("not_in_a", .int(d.notInA)),
            ("first_difference", d.firstDifference.map { .string($0.name) } ?? .null),
            ("tensors", .array(rows)),
        ])
    }
}
