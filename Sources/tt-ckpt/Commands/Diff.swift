import ArgumentParser
import Foundation
import TTAnalysis
import TTCore
import TTFormat

extension TTCkpt {
    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare two checkpoints field by field and tensor by tensor.",
            discussion: """
                Compares A against the reference B: the config, the vocabulary, the training
                state, then every tensor selected by --role (params, adam or all). For each
                tensor pair it reports a shape, dtype or role mismatch, or a name present in
                only one file; otherwise max |a−b|, the RMS of a−b, the relative change
                ‖a−b‖/‖a‖ (0 when a = b, inf when ‖a‖ = 0 < ‖a−b‖), the number of elements
                outside tolerance, and where the largest difference is (row-major index,
                with the token for rows of tok_emb, lm_head and their Adam moments).
                Tensors are read one pair at a time, so memory stays bounded by the largest
                pair.

                Tolerance is numpy.allclose's rule, in Double: an element passes when
                |a−b| ≤ atol + rtol·|b|; infinities must match exactly and NaN never passes.
                The default atol = rtol = 0 means numerically equal (+0 equals −0).
                NaN/Inf positions are left out of max |a−b|, RMS and the norms. As with
                numpy's equal_nan=False, a tensor holding a NaN differs even from itself.

                Equal means: every config and vocabulary field identical; training state
                identical (step, tokens seen, seed, batch size, every optimizer setting, data
                size/tokens/SHA-256, data cursor, generator state, session starts), and the
                loss history the same length with every value within tolerance; and every
                selected tensor present in both files with the same role, dtype and shape,
                all elements within tolerance. The format version, tool version, data file
                name and blob storage (compression, filter) are shown as notes only.

                Text output lists the differing fields and the --top N tensors by relative
                change. --json prints one document (keys: a, b, atol, rtol, role, equal,
                fields, notes, summary, tensors); numbers that are NaN or infinite (e.g. an
                infinite relative change) print as null.

                Against a trace (`tt-ckpt trace`, spec/TRACE.md), A may also be a \
                safetensors file without roles: tensors are matched by name, listed in the \
                order of the traced step (forward, backward, update) so the first wrong \
                stage comes first, dimensions of size 1 are ignored, and the usual \
                backprop mistakes are named (a constant factor such as the summed loss, a \
                transpose, the series' GELU′). Default tolerance there: atol 1e-7, rtol 1e-5.

                Exit status (as cmp and h5diff): 0 equal within tolerance, 1 different,
                2 trouble: a missing, unreadable or corrupt file (including a tensor whose
                blob fails its CRC), or a bad option value.

                Example (output abridged; init.ttc has zero LayerNorm β, hence inf):
                  $ tt-ckpt diff init.ttc model.ttc --role params --top 2
                  fields that differ (5):
                    training.step                A 0  B 1000
                    training.loss_history.count  A 0  B 1000
                  tensors: 13 compared, 0 equal, 13 different, 0 mismatched, ...
                  top 2 of 13 changed tensors by relative change ‖a−b‖/‖a‖:
                  name              status     rel change  max |a−b|  at           ...
                  layers.0.ln.beta  different         inf     0.3336  [9]          ...
                  lm_head           different      2.4989     0.4687  [3, 15] "I"  ...
                  result: different
                  $ echo $?
                  1
                  $ tt-ckpt diff a.ttc b.ttc --atol 1e-6 --rtol 1e-5 --json | jq .equal
                """
        )

        @Argument(help: "Checkpoint A (the baseline of the relative change).")
        var a: String

        @Argument(help: "Checkpoint B (the reference of the tolerance rule).")
        var b: String

        @Option(name: .customLong("atol"), parsing: .unconditional, help: "Absolute tolerance (≥ 0; default 0, against a trace 1e-7).")
        var atolOption: Double?

        @Option(name: .customLong("rtol"), parsing: .unconditional, help: "Relative tolerance (≥ 0), times |b| (default 0, against a trace 1e-5).")
        var rtolOption: Double?

        private var atol: Double { atolOption ?? 0 }
        private var rtol: Double { rtolOption ?? 0 }

        // A String, so a bad value gets the one-line error below.
        @Option(help: ArgumentHelp("Tensors to compare: params, adam or all.", valueName: "params|adam|all"))
        var role: String = RoleFilter.all.rawValue

        private var roleFilter: RoleFilter { RoleFilter(rawValue: role) ?? .all }

        @Option(parsing: .unconditional, help: "How many tensors to list by relative change (≥ 1).")
        var top: Int = 10

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func validate() throws {
            guard atol.isFinite, atol >= 0 else { throw AnalysisIO.fail("--atol", "must be a finite number ≥ 0, got \(atol)") }
            guard rtol.isFinite, rtol >= 0 else { throw AnalysisIO.fail("--rtol", "must be a finite number ≥ 0, got \(rtol)") }
            guard RoleFilter(rawValue: role) != nil else {
                throw AnalysisIO.fail("--role", "must be params, adam or all, got \(TerminalText.quoted(role))")
            }
            guard top >= 1 else { throw AnalysisIO.fail("--top", "must be at least 1, got \(top)") }
        }

        func run() throws {
            // Against a trace (spec/TRACE.md): names matched whatever the roles, the step's order, hints.
            if let equal = try TraceDiffCommand.runIfTrace(a: a, b: b, atol: atolOption, rtol: rtolOption, json: json) {
                if !equal { throw ExitCode(1) }
                return
            }
            let readerA = try AnalysisIO.open(a)
            let readerB = try AnalysisIO.open(b)
            let diff: CheckpointDiff
            do {
                diff = try CheckpointDiff.compare(readerA, readerB, tolerance: Tolerance(absolute: atol, relative: rtol), roles: roleFilter)
            } catch {
                // A blob that fails its checks: the files cannot be compared.
                let path = (error as? FormatError)?.path ?? "\(a) vs \(b)"
                throw AnalysisIO.fail(error, path: path)
            }
            if json {
                AnalysisIO.printJSON(DiffDocument.json(diff, a: a, b: b))
            } else {
                print(DiffText.report(diff, a: a, b: b, top: top).joined(separator: "\n"))
            }
            if !diff.isEqual { throw ExitCode(1) }
        }
    }
}

