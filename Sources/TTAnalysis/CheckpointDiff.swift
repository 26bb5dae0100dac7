import TTCore
import TTFormat
/// One header field that differs between A and B, with both values as JSON.
public struct FieldDifference: Equatable, Sendable {
    /// Dotted path, e.g. `config.d_model`, `training.optimizer.learning_rate`, `vocab.tokens[3]`.
    public var field: String
    public var a: JSONValue
    public var b: JSONValue
    /// Extra explanation, e.g. how many loss values are outside tolerance.
    public var detail: String?

    public init(field: String, a: JSONValue, b: JSONValue, detail: String? = nil) {
        self.field = field
        self.a = a
        self.b = b
        self.detail = detail
    }
}

/// How one tensor name compares between A and B.
public struct TensorDifference: Equatable, Sendable {
    public enum Status: String, Sendable {
        /// Every element within tolerance.
        case equal
        /// Same name, role, dtype and shape; some element outside tolerance.
        case different
        case roleMismatch = "role_mismatch"
        case dtypeMismatch = "dtype_mismatch"
        case shapeMismatch = "shape_mismatch"
        case onlyInA = "only_in_a"
        case onlyInB = "only_in_b"
    }

    public var name: String
    public var status: Status
    /// The entry in A and in B (nil where the tensor is missing).
    public var entryA: TensorEntry?
    public var entryB: TensorEntry?
    /// The element-wise numbers, for tensors whose values were compared.
    public var comparison: TensorComparison?
    /// `comparison.maxAbsDifferenceIndex` as a row-major multi-index.
    public var maxDifferencePosition: [Int]?
    /// For tensors with token rows: A's token for the row of the largest difference.
    public var maxDifferenceLabel: String?
    /// `comparison.firstOutsideIndex` as a row-major multi-index (this is where to look
    /// when the only differences are NaN or Inf, which have no |a−b|).
    public var firstOutsidePosition: [Int]?

    public var role: TensorRole { (entryA ?? entryB)!.role }
}

/// The comparison of two checkpoints, A against reference B (`diff A B`).
///
/// What counts as a difference (any one makes `isEqual` false, exit 1):
/// - config: any field (arch, vocab_size, d_model, n_heads, d_ff, n_layers, context);
/// - vocabulary: tokenizer kind, size, any token string;
/// - training state: step, tokens seen, seed, batch size, every optimizer setting, data
///   identity (byte count, token count, SHA-256), data cursor (windows drawn), generator
///   state and session starts must be identical; the loss history must have the same
///   length and every value must pass the same tolerance rule as the tensors;
/// - tensors selected by the role filter: a name in only one file, a role, dtype or shape
///   mismatch, or any element outside tolerance.
///
/// Notes (reported, never a difference): format version, tool version, the data file
/// name (informational in the format), and how blobs are stored (compression, filter).
public struct CheckpointDiff: Equatable, Sendable {
    public var tolerance: Tolerance
    public var roles: RoleFilter
    public var fields: [FieldDifference]
    public var notes: [FieldDifference]
    /// A's tensors in A's order, then the ones only in B in B's order; only those the
    /// role filter selects.
    public var tensors: [TensorDifference]

    public var isEqual: Bool { fields.isEmpty && tensors.allSatisfy { $0.status == .equal } }

    /// Compares A with B. Tensors are loaded one pair at a time and released before the
    /// next, so memory is bounded by the largest pair, not the file size.
    /// - Throws: whatever loading a tensor throws (a corrupt blob makes the files not
    ///   comparable).
    public static func compare(_ a: CheckpointSource, _ b: CheckpointSource,
                               tolerance: Tolerance = .exact, roles: RoleFilter = .all) throws -> CheckpointDiff {
        let (fields, notes) = compareHeaders(a, b, tolerance: tolerance)
        var tensors: [TensorDifference] = []
        var entriesB: [String: TensorEntry] = [:]
        for e in b.entries where entriesB[e.name] == nil { entriesB[e.name] = e }
        var seen = Set<String>()
        for ea in a.entries where !seen.contains(ea.name) {
            seen.insert(ea.name)
            guard let eb = entriesB[ea.name] else {
                if roles.includes(ea.role) {
                    tensors.append(TensorDifference(name: ea.name, status: .onlyInA, entryA: ea, entryB: nil))
                }
                continue
            }
            guard roles.includes(ea.role) || roles.includes(eb.role) else { continue }
            tensors.append(try compareTensor(ea, in: a, eb, in: b, tolerance: tolerance))
        }
        var seenB = Set<String>()
        for eb in b.entries where !seen.contains(eb.name) && !seenB.contains(eb.name) {
            seenB.insert(eb.name)
            if roles.includes(eb.role) {
                tensors.append(TensorDifference(name: eb.name, status: .onlyInB, entryA: nil, entryB: eb))
            }
        }
        return CheckpointDiff(tolerance: tolerance, roles: roles, fields: fields, notes: notes, tensors: tensors)
    }

