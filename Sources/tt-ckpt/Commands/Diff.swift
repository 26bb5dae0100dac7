import ArgumentParser
import Foundation
import TTAnalysis
import TTCore
import TTFormat
import TTInterop

extension TTCkpt {
    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare two model files (.ttc, safetensors, sharded sets, GGUF) field by field and tensor by tensor.",
            discussion: """
                Compares A against the reference B. Each may be a .ttc checkpoint, a
                safetensors file, a sharded safetensors set (index or directory) or a GGUF
                file, told apart by content. Between two .ttc files: the config, the
                vocabulary, the training state, then every tensor selected by --role
                (params, adam or all; default all). Otherwise the tensors only (foreign files
                have no training state), by default the parameters (--role params; a
                tt-ckpt export with --include-optimizer also has the adam_m./adam_v.
                moments, which --role all compares).

                Names: --map says how tensor names correspond. `none` compares names as they
                are; `hf` reads the foreign side's names as Hugging Face transformers' gpt2
                names (transformer.h.N.attn.c_attn.weight, ...; the Conv1D weights stored
                (in, out) are transposed to the canonical (out, in)); `nanogpt` as nanoGPT's
                (the same names, nn.Linear weights as they are). Without --map the naming of
                each side is detected (a .ttc file uses the canonical names; the layout of
                transformers and nanoGPT files is told by the shape of c_attn.weight) and
                names are mapped when the two sides differ; when a side's layout cannot be
                told, pass --map. A tied LM head (nanoGPT's lm_head.weight) is compared with
                the embedding; attention-mask buffers are listed, not compared.

                For each tensor pair it reports a shape or (between .ttc files) role or dtype
                mismatch, a name present in only one file (listed, not an error), or values
                not compared (a GGUF type whose values are not decoded); otherwise max |a−b|,
                the RMS and mean of |a−b|, the relative change ‖a−b‖/‖a‖ (0 when a = b, inf
                when ‖a‖ = 0 < ‖a−b‖), the cosine similarity, the number of elements outside
                tolerance, and where the largest difference is (row-major index of A's
                shape, with the token for rows of tok_emb, lm_head and their Adam moments).
                Values of different dtypes are compared as numbers (F16 against F32;
                quantized Q8_0/Q4_0 dequantized). Tensors are read a chunk at a time
                (.ttc: a tensor at a time) on all cores (--threads), so memory stays bounded
                by the largest tensor pair; results do not depend on the thread count.

                Tolerance is numpy.allclose's rule, in Double: an element passes when
                |a−b| ≤ atol + rtol·|b|; infinities must match exactly and NaN never passes.
                The default atol = rtol = 0 means numerically equal (+0 equals −0).
                NaN/Inf positions are left out of max |a−b|, RMS and the norms. As with
                numpy's equal_nan=False, a tensor holding a NaN differs even from itself.

                Equal means: (two .ttc files) every config and vocabulary field identical;
                training state identical (step, tokens seen, seed, batch size, every
                optimizer setting, data size/tokens/SHA-256, data cursor, generator state,
                session starts), and the loss history the same length with every value
                within tolerance; and every selected tensor present in both files with the
                same shape (role and dtype too between .ttc files), all elements within
                tolerance. The format version, tool version, data file name and blob storage
                (compression, filter) are shown as notes only.

                Text output lists the differing fields and the --top N tensors by relative
                change. --json prints one document (keys: a, b, format_a, format_b,
                naming_a, naming_b, atol, rtol, role, equal, fields_compared, fields, notes,
                summary, tensors); numbers that are NaN or infinite (e.g. an infinite
                relative change) print as null.

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
                  $ tt-ckpt export model.ttc model.safetensors && tt-ckpt diff model.ttc model.safetensors
                  $ tt-ckpt diff model.ttc hf-dir/ --map hf     # transformers names, Conv1D transposed
                """
        )

        @Argument(help: "Model file A (the baseline of the relative change).")
        var a: String

        @Argument(help: "Model file B (the reference of the tolerance rule).")
        var b: String

        @Option(name: .customLong("atol"), parsing: .unconditional, help: "Absolute tolerance (≥ 0; default 0, against a trace 1e-7).")
        var atolOption: Double?

        @Option(name: .customLong("rtol"), parsing: .unconditional, help: "Relative tolerance (≥ 0), times |b| (default 0, against a trace 1e-5).")
        var rtolOption: Double?

        private var atol: Double { atolOption ?? 0 }
        private var rtol: Double { rtolOption ?? 0 }

        // Strings, so a bad value gets the one-line error below.
        @Option(help: ArgumentHelp("Tensors to compare: params, adam or all (default: all between .ttc files, else params).",
                                   valueName: "params|adam|all"))
        var role: String?

        @Option(help: ArgumentHelp("Tensor names: hf (transformers), nanogpt, or none (as they are); default: detected.",
                                   valueName: "hf|nanogpt|none"))
        var map: String?

        @Option(parsing: .unconditional, help: "How many tensors to list by relative change (≥ 1).")
        var top: Int = 10

        @Option(parsing: .unconditional, help: "Threads (default: all cores).")
        var threads: Int?

        @Flag(help: "Print JSON instead of text.")
        var json = false

        private var naming: DiffNaming {
            switch map {
            case nil: return .auto
            case "none"?: return .none
            case let m?: return GPT2Naming(rawValue: m).map { .convention($0) } ?? .auto
            }
        }

        func validate() throws {
            guard atol.isFinite, atol >= 0 else { throw AnalysisIO.fail("--atol", "must be a finite number ≥ 0, got \(atol)") }
            guard rtol.isFinite, rtol >= 0 else { throw AnalysisIO.fail("--rtol", "must be a finite number ≥ 0, got \(rtol)") }
            if let role, RoleFilter(rawValue: role) == nil {
                throw AnalysisIO.fail("--role", "must be params, adam or all, got \(TerminalText.quoted(role))")
            }
            if let map, map != "none", GPT2Naming(rawValue: map) == nil {
                throw AnalysisIO.fail("--map", "must be hf, nanogpt or none, got \(TerminalText.quoted(map))")
            }
            guard top >= 1 else { throw AnalysisIO.fail("--top", "must be at least 1, got \(top)") }
            if let threads, !(1...256).contains(threads) { throw AnalysisIO.fail("--threads", "must be in 1...256, got \(threads)") }
        }

        func run() throws {
            // Against a trace (spec/TRACE.md): names matched whatever the roles, the step's order, hints.
            if let equal = try TraceDiffCommand.runIfTrace(a: a, b: b, atol: atolOption, rtol: rtolOption, json: json) {
                if !equal { throw ExitCode(1) }
                return
            }
            let fileA = try AnalysisIO.openModel(a)
            let fileB = try AnalysisIO.openModel(b)
            let diff: CheckpointDiff
            do {
                diff = try CheckpointDiff.compare(fileA, fileB, naming: naming, tolerance: Tolerance(absolute: atol, relative: rtol),
                                                  roles: role.flatMap(RoleFilter.init(rawValue:)),
                                                  threads: threads ?? TensorScan.defaultThreads)
            } catch let e as AmbiguousNaming {
                throw AnalysisIO.fail(e.path, "cannot tell whether its gpt2 names are transformers' or nanoGPT's layout (no 2-D c_attn.weight); pass --map hf or --map nanogpt")
            } catch {
                // A tensor that cannot be read: the files cannot be compared.
                let path = (error as? FormatError)?.path ?? (error as? ModelFileError)?.path ?? "\(a) vs \(b)"
                throw AnalysisIO.fail(error, path: path)
            }
            if json {
                AnalysisIO.printJSON(DiffDocument.json(diff, a: a, b: b, formats: (fileA.formatName, fileB.formatName)))
            } else {
                print(DiffText.report(diff, a: a, b: b, formats: (fileA.formatName, fileB.formatName), top: top).joined(separator: "\n"))
            }
            if !diff.isEqual { throw ExitCode(1) }
        }
    }
}