/// The `diff --json` document.
enum DiffDocument {
    static func json(_ d: CheckpointDiff, a: String, b: String) -> JSONValue {
        func field(_ f: FieldDifference) -> JSONValue {
            var m: [(String, JSONValue)] = [("field", .string(f.field)), ("a", f.a), ("b", f.b)]
            if let detail = f.detail { m.append(("detail", .string(detail))) }
            return .object(m)
        }
        var tensors: [JSONValue] = []
        for t in d.tensors {
            var m: [(String, JSONValue)] = [
                ("name", .string(t.name)),
                ("role", .string(t.role.label)),
                ("status", .string(t.status.rawValue)),
                ("shape_a", t.entryA.map { .array($0.shape.map { .int($0) }) } ?? .null),
                ("shape_b", t.entryB.map { .array($0.shape.map { .int($0) }) } ?? .null),
            ]
            if let ea = t.entryA, let eb = t.entryB, ea.role != eb.role || ea.dtype != eb.dtype {
                m.append(("role_a", .string(ea.role.label)))
                m.append(("role_b", .string(eb.role.label)))
                m.append(("dtype_a", .string(ea.dtype.label)))
                m.append(("dtype_b", .string(eb.dtype.label)))
            }
            if let c = t.comparison {
                m += [
                    ("element_count", .int(c.count)),
                    ("outside_tolerance", .int(c.outsideTolerance)),
                    ("bit_differences", .int(c.bitDifferences)),
                    ("non_finite", .int(c.nonFiniteCount)),
                    ("max_abs_diff", .double(c.maxAbsDifference)),
                    ("max_abs_diff_index", t.maxDifferencePosition.map { .array($0.map { .int($0) }) } ?? .null),
                    ("max_abs_diff_label", t.maxDifferenceLabel.map { .string($0) } ?? .null),
                    ("first_outside_index", t.firstOutsidePosition.map { .array($0.map { .int($0) }) } ?? .null),
                    ("rms_diff", .double(c.rmsDifference)),
                    ("relative_l2", .double(c.relativeChange)),
                    ("diff_l2", .double(c.differenceNorm)),
                    ("a_l2", .double(c.referenceNorm)),
                ]
            }
            tensors.append(.object(m))
        }
        let s = DiffSummary(d)
        return .object([
            ("a", .string(a)),
            ("b", .string(b)),
            ("atol", .double(d.tolerance.absolute)),
            ("rtol", .double(d.tolerance.relative)),
            ("role", .string(d.roles.rawValue)),
            ("equal", .bool(d.isEqual)),
            ("fields", .array(d.fields.map(field))),
            ("notes", .array(d.notes.map(field))),
            ("summary", .object([
                ("tensors", .int(d.tensors.count)),
                ("compared", .int(s.compared)),
                ("equal", .int(s.equal)),
                ("different", .int(s.different)),
                ("mismatched", .int(s.mismatched)),
                ("only_in_a", .int(s.onlyInA)),
                ("only_in_b", .int(s.onlyInB)),
            ])),
            ("tensors", .array(tensors)),
        ])
    }
}

