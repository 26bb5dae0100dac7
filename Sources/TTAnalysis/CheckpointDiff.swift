import TTCore
import TTFormat
import TTInterop
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

/// How one tensor compares between A and B.
public struct TensorDifference: Equatable, Sendable {
    public enum Status: String, Sendable {
        /// Every element within tolerance.
        case equal
        /// Same shape (after the name mapping's transpose); some element outside tolerance.
        case different
        case roleMismatch = "role_mismatch"
        case dtypeMismatch = "dtype_mismatch"
        case shapeMismatch = "shape_mismatch"
        /// Present on both sides (or a buffer the mapping knows) but values not compared:
        /// `note` says why (a type whose values are not decoded, an attention-mask buffer).
        /// Not a difference.
        case notCompared = "not_compared"
        case onlyInA = "only_in_a"
        case onlyInB = "only_in_b"
    }

    /// A's name (B's when the tensor is only in B).
    public var name: String
    public var status: Status
    /// The tensor in A and in B (nil where it is missing).
    public var a: ModelTensor?
    public var b: ModelTensor?
    /// B's name when the name mapping gives it another one than A's.
    public var nameB: String? { b.flatMap { $0.name == name ? nil : $0.name } }
    /// B stores the tensor transposed relative to A (a transformers Conv1D weight against
    /// the canonical layout); values were compared after transposing.
    public var transposed = false
    /// Why values were not compared, or what the pair is (the tied LM head).
    public var note: String?
    /// The element-wise numbers, for tensors whose values were compared.
    public var comparison: TensorComparison?
    /// `comparison.maxAbsDifferenceIndex` as a row-major multi-index of A's shape.
    public var maxDifferencePosition: [Int]?
    /// For tensors with token rows: A's token for the row of the largest difference.
    public var maxDifferenceLabel: String?
    /// `comparison.firstOutsideIndex` as a row-major multi-index (this is where to look
    /// when the only differences are NaN or Inf, which have no |a−b|).
    public var firstOutsidePosition: [Int]?

    /// The .ttc role, or for a foreign file the role its name implies (`adam_m.` and
    /// `adam_v.` prefixes: the moments of a tt-ckpt export; anything else a parameter).
    public var role: TensorRole { (a ?? b).map(effectiveRole) ?? .other }

    public init(name: String, status: Status, a: ModelTensor?, b: ModelTensor?) {
        self.name = name
        self.status = status
        self.a = a
        self.b = b
    }
}

/// A tensor's role: its own in a .ttc file, else the one its name implies.
func effectiveRole(_ t: ModelTensor) -> TensorRole {
    if let role = t.role { return role }
    if t.name.hasPrefix(TensorRole.adamM.namePrefix) { return .adamM }
    if t.name.hasPrefix(TensorRole.adamV.namePrefix) { return .adamV }
    return .parameter
}

/// How `diff` pairs tensor names across two files.
public enum DiffNaming: Equatable, Sendable {
    /// Detect each side's naming (`GPT2Naming.detect`; a .ttc file is canonical) and map
    /// both to canonical names when they differ and each side is recognised.
    case auto
    /// Names as they are.
    case none
    /// The side(s) not using canonical names use this convention.
    case convention(GPT2Naming)
}

/// `DiffNaming.auto` cannot tell a file's layout: gpt2 names without a 2-D `c_attn.weight`
/// whose shape says transformers or nanoGPT.
public struct AmbiguousNaming: Error, Equatable, Sendable {
    public var path: String
}

