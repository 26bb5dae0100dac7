import ArgumentParser
import Foundation
import TTAnalysis
import TTCore
import TTFormat

extension TTCkpt {
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what a checkpoint holds: config, vocabulary, training state and tensors.",
            discussion: """
                The default view prints the format version, the model config and parameter
                count, the vocabulary (control characters escaped, first 64 tokens), the
                training state (step, tokens seen, every optimizer setting, data identity,
                data cursor, generator state), the loss history (first, last, min and a
                sparkline) and the tensor table (name, role, dtype, shape, stored and raw
                bytes, stored/raw ratio, filter). It reads only the file's header and tensor
                directory; no tensor is inflated unless --stats, --verify or --tensor asks.

                --stats     min, max, mean, std (population), RMS, L2 norm, fraction zero and
                            NaN/Inf counts per tensor; moments are over finite values only.
                --verify    inflates every blob and checks its CRCs and length; prints ok or
                            the problem per tensor. Exit status 2 if any tensor fails, with
                            one line on stderr.
                --tensor    prints one tensor's values (shortest decimals that read back as
                            the exact Float32), with token labels on the rows of tok_emb,
                            lm_head and their adam_m./adam_v. moments.
                --tensors   prints only the tensor table.
                --json      one JSON document for scripts: format_version, tool_version,
                            config, parameter_count, vocab, training, tensors (with `stats`
                            under --stats and `verify` under --verify); with --tensor:
                            {name, role, dtype, shape, values, row_labels}. Every Float prints
                            with enough digits to round-trip exactly. JSON has no NaN or
                            Infinity: such values print as null (the stats' nan_count and
                            inf_count say how many there are).

                Exit status: 0 on success; 2 for a missing, unreadable or corrupt file, an
                unknown --tensor name, or a failed --verify.

                Example (output abridged):
                  $ tt-ckpt init model.ttc && tt-ckpt train model.ttc --steps 1000 --quiet
                  $ tt-ckpt inspect model.ttc
                  model        tutorial: vocab_size 6, d_model 16, n_heads 2, d_ff 64, ...
                  parameters   3456
                  vocabulary   word, 6 tokens: 0:"<PAD>" 1:"<BOS>" 2:"<EOS>" 3:"I" ...
                  step         1000
                  loss         1000 steps: first 1.8298678, last 0.0027725059, ...
                               █▇▆▄▃▂▂▂▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁
                  name              role       dtype  shape   stored   raw  ...
                  tok_emb           parameter  f32    6×16       395   384  ...
                  $ tt-ckpt inspect model.ttc --stats --verify   # stats, every CRC
                  $ tt-ckpt inspect model.ttc --tensor lm_head   # rows "<PAD>", ...
                  $ tt-ckpt inspect model.ttc --json | jq '.training.loss_history[-1]'
                """
        )

        @Argument(help: "The .ttc checkpoint to inspect.")
        var checkpoint: String

        @Flag(help: "Print only the tensor table.")
        var tensors = false

        @Flag(help: "Add per-tensor statistics (inflates every tensor).")
        var stats = false

        @Flag(help: "Inflate and CRC-check every tensor; exit 2 if any fails.")
        var verify = false

        @Option(name: .customLong("tensor"), help: ArgumentHelp("Print the values of this tensor.", valueName: "name"))
        var tensorName: String?

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func run() throws {
            let reader = try AnalysisIO.open(checkpoint)
            if let name = tensorName {
                guard let entry = reader.entry(named: name) else {
                    throw AnalysisIO.fail(checkpoint, "no tensor named \(TerminalText.quoted(name)) (tensors: see inspect --tensors)")
                }
                try runTensor(reader, entry)
                return
            }

            // Inflate tensors only when asked; one at a time.
            var statistics: [String: TensorStats] = [:]
            var problems: [String: String] = [:]
            if stats || verify {
                for entry in reader.entries {
                    do {
                        let values = try reader.loadTensor(entry)
                        if stats { statistics[entry.name] = TensorStats(values) }
                    } catch {
                        guard verify else { throw AnalysisIO.fail(error, path: checkpoint) }
                        problems[entry.name] = AnalysisIO.problem(error, path: checkpoint)
                    }
                }
            }

            if json {
                AnalysisIO.printJSON(InspectDocument.json(reader, stats: stats ? statistics : nil,
                                                          verify: verify ? problems : nil))
            } else {
                var lines: [String] = []
                if !tensors { lines += InspectText.header(reader) }
                lines += InspectText.tensorTable(reader, verify: verify ? problems : nil)
                if stats { lines += [""] + InspectText.statsTable(reader, statistics) }
                if verify {
                    let failed = reader.entries.filter { problems[$0.name] != nil }
                    lines.append("")
                    if failed.isEmpty {
                        lines.append("verify: all \(reader.entries.count) tensors " + Colour.paint("ok", .green)
                                     + " (CRCs and lengths checked)")
                    } else {
                        lines.append("verify: \(failed.count) of \(reader.entries.count) tensors " + Colour.paint("FAILED", .red))
                        for e in failed { lines.append(TerminalText.escaped("  \(e.name): \(problems[e.name]!)")) }
                    }
                }
                print(lines.joined(separator: "\n"))
            }
            if verify, let bad = reader.entries.first(where: { problems[$0.name] != nil }) {
                let count = reader.entries.filter { problems[$0.name] != nil }.count
                throw AnalysisIO.fail(checkpoint, "verify failed for \(count) of \(reader.entries.count) tensors (first: \(bad.name): \(problems[bad.name]!))")
            }
        }

        private func runTensor(_ reader: CheckpointReader, _ entry: TensorEntry) throws {
            if verify {
                for e in reader.entries where e.name != entry.name {
                    do { _ = try reader.loadTensor(e) } catch { throw AnalysisIO.fail(error, path: checkpoint) }
                }
            }
            let values: [Float]
            do { values = try reader.loadTensor(entry) } catch { throw AnalysisIO.fail(error, path: checkpoint) }
            let labels = CheckpointJSON.rowLabels(entry.name, shape: entry.shape, vocabulary: reader.vocabulary)
            if json {
                var members: [(String, JSONValue)] = [
                    ("name", .string(entry.name)),
                    ("role", .string(entry.role.label)),
                    ("dtype", .string(entry.dtype.label)),
                    ("shape", .array(entry.shape.map { .int($0) })),
                    ("values", values.withUnsafeBufferPointer { JSONValue.nestedArray($0, shape: entry.shape) }),
                ]
                if let labels { members.append(("row_labels", .array(labels.map { .string($0) }))) }
                if stats { members.append(("stats", TensorStats(values).json)) }
                AnalysisIO.printJSON(.object(members))
            } else {
                var lines = ["\(TerminalText.escaped(entry.name))  \(entry.role.label) \(entry.dtype.label) \(DisplayText.shape(entry.shape))"]
                if stats { lines.append(InspectText.statsLine(TensorStats(values))) }
                lines += InspectText.values(values, shape: entry.shape, labels: labels)
                print(lines.joined(separator: "\n"))
            }
        }
    }
}