struct DiffSummary {
    var compared = 0, equal = 0, different = 0, mismatched = 0, onlyInA = 0, onlyInB = 0
    init(_ d: CheckpointDiff) {
        for t in d.tensors {
            switch t.status {
            case .equal: compared += 1; equal += 1
            case .different: compared += 1; different += 1
            case .roleMismatch, .dtypeMismatch, .shapeMismatch: mismatched += 1
            case .onlyInA: onlyInA += 1
            case .onlyInB: onlyInB += 1
            }
        }
    }
}

/// The text report of `diff`.
enum DiffText {
    static func report(_ d: CheckpointDiff, a: String, b: String, top: Int) -> [String] {
        var lines: [String] = []
        lines.append("A  \(TerminalText.escaped(a))")
        lines.append("B  \(TerminalText.escaped(b))")
        lines.append("tolerance |a−b| ≤ \(d.tolerance.absolute) + \(d.tolerance.relative)·|b|, tensors: \(d.roles.rawValue)")
        lines.append("")
        if d.fields.isEmpty {
            lines.append("fields: all equal")
        } else {
            lines.append("fields that differ (\(d.fields.count)):")
            lines += fieldRows(d.fields)
        }
        if !d.notes.isEmpty {
            lines.append("notes (not counted as differences):")
            lines += fieldRows(d.notes)
        }
        lines.append("")
        let s = DiffSummary(d)
        lines.append("tensors: \(s.compared) compared, \(s.equal) equal, \(s.different) different, \(s.mismatched) mismatched, \(s.onlyInA) only in A, \(s.onlyInB) only in B")
        for t in d.tensors {
            let name = TerminalText.escaped(t.name)
            switch t.status {
            case .onlyInA: lines.append("  only in A: \(name)")
            case .onlyInB: lines.append("  only in B: \(name)")
            case .shapeMismatch:
                lines.append("  shape mismatch: \(name) \(DisplayText.shape(t.entryA!.shape)) vs \(DisplayText.shape(t.entryB!.shape))")
            case .dtypeMismatch:
                lines.append("  dtype mismatch: \(name) \(t.entryA!.dtype.label) vs \(t.entryB!.dtype.label)")
            case .roleMismatch:
                lines.append("  role mismatch: \(name) \(t.entryA!.role.label) vs \(t.entryB!.role.label)")
            case .equal, .different: break
            }
        }
        // Top N by relative change among the tensors whose values differ at all.
        let changed = d.tensors.enumerated().filter { _, t in
            guard let c = t.comparison else { return false }
            return c.differenceNorm > 0 || c.outsideTolerance > 0 || c.bitDifferences > 0
        }
        let ranked = changed.sorted { x, y in
            let rx = x.element.comparison!.relativeChange, ry = y.element.comparison!.relativeChange
            return rx != ry ? rx > ry : x.offset < y.offset
        }.prefix(top).map(\.element)
        if !ranked.isEmpty {
            lines.append("")
            lines.append("top \(ranked.count) of \(changed.count) changed tensors by relative change ‖a−b‖/‖a‖:")
            var rows: [[String]] = [["name", "status", "rel change", "max |a−b|", "at", "rms diff", "outside tol", "non-finite"]]
            for t in ranked {
                let c = t.comparison!
                var at = "-"
                if let position = t.maxDifferencePosition {
                    at = DisplayText.index(position)
                    if let label = t.maxDifferenceLabel { at += " " + TerminalText.quoted(label) }
                } else if let position = t.firstOutsidePosition {
                    at = DisplayText.index(position) + " (non-finite)"
                }
                rows.append([TerminalText.escaped(t.name), t.status.rawValue, DisplayText.general(c.relativeChange),
                             DisplayText.general(c.maxAbsDifference), at, DisplayText.general(c.rmsDifference),
                             "\(c.outsideTolerance)/\(c.count)", "\(c.nonFiniteCount)"])
            }
            lines += DisplayText.table(rows, rightAligned: [false, false, true, true, false, true, true, true])
        }
        lines.append("")
        lines.append("result: " + (d.isEqual ? Colour.paint("equal within tolerance", .green)
                                            : Colour.paint("different", .red)))
        return lines
    }

    /// One line per field: the name aligned, then `A <value>  B <value>` (JSON-formatted,
    /// so strings are quoted and escaped), then any detail.
    static func fieldRows(_ fields: [FieldDifference]) -> [String] {
        var rows: [[String]] = []
        for f in fields {
            var values = "A " + f.a.serialized(pretty: false) + "  B " + f.b.serialized(pretty: false)
            if let detail = f.detail { values += "  (\(detail))" }
            rows.append(["  " + TerminalText.escaped(f.field), values])
        }
        return DisplayText.table(rows, rightAligned: [])
    }
}