/// The comparison of two checkpoints, A against reference B (`diff A B`), in any of the
/// formats `ModelFileOpener` reads.
///
/// What counts as a difference (any one makes `isEqual` false, exit 1):
/// - (both files .ttc) config: any field (arch, vocab_size, d_model, n_heads, d_ff,
///   n_layers, context); vocabulary: tokenizer kind, size, any token string; training
///   state: step, tokens seen, seed, batch size, every optimizer setting, data identity
///   (byte count, token count, SHA-256), data cursor (windows drawn), generator state and
///   session starts must be identical; the loss history must have the same length and
///   every value must pass the same tolerance rule as the tensors;
/// - tensors selected by the role filter: a name in only one file, a role (both .ttc),
///   dtype (both .ttc) or shape mismatch, or any element outside tolerance. Across formats
///   values of different types are compared as numbers (F16 against F32 is fine); a
///   tensor whose values are not decoded (a K-quant) is `notCompared`, not a difference.
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
    /// The naming each side's names were mapped from (nil: compared as they are).
    public var namingA: GPT2Naming?
    public var namingB: GPT2Naming?
    /// Header fields (config, vocabulary, training state) were compared: both files .ttc.
    public var headersCompared: Bool

    public var isEqual: Bool { fields.isEmpty && tensors.allSatisfy { $0.status == .equal || $0.status == .notCompared } }

    /// Compares two .ttc sources (every tensor of `roles`, header fields too). Tensors are
    /// loaded one pair at a time per thread and released after, so memory is bounded by the
    /// largest pair per thread, not the file size.
    /// - Throws: whatever loading a tensor throws (a corrupt blob makes the files not
    ///   comparable); the first in A's order.
    public static func compare(_ a: CheckpointSource, _ b: CheckpointSource,
                               tolerance: Tolerance = .exact, roles: RoleFilter = .all, threads: Int = 1) throws -> CheckpointDiff {
        try compare(view(a), view(b), sources: (a, b), naming: .none, tolerance: tolerance, roles: roles, threads: threads)
    }

    /// Compares two opened model files of any formats. `roles` defaults to every tensor
    /// between two .ttc files, and to the parameters when either file is foreign (foreign
    /// files hold weights; a tt-ckpt export with `--include-optimizer` also holds the
    /// `adam_m.`/`adam_v.` moments, which `.all` compares).
    /// - Throws: `AmbiguousNaming`, or what reading a tensor throws (the first in A's order).
    public static func compare(_ a: ModelFile, _ b: ModelFile, naming: DiffNaming = .auto, tolerance: Tolerance = .exact,
                               roles: RoleFilter? = nil, threads: Int = TensorScan.defaultThreads) throws -> CheckpointDiff {
        try compare(a, b, sources: (a.checkpoint, b.checkpoint), naming: naming, tolerance: tolerance,
                    roles: roles ?? (a.format == .ttc && b.format == .ttc ? .all : .params), threads: threads)
    }

    static func view(_ s: CheckpointSource) -> ModelFile {
        if let reader = s as? CheckpointReader { return TTCModelFile(reader) }
        return TTCModelFile(path: s.path, formatVersion: s.formatVersion, entries: s.entries, load: s.loadTensor)
    }

    /// Which naming each side is read with.
    public static func resolve(_ choice: DiffNaming, _ a: ModelFile, _ b: ModelFile) throws -> (GPT2Naming?, GPT2Naming?) {
        func detect(_ f: ModelFile) -> GPT2Naming.Detected {
            f.format == .ttc ? .canonical : GPT2Naming.detect(f.tensors.map { ($0.name, $0.shape) })
        }
        let da = detect(a), db = detect(b)
        switch choice {
        case .none:
            return (nil, nil)
        case .convention(let n):
            if da != .canonical && db != .canonical { return (nil, nil) }  // the same convention on both sides
            return (da == .canonical ? nil : n, db == .canonical ? nil : n)
        case .auto:
            if da == db || da == .other || db == .other { return (nil, nil) }
            if da == .ambiguous { throw AmbiguousNaming(path: a.path) }
            if db == .ambiguous { throw AmbiguousNaming(path: b.path) }
            func naming(_ d: GPT2Naming.Detected) -> GPT2Naming? {
                if case .foreign(let n) = d { return n }
                return nil
            }
            return (naming(da), naming(db))
        }
    }

    static func compare(_ a: ModelFile, _ b: ModelFile, sources: (CheckpointSource?, CheckpointSource?), naming: DiffNaming,
                        tolerance: Tolerance, roles: RoleFilter, threads: Int) throws -> CheckpointDiff {
        let (na, nb) = try resolve(naming, a, b)
        var fields: [FieldDifference] = [], notes: [FieldDifference] = []
        if let sa = sources.0, let sb = sources.1 {
            (fields, notes) = compareHeaders(sa, sb, tolerance: tolerance)
        }
        let bothTTC = a.format == .ttc && b.format == .ttc

        // Canonical keys: (key, stored transposed relative to the canonical layout).
        func key(_ t: ModelTensor, _ n: GPT2Naming?) -> (String, Bool) {
            guard let n, let m = n.canonicalName(for: t.name) else { return (t.name, false) }
            return (m.canonical, m.transposed)
        }
        var byKeyB: [String: (tensor: ModelTensor, transposed: Bool)] = [:]
        for t in b.tensors where nb?.auxiliary(t.name) == nil {
            let (k, tr) = key(t, nb)
            if byKeyB[k] == nil { byKeyB[k] = (t, tr) }
        }
        var byKeyA: [String: (tensor: ModelTensor, transposed: Bool)] = [:]
        for t in a.tensors where na?.auxiliary(t.name) == nil {
            let (k, tr) = key(t, na)
            if byKeyA[k] == nil { byKeyA[k] = (t, tr) }
        }

        var tensors: [TensorDifference] = []
        var pairs: [(index: Int, pair: TensorScan.Pair)] = []
        var matchedB = Set<String>()

        /// Checks a pair and queues its values for comparison.
        func pair(_ ta: ModelTensor, _ tb: ModelTensor, transposed: Bool, note: String?) {
            var d = TensorDifference(name: ta.name, status: .equal, a: ta, b: tb)
            d.transposed = transposed
            d.note = note
            if bothTTC, let ra = ta.role, let rb = tb.role, ra != rb { d.status = .roleMismatch; tensors.append(d); return }
            if bothTTC, ta.dtype != tb.dtype { d.status = .dtypeMismatch; tensors.append(d); return }
            let expected = transposed ? Array(ta.shape.reversed()) : ta.shape
            if tb.shape != expected || (transposed && ta.shape.count != 2) {
                d.status = .shapeMismatch
                tensors.append(d)
                return
            }
            for t in [ta, tb] where !t.decodable {
                d.status = .notCompared
                d.note = "values of \(t.dtype) are not decoded"
                tensors.append(d)
                return
            }
            pairs.append((tensors.count, TensorScan.Pair(a: ta.name, b: tb.name, transposed: transposed)))
            tensors.append(d)
        }

        func auxiliary(_ t: ModelTensor, _ aux: GPT2Naming.Auxiliary, otherByKey: [String: (tensor: ModelTensor, transposed: Bool)],
                       isA: Bool) {
            switch aux {
            case .buffer:
                var d = TensorDifference(name: t.name, status: .notCompared, a: isA ? t : nil, b: isA ? nil : t)
                d.note = "attention-mask buffer, not a parameter"
                tensors.append(d)
            case .tiedHead(let canonical):
                guard let other = otherByKey[canonical], other.transposed == false else {
                    tensors.append(TensorDifference(name: t.name, status: isA ? .onlyInA : .onlyInB, a: isA ? t : nil, b: isA ? nil : t))
                    return
                }
                if isA {
                    pair(t, other.tensor, transposed: false, note: "LM head, tied to \(other.tensor.name)")
                } else {
                    pair(other.tensor, t, transposed: false, note: "LM head, tied to \(other.tensor.name)")
                }
            }
        }

        for ta in a.tensors {
            if let n = na, let aux = n.auxiliary(ta.name) {
                if roles.includes(effectiveRole(ta)) { auxiliary(ta, aux, otherByKey: byKeyB, isA: true) }
                continue
            }
            let (k, tra) = key(ta, na)
            guard let (tb, trb) = byKeyB[k], !matchedB.contains(tb.name) else {
                if roles.includes(effectiveRole(ta)) { tensors.append(TensorDifference(name: ta.name, status: .onlyInA, a: ta, b: nil)) }
                continue
            }
            matchedB.insert(tb.name)
            guard roles.includes(effectiveRole(ta)) || roles.includes(effectiveRole(tb)) else { continue }
            pair(ta, tb, transposed: tra != trb, note: nil)
        }
        for tb in b.tensors where !matchedB.contains(tb.name) {
            guard roles.includes(effectiveRole(tb)) else { continue }
            if let n = nb, let aux = n.auxiliary(tb.name) {
                auxiliary(tb, aux, otherByKey: byKeyA, isA: false)
                continue
            }
            tensors.append(TensorDifference(name: tb.name, status: .onlyInB, a: nil, b: tb))
        }

        // Values, in parallel; the first failure in A's order is thrown.
        let results = TensorScan.compare(a, b, pairs: pairs.map(\.pair), tolerance: tolerance, threads: threads)
        let vocabulary = sources.0?.vocabulary
        for (q, r) in zip(pairs, results) {
            let comparison = try r.get()
            var d = tensors[q.index]
            let shape = d.a!.shape
            d.comparison = comparison
            d.status = comparison.isClose ? .equal : .different
            if let flat = comparison.firstOutsideIndex { d.firstOutsidePosition = multiIndex(flat, shape: shape) }
            if let flat = comparison.maxAbsDifferenceIndex {
                let position = multiIndex(flat, shape: shape)
                d.maxDifferencePosition = position
                if let vocabulary, hasVocabularyRows(d.name), let row = position.first, row < vocabulary.tokens.count {
                    d.maxDifferenceLabel = vocabulary.tokens[row]
                }
            }
            tensors[q.index] = d
        }
        return CheckpointDiff(tolerance: tolerance, roles: roles, fields: fields, notes: notes, tensors: tensors,
                              namingA: na, namingB: nb, headersCompared: sources.0 != nil && sources.1 != nil)
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