/// "transformers (GPT2LMHeadModel names, Conv1D weights transposed)" and the like.
func namingDescription(_ n: GPT2Naming?) -> String {
    switch n {
    case nil: return "as they are"
    case .hf?: return "mapped from transformers' gpt2 names (Conv1D weights transposed)"
    case .nanoGPT?: return "mapped from nanoGPT's gpt2 names"
    }
}

/// The `diff --json` document.
enum DiffDocument {
    static func json(_ d: CheckpointDiff, a: String, b: String, formats: (String, String)) -> JSONValue {
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
                ("shape_a", t.a.map { .array($0.shape.map { .int($0) }) } ?? .null),
                ("shape_b", t.b.map { .array($0.shape.map { .int($0) }) } ?? .null),
            ]
            if let nameB = t.nameB { m.append(("name_b", .string(nameB))) }
            if t.transposed { m.append(("transposed", .bool(true))) }
            if let note = t.note { m.append(("note", .string(note))) }
            if let ea = t.a, let eb = t.b, ea.role != eb.role || ea.dtype != eb.dtype {
                if let ra = ea.role, let rb = eb.role {
                    m.append(("role_a", .string(ra.label)))
                    m.append(("role_b", .string(rb.label)))
                }
                m.append(("dtype_a", .string(ea.dtype)))
                m.append(("dtype_b", .string(eb.dtype)))
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
                    ("mean_abs_diff", .double(c.meanAbsDifference)),
                    ("rms_diff", .double(c.rmsDifference)),
                    ("relative_l2", .double(c.relativeChange)),
                    ("cosine_similarity", c.cosineSimilarity.map { .double($0) } ?? .null),
                    ("diff_l2", .double(c.differenceNorm)),
                    ("a_l2", .double(c.referenceNorm)),
                ]
            }
            tensors.append(.object(m))
        }
        let s = DiffSummary(d)
        func naming(_ n: GPT2Naming?) -> JSONValue { n.map { .string($0.rawValue) } ?? .string("none") }
        return .object([
            ("a", .string(a)),
            ("b", .string(b)),
            ("format_a", .string(formats.0)),
            ("format_b", .string(formats.1)),
            ("naming_a", naming(d.namingA)),
            ("naming_b", naming(d.namingB)),
            ("atol", .double(d.tolerance.absolute)),
            ("rtol", .double(d.tolerance.relative)),
            ("role", .string(d.roles.rawValue)),
            ("equal", .bool(d.isEqual)),
            ("fields_compared", .bool(d.headersCompared)),
            ("fields", .array(d.fields.map(field))),
            ("notes", .array(d.notes.map(field))),
            ("summary", .object([
                ("tensors", .int(d.tensors.count)),
                ("compared", .int(s.compared)),
                ("equal", .int(s.equal)),
                ("different", .int(s.different)),
                ("mismatched", .int(s.mismatched)),
                ("not_compared", .int(s.notCompared)),
                ("only_in_a", .int(s.onlyInA)),
                ("only_in_b", .int(s.onlyInB)),
            ])),
            ("tensors", .array(tensors)),
        ])
    }
}