/// Opening files, printing, and the one-line error convention for inspect and diff.
enum AnalysisIO {
    /// Writes `tt-ckpt: <subject>: <problem>` to stderr (escaped there); returns exit
    /// status 2 to throw.
    static func fail(_ subject: String, _ problem: String) -> ExitCode {
        CommandLineErrors.writeError("\(subject): \(problem)")
        return ExitCode(2)
    }

    /// The problem part of an error's message (a `FormatError` already names its file).
    static func problem(_ error: Error, path: String) -> String {
        if let e = error as? FormatError { return e.path == path ? e.message : e.description }
        return String(describing: error)
    }

    /// `fail` for an error thrown while reading `path`.
    static func fail(_ error: Error, path: String) -> ExitCode {
        if let e = error as? FormatError, e.path != path { return fail(e.path, e.message) }
        return fail(path, problem(error, path: path))
    }

    /// Opens a checkpoint; any problem becomes the one-line error and exit status 2.
    static func open(_ path: String) throws -> CheckpointReader {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw fail(path, "no such file")
        }
        if isDirectory.boolValue { throw fail(path, "is a directory, not a .ttc file") }
        do {
            return try CheckpointReader(path: path)
        } catch {
            throw fail(error, path: path)
        }
    }

    static func printJSON(_ value: JSONValue) {
        print(value.serialized(pretty: true))
    }
}

/// The `inspect --json` document.
enum InspectDocument {
    static func json(_ reader: CheckpointReader, stats: [String: TensorStats]?, verify: [String: String]?) -> JSONValue {
        var tensors: [JSONValue] = []
        for e in reader.entries {
            var members = CheckpointJSON.entry(e)
            if let stats { members.append(("stats", stats[e.name].map { $0.json } ?? .null)) }
            if let verify { members.append(("verify", .string(verify[e.name] ?? "ok"))) }
            tensors.append(.object(members))
        }
        var document: [(String, JSONValue)] = [
            ("file", .string(reader.path)),
            ("file_size", .uint(reader.fileSize)),
            ("format_version", .string(CheckpointJSON.formatVersion(reader))),
            ("tool_version", .string(reader.toolVersion)),
            ("config", CheckpointJSON.config(reader.config)),
            ("parameter_count", .int(ParameterLayout.parameterCount(reader.config))),
            ("vocab", CheckpointJSON.vocabulary(reader.vocabulary)),
            ("training", CheckpointJSON.training(reader.training)),
            ("tensors", .array(tensors)),
        ]
        if let verify { document.append(("verified", .bool(verify.isEmpty))) }
        return .object(document)
    }
}

