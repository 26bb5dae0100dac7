import Foundation
import TTCore

/// The walk through one traced step that `trace --print` and `--json` show: the
/// `TraceCatalog` entries in walk order, grouped into the series' stages (one block per
/// stage), each quantity with its formula, shape and the values a reader follows by hand:
/// the row of sequence 0 at one position.
///
/// Which values each quantity shows (`slices`):
/// - (B, S, X) activations and their gradients: position P of sequence 0;
/// - (B, S): every position of sequence 0 (per-position losses, LayerNorm statistics);
/// - (B, H, S, X): position P of sequence 0, one row per head;
/// - a scalar: itself;
/// - parameter gradients and updates: `tok_emb` the row of the token at P, `lm_head` the row
///   of P's target (row 0 when ignored), `pos_emb` row P, a vector whole, (H, D, dk) row 0
///   of each head, any other matrix row 0.
public struct TraceWalk: Sendable {
    public struct Slice: Sendable {
        public var label: String
        public var values: [Float]
    }
    public struct Quantity: Sendable {
        public var entry: TraceEntry
        public var slices: [Slice]
    }
    public struct Block: Sendable {
        /// "forward", "backward" or "update".
        public var section: String
        public var title: String
        public var quantities: [Quantity]
    }

    public var config: ModelConfig
    public var vocabulary: Vocabulary
    public var trace: TraceInfo
    public var position: Int
    public var tokens: [Int]
    public var targets: [Int]
    public var blocks: [Block]

    /// Builds the walk from a trace's tensors (the `.ttc` trace's contents).
    /// - Precondition: `0 <= position < trace.seqLen`; the tensors hold every catalog entry.
    public init(trace checkpoint: Checkpoint, position P: Int) {
        let info = checkpoint.trace!
        precondition(P >= 0 && P < info.seqLen, "position outside the sequence")
        config = checkpoint.config
        vocabulary = checkpoint.vocabulary
        trace = info
        position = P
        var byName: [String: NamedTensor] = [:]
        for t in checkpoint.tensors { byName[t.name] = t }
        let S = info.seqLen
        tokens = byName[TraceInfo.tokensName]!.values.prefix(S).map { Int($0) }
        targets = byName[TraceInfo.targetsName]!.values.prefix(S).map { Int($0) }
        var blocks: [Block] = []
        for e in TraceCatalog.entries(config: config, batchSize: info.batchSize, seqLen: S) {
            let section = e.role == .activation ? "forward" : e.role == .update ? "update" : "backward"
            let values = byName[e.name]!.values
            let q = Quantity(entry: e, slices: Self.slices(e, values, position: P, tokens: tokens, targets: targets,
                                                            vocabulary: vocabulary))
            if let last = blocks.last, last.title == e.block, last.section == section {
                blocks[blocks.count - 1].quantities.append(q)
            } else {
                blocks.append(Block(section: section, title: e.block, quantities: [q]))
            }
        }
        self.blocks = blocks
    }

    static func slices(_ e: TraceEntry, _ v: [Float], position P: Int, tokens: [Int], targets: [Int],
                       vocabulary: Vocabulary) -> [Slice] {
        let shape = e.shape
        func row(_ r: Int, _ width: Int) -> [Float] { Array(v[(r * width)..<((r + 1) * width)]) }
        func token(_ id: Int) -> String {
            id >= 0 && id < vocabulary.tokens.count ? TerminalText.escaped(vocabulary.tokens[id]) : "\(id)"
        }
        if e.role == .activation || e.role == .activationGrad {
            switch shape.count {
            case 0: return [Slice(label: "value", values: v)]
            case 2: return [Slice(label: "positions 0…\(shape[1] - 1)", values: row(0, shape[1]))]
            case 3: return [Slice(label: "position \(P)", values: row(P, shape[2]))]
            default:
                let (H, S, X) = (shape[1], shape[2], shape[3])
                return (0..<H).map { h in Slice(label: "head \(h), position \(P)", values: row(h * S + P, X)) }
            }
        }
        let name = e.role == .update ? String(e.name.dropFirst(TensorRole.update.namePrefix.count)) : e.name
        switch shape.count {
        case 1: return [Slice(label: "all", values: v)]
        case 2:
            let width = shape[1]
            if name == "tok_emb" { return [Slice(label: "row \(tokens[P]) (\(token(tokens[P])))", values: row(tokens[P], width))] }
            if name == "lm_head" {
                let y = targets[P] >= 0 ? targets[P] : 0
                return [Slice(label: "row \(y) (\(token(y))\(targets[P] >= 0 ? ", the target" : ""))", values: row(y, width))]
            }
            if name == "pos_emb" { return [Slice(label: "row \(P)", values: row(P, width))] }
            return [Slice(label: "row 0", values: row(0, width))]
        default:
            let (H, R, X) = (shape[0], shape[1], shape[2])
            return (0..<H).map { h in Slice(label: "head \(h), row 0", values: row(h * R, X)) }
        }
    }