struct DiffSummary {
    var compared = 0, equal = 0, different = 0, mismatched = 0, notCompared = 0, onlyInA = 0, onlyInB = 0
    init(_ d: CheckpointDiff) {
        for t in d.tensors {
            switch t.status {
            case .equal: compared += 1; equal += 1
            case .different: compared += 1; different += 1
            case .roleMismatch, .dtypeMismatch, .shapeMismatch: mismatched += 1
            case .notCompared: notCompared += 1
            case .onlyInA: onlyInA += 1
            case .onlyInB: onlyInB += 1
            }
        }
    }
}

/// The text report of `diff`.
enum DiffText {
    /// "a", or "a ↔ b" when B's name differs, with "(transposed)".
    static func pairName(_ t: TensorDifference) -> String {
        var s = TerminalText.escaped(t.name)
        if let nameB = t.nameB { s += " ↔ " + TerminalText.escaped(nameB) }
        if t.transposed { s += " (transposed)" }
        return s
    }

    static func report(_ d: CheckpointDiff, a: String, b: String, formats: (String, String), top: Int) -> [String] {
        var lines: [String] = []
        lines.append("A  \(TerminalText.escaped(a))  (\(formats.0); names \(namingDescription(d.namingA)))")
        lines.append("B  \(TerminalText.escaped(b))  (\(formats.1); names \(namingDescription(d.namingB)))")
        lines.append("tolerance |a−b| ≤ \(d.tolerance.absolute) + \(d.tolerance.relative)·|b|, tensors: \(d.roles.rawValue)")
        lines.append("")
        if !d.headersCompared {
            lines.append("fields: not compared (only .ttc files hold a config and training state)")
        } else if d.fields.isEmpty {
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
        var summary = "tensors: \(s.compared) compared, \(s.equal) equal, \(s.different) different, \(s.mismatched) mismatched, \(s.onlyInA) only in A, \(s.onlyInB) only in B"
        if s.notCompared > 0 { summary += ", \(s.notCompared) not compared" }
        lines.append(summary)
        for t in d.tensors {
            let name = pairName(t)
            switch t.status {
            case .onlyInA: lines.append("  only in A: \(name)")
            case .onlyInB: lines.append("  only in B: \(name)")
            case .shapeMismatch:
                lines.append("  shape mismatch: \(name) \(DisplayText.shape(t.a!.shape)) vs \(DisplayText.shape(t.b!.shape))")
            case .dtypeMismatch:
                lines.append("  dtype mismatch: \(name) \(t.a!.dtype) vs \(t.b!.dtype)")
            case .roleMismatch:
                lines.append("  role mismatch: \(name) \(t.a!.role?.label ?? "-") vs \(t.b!.role?.label ?? "-")")
            case .notCompared:
                lines.append("  not compared: \(name)" + (t.note.map { " (\($0))" } ?? ""))
            case .equal, .different:
                if let note = t.note { lines.append("  \(t.status.rawValue): \(name) (\(note))") }
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
            var rows: [[String]] = [["name", "status", "rel change", "max |a−b|", "at", "rms diff", "cosine", "outside tol", "non-finite"]]
            for t in ranked {
                let c = t.comparison!
                var at = "-"
                if let position = t.maxDifferencePosition {
                    at = DisplayText.index(position)
                    if let label = t.maxDifferenceLabel { at += " " + TerminalText.quoted(label) }
                } else if let position = t.firstOutsidePosition {
                    at = DisplayText.index(position) + " (non-finite)"
                }
                rows.append([pairName(t), t.status.rawValue, DisplayText.general(c.relativeChange),
                             DisplayText.general(c.maxAbsDifference), at, DisplayText.general(c.rmsDifference),
                             c.cosineSimilarity.map { DisplayText.general($0, digits: 7) } ?? "-",
                             "\(c.outsideTolerance)/\(c.count)", "\(c.nonFiniteCount)"])
            }
            lines += DisplayText.table(rows, rightAligned: [false, false, true, true, false, true, true, true, true])
        }
        lines.append("")
        var result = d.isEqual ? Colour.paint("equal within tolerance", .green) : Colour.paint("different", .red)
        if d.isEqual && s.notCompared > 0 { result += " (\(s.notCompared) tensors not compared)" }
        lines.append("result: " + result)
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