/// The text views of `inspect`.
enum InspectText {
    static let vocabularyShown = 64
    static let sparklineWidth = 60

    static func header(_ r: CheckpointReader) -> [String] {
        let c = r.config, t = r.training, o = t.optimizer
        var rows: [(String, String)] = []
        rows.append(("file", "\(TerminalText.escaped(r.path)) (\(r.fileSize) bytes)"))
        rows.append(("format", ".ttc \(CheckpointJSON.formatVersion(r)), written by tt-ckpt \(TerminalText.escaped(r.toolVersion))"))
        rows.append(("model", "\(c.arch.rawValue): vocab_size \(c.vocabSize), d_model \(c.dModel), n_heads \(c.nHeads), d_ff \(c.dFF), n_layers \(c.nLayers), context \(c.context)"))
        rows.append(("parameters", "\(ParameterLayout.parameterCount(c))"))
        let v = r.vocabulary
        var vocab = "\(v.kind.rawValue), \(v.tokens.count) tokens:"
        for (i, token) in v.tokens.prefix(vocabularyShown).enumerated() { vocab += " \(i):\(TerminalText.quoted(token))" }
        if v.tokens.count > vocabularyShown { vocab += " … (\(v.tokens.count - vocabularyShown) more; --json lists all)" }
        rows.append(("vocabulary", vocab))
        rows += bpeRows(v)
        rows.append(("step", "\(t.step)"))
        rows.append(("tokens seen", "\(t.tokensSeen)"))
        rows.append(("batch size", "\(t.batchSize)"))
        rows.append(("seed", "\(t.seed)"))
        var schedule = o.schedule.rawValue
        if o.warmupSteps > 0 { schedule += ", warmup \(o.warmupSteps) steps" }
        if o.schedule == .cosine { schedule += ", decay to \(o.minLRRatio)×lr by step \(o.decaySteps)" }
        rows.append(("optimizer", "AdamW lr \(o.learningRate), beta1 \(o.beta1), beta2 \(o.beta2), eps \(o.epsilon)"))
        rows.append(("", "weight decay \(o.weightDecay) (\(o.exemptNormAndBias ? "biases and LayerNorm exempt" : "on every tensor")), grad clip \(o.gradClip == 0 ? "off" : "\(o.gradClip)")"))
        rows.append(("schedule", schedule))
        if let d = t.data {
            rows.append(("data", "\(TerminalText.quoted(d.name)): \(d.byteCount) bytes, \(d.tokenCount) tokens, sha256 \(TerminalText.escaped(d.sha256))"))
        } else {
            rows.append(("data", "none (not trained yet)"))
        }
        rows.append(("data cursor", "\(t.windowsDrawn) batch windows drawn"))
        rows.append(("rng", "MT19937 at \(t.rng.index)/624, words crc32 \(hex(CheckpointJSON.rngFingerprint(t.rng))), cached gauss \(t.rng.gaussNext.map { "\($0)" } ?? "none")"))
        if !t.sessionStarts.isEmpty {
            rows.append(("sessions", "started at step " + t.sessionStarts.map(String.init).joined(separator: ", ")))
        }
        rows += lossRows(t.lossHistory)
        let width = rows.map(\.0.count).max() ?? 0
        var lines = rows.map { DisplayText.padRight($0.0, width) + "  " + $0.1 }
        lines.append("")
        return lines
    }

    static func lossRows(_ history: [Float]) -> [(String, String)] {
        guard !history.isEmpty else { return [("loss", "no steps recorded")] }
        var text = "\(history.count) steps: first \(history.first!), last \(history.last!)"
        if let (i, m) = history.enumerated().filter({ $0.element.isFinite }).min(by: { $0.element < $1.element }) {
            text += ", min \(m) at step \(i + 1)"
        }
        let nonFinite = history.filter { !$0.isFinite }.count
        if nonFinite > 0 { text += ", \(nonFinite) non-finite" }
        var rows = [("loss", text)]
        if history.count > 1 { rows.append(("", Sparkline.render(history, width: sparklineWidth))) }
        return rows
    }

