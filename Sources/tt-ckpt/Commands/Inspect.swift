import ArgumentParser
import Foundation
import TTAnalysis
import TTCore
import TTFormat
import TTInterop

extension TTCkpt {
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what a model file holds: a .ttc checkpoint, safetensors (one file or a sharded set) or GGUF.",
            discussion: """
                The file's format is told by its content, not its name: a .ttc checkpoint, a
                safetensors file, a sharded safetensors set (its *.safetensors.index.json or
                the directory holding it), or GGUF (versions 2 and 3).

                The default view reads only headers (a multi-GB file in milliseconds). For a
                .ttc: the format version, the model digest (SHA-256 over the weights' canonical
                content, stored by format 1.1: equal for the same weights whatever the
                compression, and equal to the digest --verify computes for a safetensors
                export of them), model config and parameter count, the vocabulary
                (control characters escaped, first 64 tokens), the training state (step,
                tokens seen, every optimizer setting, data identity, data cursor, generator
                state), the loss history (first, last, min and a sparkline) and the tensor
                table (name, role, dtype, shape, stored and raw bytes, stored/raw ratio,
                filter). For safetensors and GGUF: the format, the metadata (GGUF key/values
                with their types; safetensors __metadata__; a sharded set's index and shards),
                the parameter count by dtype, and the tensor table (name, dtype, shape, bytes,
                offset; shard). Every safetensors dtype is listed; values of the floating
                point and integer types are decoded; F4, F6 and C64 are listed only. GGUF
                values of F32, F16, BF16, F64, the integer types, Q8_0 and Q4_0 are decoded
                (dequantized); other types (K-quants, IQ types, ...) are listed with a note
                that their values are not compared.

                --stats     min, max, mean, std (population), RMS, L2 norm, fraction zero and
                            NaN/Inf counts per tensor; moments are over finite values only.
                            Streams tensor by tensor on all cores (--threads); the numbers do
                            not depend on the thread count.
                --verify    .ttc: inflates every blob and checks its CRCs, length and
                            (format 1.1) SHA-256; safetensors and GGUF: the full structural
                            validation of the format's reference reader (done on every open)
                            and, for a sharded set, the index against every shard. Then a
                            scan of every decoded value for NaN and Inf. Prints ok or the
                            problem per tensor, and the model digest (computed for a 1.0
                            .ttc, and for safetensors whose weights are all F32).
                --tensor    prints one tensor's values (shortest decimals that read back as
                            the exact Float32, or Float64 for F64 and 32/64-bit integers;
                            integers exactly), with token labels on the rows of tok_emb,
                            lm_head and their adam_m./adam_v. moments in a .ttc.
                --tensors   prints only the tensor table.
                --tree      groups tensor names by their dotted prefixes, with the number of
                            tensors, parameters and bytes of every subtree (--depth N: only
                            N levels).
                --json      one JSON document for scripts. .ttc: format_version,
                            tool_version, config, parameter_count, vocab, training, tensors
                            (with `stats` under --stats and `verify` under --verify).
                            Foreign files: file, format, metadata, parameter_count, tensors.
                            With --tensor: {name, dtype, shape, values, ...}; with --tree:
                            the tree. Every Float prints with enough digits to round-trip
                            exactly. JSON has no NaN or Infinity: such values print as null
                            (the stats' nan_count and inf_count say how many there are;
                            --tensor lists them under non_finite).

                Exit status: 0 on success; 1 when --verify finds NaN or Inf; 2 for a
                missing, unreadable or corrupt file (including a .ttc blob that fails its
                checks under --verify), an unknown --tensor name or one whose values are not
                decoded.

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
                  $ tt-ckpt inspect gpt2/ --tree --depth 3       # a sharded set
                  $ tt-ckpt inspect model.gguf --verify          # NaN/Inf scan
                """
        )

        @Argument(help: "The model file: .ttc, safetensors, a sharded set (index file or directory) or GGUF.")
        var checkpoint: String

        @Flag(help: "Print only the tensor table.")
        var tensors = false

        @Flag(help: "Add per-tensor statistics (reads every tensor).")
        var stats = false

        @Flag(help: "Validate everything and scan for NaN/Inf; exit 1 if found, 2 if a tensor is unreadable.")
        var verify = false

        @Option(name: .customLong("tensor"), help: ArgumentHelp("Print the values of this tensor.", valueName: "name"))
        var tensorName: String?

        @Flag(help: "Group tensors by dotted name prefix, with parameter counts per subtree.")
        var tree = false

        @Option(parsing: .unconditional, help: "With --tree: levels to show (≥ 1).")
        var depth: Int?

        @Option(parsing: .unconditional, help: "Threads for --stats and --verify (default: all cores).")
        var threads: Int?

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func validate() throws {
            if let depth, depth < 1 { throw AnalysisIO.fail("--depth", "must be at least 1, got \(depth)") }
            if depth != nil && !tree { throw AnalysisIO.fail("--depth", "needs --tree") }
            if let threads, !(1...256).contains(threads) { throw AnalysisIO.fail("--threads", "must be in 1...256, got \(threads)") }
            if tree && (tensorName != nil || tensors) {
                throw AnalysisIO.fail("--tree", "cannot be combined with \(tensorName != nil ? "--tensor" : "--tensors")")
            }
        }

        var threadCount: Int { threads ?? TensorScan.defaultThreads }

        func run() throws {
            let file = try AnalysisIO.openModel(checkpoint)
            if tree {
                let t = TensorTree(file.tensors)
                if json {
                    AnalysisIO.printJSON(t.json(depth: depth))
                } else {
                    print(TreeText.lines(t, depth: depth, path: checkpoint).joined(separator: "\n"))
                }
                return
            }
            if let reader = file.checkpoint {
                try runCheckpoint(reader, file)
            } else {
                try ForeignInspect(command: self, file: file).run()
            }
        }

        private func runCheckpoint(_ reader: CheckpointReader, _ file: ModelFile) throws {
            if let name = tensorName {
                guard let entry = reader.entry(named: name) else {
                    throw AnalysisIO.fail(checkpoint, "no tensor named \(TerminalText.quoted(name)) (tensors: see inspect --tensors)")
                }
                try runTensor(reader, entry)
                return
            }

            // Read tensors only when asked; in parallel, each tensor once.
            var statistics: [String: TensorStats] = [:]
            var problems: [String: String] = [:]
            if stats || verify {
                // --verify also checks every tensor's SHA-256 against the hash section (1.1).
                let scanned = verify ? TTCModelFile(reader, checkingDigests: true) : file
                let results = TensorScan.stats(scanned, tensors: reader.entries.map(\.name), threads: threadCount)
                for (entry, result) in zip(reader.entries, results) {
                    switch result {
                    case .success(let s): statistics[entry.name] = s
                    case .failure(let error):
                        guard verify else { throw AnalysisIO.fail(error, path: checkpoint) }
                        problems[entry.name] = AnalysisIO.problem(error, path: checkpoint)
                    }
                }
            }
            let findings = verify ? VerifyFindings(names: reader.entries.map(\.name), problems: problems, stats: statistics) : nil
            // The model digest: stored (1.1), or computed by --verify for a 1.0 file.
            var digest = reader.storedModelDigest.map { ($0, "stored") }
            if digest == nil, verify, problems.isEmpty, let computed = try? reader.computedModelDigest() { digest = (computed, "computed") }

            if json {
                AnalysisIO.printJSON(InspectDocument.json(reader, stats: stats ? statistics : nil, verify: findings, digest: digest?.0))
            } else {
                var lines: [String] = []
                if !tensors { lines += InspectText.header(reader, digest: digest) }
                lines += InspectText.tensorTable(reader, verify: findings)
                if stats { lines += [""] + InspectText.statsTable(reader.entries.map(\.name), statistics, notDecoded: [:]) }
                if let findings {
                    lines += [""] + findings.summary(what: reader.storedTensorDigests == nil ? "CRCs and lengths checked"
                                                                                          : "CRCs, lengths and SHA-256 checked")
                }
                print(lines.joined(separator: "\n"))
            }
            try findings?.exit(path: checkpoint)
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
                lines += InspectText.values(values.map { $0.description }, shape: entry.shape, labels: labels)
                print(lines.joined(separator: "\n"))
            }
        }
    }
}