    /// Values at 4 decimals (−0.0000 printed as 0.0000); past `limit`, the count and ‖·‖.
    public static func format(_ values: [Float], limit: Int = 8) -> String {
        func f(_ x: Float) -> String {
            let s = String(format: "%.4f", Double(x))
            return s == "-0.0000" ? "0.0000" : s
        }
        var text = values.prefix(limit).map(f).joined(separator: " ")
        if values.count > limit {
            let n = values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            text += " … (\(values.count) values, ‖·‖ = \(String(format: "%.4f", n)))"
        }
        return text
    }

    /// The walk as text lines.
    public func text(source: String) -> [String] {
        var lines: [String] = []
        let c = config
        lines.append("Step \(trace.step) of \(TerminalText.escaped(source)) (\(c.arch.rawValue): V \(c.vocabSize), D \(c.dModel), H \(c.nHeads), F \(c.dFF), L \(c.nLayers)), batch \(trace.batchSize) × \(trace.seqLen), N = \(trace.targetCount) targets, lr \(DisplayText.general(trace.learningRate))")
        func words(_ ids: [Int]) -> String {
            ids.map { $0 >= 0 && $0 < vocabulary.tokens.count ? TerminalText.escaped(vocabulary.tokens[$0]) : "·" }.joined(separator: " ")
        }
        lines.append("sequence 0: \(words(tokens))  targets: \(words(targets))   (· = ignored)")
        lines.append("values: sequence 0, position \(position); 4 decimals")
        var section = ""
        var number = 0
        for block in blocks {
            if block.section != section {
                section = block.section
                lines.append("")
                lines.append(section == "forward" ? "FORWARD" : section == "backward" ? "BACKWARD" : "ADAMW UPDATE")
            }
            number += 1
            lines.append("")
            lines.append("\(number). \(block.title)")
            var formula = ""
            for q in block.quantities {
                // A formula shared by consecutive quantities (the updates) is printed once.
                if q.entry.formula != formula { lines.append("   \(q.entry.formula)") }
                formula = q.entry.formula
                let head = "     \(q.entry.name)  \(DisplayText.shape(q.entry.shape))"
                if q.slices.count == 1 && q.slices[0].label == "value" {
                    lines.append(head + "  " + Self.format(q.slices[0].values))
                    continue
                }
                lines.append(head)
                for s in q.slices { lines.append("       \(s.label): \(Self.format(s.values))") }
            }
        }
        lines.append("")
        lines.append("loss \(String(format: "%.4f", trace.loss)), gradient norm \(String(format: "%.4f", trace.gradNorm)) (before clipping)")
        return lines
    }

    /// The walk as one JSON document (full slices, no truncation).
    public func json(source: String) -> JSONValue {
        var blocksJSON: [JSONValue] = []
        for b in blocks {
            let quantities: [JSONValue] = b.quantities.map { q in
                .object([
                    ("name", .string(q.entry.name)),
                    ("role", .string(q.entry.role.label)),
                    ("formula", .string(q.entry.formula)),
                    ("shape", .array(q.entry.shape.map { .int($0) })),
                    ("slices", .array(q.slices.map { s in
                        .object([("label", .string(s.label)), ("values", .array(s.values.map { .float($0) }))])
                    })),
                ])
            }
            blocksJSON.append(.object([("section", .string(b.section)), ("title", .string(b.title)),
                                       ("quantities", .array(quantities))]))
        }
        return .object([
            ("checkpoint", .string(source)),
            ("step", .int(trace.step)),
            ("arch", .string(config.arch.rawValue)),
            ("batch_size", .int(trace.batchSize)),
            ("seq_len", .int(trace.seqLen)),
            ("target_count", .int(trace.targetCount)),
            ("position", .int(position)),
            ("tokens", .array(tokens.map { .int($0) })),
            ("targets", .array(targets.map { .int($0) })),
            ("loss", .double(trace.loss)),
            ("grad_norm", .double(trace.gradNorm)),
            ("learning_rate", .double(trace.learningRate)),
            ("blocks", .array(blocksJSON)),
        ])
    }
}