    static func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - s.count) + s
    }

    static func tensorTable(_ r: CheckpointReader, verify: [String: String]?) -> [String] {
        var rows: [[String]] = [["name", "role", "dtype", "shape", "stored", "raw", "stored/raw", "filter"]]
        if verify != nil { rows[0].append("verify") }
        var stored: UInt64 = 0, raw: UInt64 = 0
        for e in r.entries {
            stored &+= e.storedLength
            raw &+= e.rawLength
            var row = [TerminalText.escaped(e.name), e.role.label, e.dtype.label, DisplayText.shape(e.shape),
                       "\(e.storedLength)", "\(e.rawLength)", ratio(e.storedLength, e.rawLength), e.filter.label]
            if let verify { row.append(verify[e.name] == nil ? "ok" : "FAILED") }
            rows.append(row)
        }
        rows.append(["total (\(r.entries.count) tensors)", "", "", "", "\(stored)", "\(raw)", ratio(stored, raw), ""])
        return DisplayText.table(rows, rightAligned: [false, false, false, false, true, true, true, false, false])
    }

    static func ratio(_ stored: UInt64, _ raw: UInt64) -> String {
        raw == 0 ? "-" : String(format: "%.3f", Double(stored) / Double(raw))
    }

    static func statsTable(_ r: CheckpointReader, _ stats: [String: TensorStats]) -> [String] {
        var rows: [[String]] = [["name", "min", "max", "mean", "std", "rms", "l2 norm", "zero", "nan", "inf"]]
        for e in r.entries {
            guard let s = stats[e.name] else {
                rows.append([TerminalText.escaped(e.name), "(unreadable)"])
                continue
            }
            rows.append([TerminalText.escaped(e.name)] + statsCells(s))
        }
        return DisplayText.table(rows, rightAligned: [false] + [Bool](repeating: true, count: 9))
    }

    static func statsCells(_ s: TensorStats) -> [String] {
        func g(_ v: Double?) -> String { v.map { DisplayText.general($0) } ?? "-" }
        return [g(s.min.map(Double.init)), g(s.max.map(Double.init)), g(s.mean), g(s.std), g(s.rms), g(s.l2Norm),
                String(format: "%.2f%%", 100 * s.fractionZero), "\(s.nanCount)", "\(s.infCount)"]
    }

    static func statsLine(_ s: TensorStats) -> String {
        let c = statsCells(s)
        return "min \(c[0])  max \(c[1])  mean \(c[2])  std \(c[3])  rms \(c[4])  l2 \(c[5])  zero \(c[6])  nan \(c[7])  inf \(c[8])"
    }

    static let valuesPerLine = 8

    /// Values in row-major order: one block per leading index for 3+ dimensions, one row
    /// (wrapped every 8 values) per index of the second-to-last dimension, with the
    /// token label on rows of vocabulary tensors. Each value is Float's shortest exact
    /// decimal.
    static func values(_ values: [Float], shape: [Int], labels: [String]?) -> [String] {
        let text = values.map { $0.description }
        let width = text.map(\.count).max() ?? 1
        guard shape.count >= 2 else { return wrap(text, width: width, prefix: "") }
        let columns = shape[shape.count - 1], rowsPerBlock = shape[shape.count - 2]
        let blocks = shape.dropLast(2).reduce(1, *)
        var lines: [String] = []
        for block in 0..<blocks {
            if shape.count > 2 {
                let lead = multiIndex(block, shape: Array(shape.dropLast(2)))
                lines.append("[" + lead.map(String.init).joined(separator: ", ") + ", :, :]")
            }
            let rowLabels = (0..<rowsPerBlock).map { row -> String in
                var s = "[\(row)]"
                if let labels, shape.count == 2, row < labels.count { s += " " + TerminalText.quoted(labels[row]) }
                return s
            }
            let labelWidth = rowLabels.map(\.count).max() ?? 0
            for row in 0..<rowsPerBlock {
                let start = (block * rowsPerBlock + row) * columns
                let prefix = DisplayText.padRight(rowLabels[row], labelWidth) + "  "
                lines += wrap(Array(text[start..<(start + columns)]), width: width, prefix: prefix)
            }
        }
        return lines
    }

    static func wrap(_ cells: [String], width: Int, prefix: String) -> [String] {
        var lines: [String] = []
        var i = 0
        let indent = String(repeating: " ", count: prefix.count)
        repeat {
            let chunk = cells[i..<min(i + valuesPerLine, cells.count)]
            lines.append((i == 0 ? prefix : indent) + chunk.map { DisplayText.padLeft($0, width) }.joined(separator: " "))
            i += valuesPerLine
        } while i < cells.count
        return lines
    }
}