/// What `--verify` found: per tensor, a read problem (unreadable: exit 2) or NaN/Inf values
/// (exit 1), else ok.
struct VerifyFindings {
    var names: [String]
    /// Tensor → why it could not be read.
    var problems: [String: String]
    /// Tensor → "1 NaN, 2 Inf".
    var nonFinite: [String: String]
    /// Tensors whose values were not scanned (not decoded).
    var notScanned: [String: String] = [:]

    init(names: [String], problems: [String: String], stats: [String: TensorStats], notScanned: [String: String] = [:]) {
        self.names = names
        self.problems = problems
        self.notScanned = notScanned
        var nonFinite: [String: String] = [:]
        for (name, s) in stats where s.nanCount + s.infCount > 0 {
            var parts: [String] = []
            if s.nanCount > 0 { parts.append("\(s.nanCount) NaN") }
            if s.positiveInfCount > 0 { parts.append("\(s.positiveInfCount) +Inf") }
            if s.negativeInfCount > 0 { parts.append("\(s.negativeInfCount) -Inf") }
            nonFinite[name] = parts.joined(separator: ", ")
        }
        self.nonFinite = nonFinite
    }

    var isClean: Bool { problems.isEmpty && nonFinite.isEmpty }

    /// The table cell and JSON value for one tensor.
    func cell(_ name: String) -> String {
        if problems[name] != nil { return "FAILED" }
        if nonFinite[name] != nil { return "NaN/Inf" }
        if notScanned[name] != nil { return "listed" }
        return "ok"
    }