    /// Compares one pair of same-named tensors; loads values only when role, dtype and
    /// shape agree.
    static func compareTensor(_ ea: TensorEntry, in a: CheckpointSource, _ eb: TensorEntry, in b: CheckpointSource,
                              tolerance: Tolerance) throws -> TensorDifference {
        var result = TensorDifference(name: ea.name, status: .equal, entryA: ea, entryB: eb)
        if ea.role != eb.role { result.status = .roleMismatch; return result }
        if ea.dtype != eb.dtype { result.status = .dtypeMismatch; return result }
        if ea.shape != eb.shape { result.status = .shapeMismatch; return result }
        // One pair in memory at a time: both arrays die at the end of this function.
        let va = try a.loadTensor(ea)
        let vb = try b.loadTensor(eb)
        let comparison = TensorComparison(va, vb, tolerance: tolerance)
        result.comparison = comparison
        result.status = comparison.isClose ? .equal : .different
        if let flat = comparison.firstOutsideIndex {
            result.firstOutsidePosition = multiIndex(flat, shape: ea.shape)
        }
        if let flat = comparison.maxAbsDifferenceIndex {
            let position = multiIndex(flat, shape: ea.shape)
            result.maxDifferencePosition = position
            if hasVocabularyRows(ea.name), let row = position.first, row < a.vocabulary.tokens.count {
                result.maxDifferenceLabel = a.vocabulary.tokens[row]
            }
        }
        return result
    }

    /// Header fields that differ, and notes (differences that do not count).
    public static func compareHeaders(_ a: CheckpointSource, _ b: CheckpointSource,
                                      tolerance: Tolerance) -> (fields: [FieldDifference], notes: [FieldDifference]) {
        var fields: [FieldDifference] = []
        var notes: [FieldDifference] = []
        let fa = CheckpointJSON.formatVersion(a), fb = CheckpointJSON.formatVersion(b)
        if fa != fb { notes.append(FieldDifference(field: "format_version", a: .string(fa), b: .string(fb))) }
        if a.toolVersion != b.toolVersion {
            notes.append(FieldDifference(field: "tool_version", a: .string(a.toolVersion), b: .string(b.toolVersion)))
        }
        compareTrees("config", CheckpointJSON.config(a.config), CheckpointJSON.config(b.config), into: &fields)
        compareTrees("vocab", CheckpointJSON.vocabulary(a.vocabulary, tokens: false),
                     CheckpointJSON.vocabulary(b.vocabulary, tokens: false), into: &fields)
        fields += compareTokens(a.vocabulary.tokens, b.vocabulary.tokens)

        let ta = a.training
        var tb = b.training
        if let da = ta.data, let db = tb.data, da.name != db.name {
            notes.append(FieldDifference(field: "training.data.name", a: .string(da.name), b: .string(db.name),
                                         detail: "the data file name is informational"))
            tb.data?.name = da.name
        }
        compareTrees("training", CheckpointJSON.training(ta, lossHistory: false),
                     CheckpointJSON.training(tb, lossHistory: false), into: &fields)
        if let d = compareLossHistory(ta.lossHistory, tb.lossHistory, tolerance: tolerance) { fields.append(d) }
        return (fields, notes)
    }

    /// At most this many differing tokens are listed one by one; the rest are counted.
    public static let tokenListLimit = 20

    /// Token strings that differ at the same id (over the common id range), at most
    /// `tokenListLimit` of them listed, then one summary entry for the rest.
    static func compareTokens(_ a: [String], _ b: [String]) -> [FieldDifference] {
        var out: [FieldDifference] = []
        var more = 0
        for i in 0..<min(a.count, b.count) where a[i] != b[i] {
            if out.count < tokenListLimit {
                out.append(FieldDifference(field: "vocab.tokens[\(i)]", a: .string(a[i]), b: .string(b[i])))
            } else {
                more += 1
            }
        }
        if more > 0 {
            out.append(FieldDifference(field: "vocab.tokens", a: .null, b: .null, detail: "\(more) more tokens differ"))
        }
        return out
    }

    /// The loss histories compared with the tensor tolerance rule; nil when they match.
    static func compareLossHistory(_ a: [Float], _ b: [Float], tolerance: Tolerance) -> FieldDifference? {
        if a.count != b.count {
            return FieldDifference(field: "training.loss_history.count", a: .int(a.count), b: .int(b.count))
        }
        let c = TensorComparison(a, b, tolerance: tolerance)
        guard let i = c.firstOutsideIndex else { return nil }
        return FieldDifference(field: "training.loss_history[\(i)]", a: .float(a[i]), b: .float(b[i]),
                               detail: "\(c.outsideTolerance) of \(a.count) loss values outside tolerance; first at step \(i + 1)")
    }

    /// Walks two JSON trees; objects are compared key by key (A's keys, then B's extra
    /// ones), everything else as a whole (Floats and Doubles by bit pattern).
    static func compareTrees(_ path: String, _ a: JSONValue, _ b: JSONValue, into out: inout [FieldDifference]) {
        if case .object(let ma) = a, case .object(let mb) = b {
            var keys = ma.map(\.0)
            for (k, _) in mb where !keys.contains(k) { keys.append(k) }
            for k in keys {
                let va = ma.first { $0.0 == k }?.1 ?? .null
                let vb = mb.first { $0.0 == k }?.1 ?? .null
                compareTrees(path + "." + k, va, vb, into: &out)
            }
            return
        }
        if a != b { out.append(FieldDifference(field: path, a: a, b: b)) }
    }
}