    func jsonValue(_ name: String) -> String {
        if let p = problems[name] { return p }
        if let n = nonFinite[name] { return "non-finite values: " + n }
        if let n = notScanned[name] { return "not scanned: " + n }
        return "ok"
    }

    /// The report lines after the tables.
    func summary(what: String) -> [String] {
        let failed = names.filter { problems[$0] != nil }
        let bad = names.filter { problems[$0] == nil && nonFinite[$0] != nil }
        var lines: [String] = []
        if isClean {
            let scanned = names.count - notScanned.count
            var line = "verify: all \(names.count) tensors " + Colour.paint("ok", .green) + " (\(what); no NaN or Inf"
            if scanned < names.count { line += " in the \(scanned) whose values are decoded" }
            lines.append(line + ")")
            return lines
        }
        if !failed.isEmpty {
            lines.append("verify: \(failed.count) of \(names.count) tensors " + Colour.paint("FAILED", .red))
            for n in failed { lines.append(TerminalText.escaped("  \(n): \(problems[n]!)")) }
        }
        if !bad.isEmpty {
            lines.append("verify: \(bad.count) of \(names.count) tensors hold " + Colour.paint("NaN or Inf", .red))
            for n in bad { lines.append(TerminalText.escaped("  \(n): \(nonFinite[n]!)")) }
        }
        return lines
    }

    /// Exit 2 (with the one stderr line) for an unreadable tensor, 1 for NaN/Inf.
    func exit(path: String) throws {
        if let first = names.first(where: { problems[$0] != nil }) {
            let count = names.filter { problems[$0] != nil }.count
            throw AnalysisIO.fail(path, "verify failed for \(count) of \(names.count) tensors (first: \(first): \(problems[first]!))")
        }
        if !nonFinite.isEmpty { throw ExitCode(1) }
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

    /// The problem part of an error's message (a `FormatError` or `ModelFileError` already
    /// names its file).
    static func problem(_ error: Error, path: String) -> String {
        if let e = error as? FormatError { return e.path == path ? e.message : e.description }
        if let e = error as? ModelFileError { return e.path == path ? e.message : e.description }
        return String(describing: error)
    }

    /// `fail` for an error thrown while reading `path`.
    static func fail(_ error: Error, path: String) -> ExitCode {
        if let e = error as? FormatError, e.path != path { return fail(e.path, e.message) }
        if let e = error as? ModelFileError, e.path != path { return fail(e.path, e.message) }
        return fail(path, problem(error, path: path))
    }

    /// Opens a model file of any format (told by content); any problem becomes the
    /// one-line error and exit status 2.
    static func openModel(_ path: String) throws -> ModelFile {
        guard FileManager.default.fileExists(atPath: path) else { throw fail(path, "no such file") }
        do {
            return try ModelFileOpener.open(path: path)
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
    static func json(_ reader: CheckpointReader, stats: [String: TensorStats]?, verify: VerifyFindings?, digest: String?) -> JSONValue {
        var tensors: [JSONValue] = []
        for e in reader.entries {
            var members = CheckpointJSON.entry(e)
            if let stats { members.append(("stats", stats[e.name].map { $0.json } ?? .null)) }
            if let verify { members.append(("verify", .string(verify.jsonValue(e.name)))) }
            tensors.append(.object(members))
        }
        var document: [(String, JSONValue)] = [
            ("file", .string(reader.path)),
            ("file_size", .uint(reader.fileSize)),
            ("format_version", .string(CheckpointJSON.formatVersion(reader))),
            ("model_digest", digest.map { .string($0) } ?? .null),
            ("tool_version", .string(reader.toolVersion)),
            ("config", CheckpointJSON.config(reader.config)),
            ("parameter_count", .int(ParameterLayout.parameterCount(reader.config))),
            ("vocab", CheckpointJSON.vocabulary(reader.vocabulary)),
            ("training", CheckpointJSON.training(reader.training)),
            ("tensors", .array(tensors)),
        ]
        if let verify { document.append(("verified", .bool(verify.isClean))) }
        return .object(document)
    }
}

/// The text views of `inspect`.
enum InspectText {
    static let vocabularyShown = 64
    static let sparklineWidth = 60

    static func header(_ r: CheckpointReader, digest: (String, String)?) -> [String] {
        let c = r.config, t = r.training, o = t.optimizer
        var rows: [(String, String)] = []
        rows.append(("file", "\(TerminalText.escaped(r.path)) (\(r.fileSize) bytes)"))
        rows.append(("format", ".ttc \(CheckpointJSON.formatVersion(r)), written by tt-ckpt \(TerminalText.escaped(r.toolVersion))"))
        if let (value, how) = digest {
            rows.append(("digest", "\(value) (model digest: SHA-256 of the weights; \(how))"))
        } else {
            rows.append(("digest", "not stored (format \(CheckpointJSON.formatVersion(r))); inspect --verify computes it"))
        }
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

    static func tensorTable(_ r: CheckpointReader, verify: VerifyFindings?) -> [String] {
        var rows: [[String]] = [["name", "role", "dtype", "shape", "stored", "raw", "stored/raw", "filter"]]
        if verify != nil { rows[0].append("verify") }
        var stored: UInt64 = 0, raw: UInt64 = 0
        for e in r.entries {
            stored &+= e.storedLength
            raw &+= e.rawLength
            var row = [TerminalText.escaped(e.name), e.role.label, e.dtype.label, DisplayText.shape(e.shape),
                       "\(e.storedLength)", "\(e.rawLength)", ratio(e.storedLength, e.rawLength), e.filter.label]
            if let verify { row.append(verify.cell(e.name)) }
            rows.append(row)
        }
        rows.append(["total (\(r.entries.count) tensors)", "", "", "", "\(stored)", "\(raw)", ratio(stored, raw), ""])
        return DisplayText.table(rows, rightAligned: [false, false, false, false, true, true, true, false, false])
    }

    static func ratio(_ stored: UInt64, _ raw: UInt64) -> String {
        raw == 0 ? "-" : String(format: "%.3f", Double(stored) / Double(raw))
    }

    /// One row per tensor with stats; tensors without (unreadable, or values not decoded)
    /// are listed after the table with the reason, so they do not widen its columns.
    static func statsTable(_ names: [String], _ stats: [String: TensorStats], notDecoded: [String: String]) -> [String] {
        var rows: [[String]] = [["name", "min", "max", "mean", "std", "rms", "l2 norm", "zero", "nan", "inf"]]
        var without: [String] = []
        for name in names {
            if let s = stats[name] {
                rows.append([TerminalText.escaped(name)] + statsCells(s))
            } else {
                without.append("  " + TerminalText.escaped(name) + ": " + (notDecoded[name] ?? "unreadable"))
            }
        }
        var lines = DisplayText.table(rows, rightAligned: [false] + [Bool](repeating: true, count: 9))
        if !without.isEmpty { lines += ["no stats (\(without.count) tensor\(without.count == 1 ? "" : "s")):"] + without }
        return lines
    }

    static func statsCells(_ s: TensorStats) -> [String] {
        func g(_ v: Double?) -> String { v.map { DisplayText.general($0) } ?? "-" }
        return [g(s.min), g(s.max), g(s.mean), g(s.std), g(s.rms), g(s.l2Norm),
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
    static func values(_ text: [String], shape: [Int], labels: [String]?) -> [String] {
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
            for row in 0..<rowsPerBlock where columns > 0 {
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
