import TTCore
// The META keys of format 1 and their mapping to ModelConfig, Vocabulary and TrainingState;
// semantic validation shared by the reader and the writer. spec/FORMAT.md "Metadata keys".

/// Metadata keys written by this version, in the order the writer emits them (sorted by
/// UTF-8 bytes).
enum MetaKey {
    static let dataByteCount = "data.byte_count"
    static let dataName = "data.name"
    static let dataSHA256 = "data.sha256"
    static let dataTokenCount = "data.token_count"
    static let toolVersion = "format.tool_version"
    static let arch = "model.arch"
    static let context = "model.context"
    static let dFF = "model.d_ff"
    static let dModel = "model.d_model"
    static let nHeads = "model.n_heads"
    static let nLayers = "model.n_layers"
    static let vocabSize = "model.vocab_size"
    static let beta1 = "optim.beta1"
    static let beta2 = "optim.beta2"
    static let decaySteps = "optim.decay_steps"
    static let epsilon = "optim.epsilon"
    static let exemptNormAndBias = "optim.exempt_norm_and_bias"
    static let gradClip = "optim.grad_clip"
    static let learningRate = "optim.lr"
    static let minLRRatio = "optim.min_lr_ratio"
    static let schedule = "optim.schedule"
    static let warmupSteps = "optim.warmup_steps"
    static let weightDecay = "optim.weight_decay"
    static let rngGaussNext = "rng.gauss_next"
    static let rngIndex = "rng.index"
    static let rngWords = "rng.words"
    static let batchSize = "train.batch_size"
    static let lossHistory = "train.loss_history"
    static let seed = "train.seed"
    static let sessionStarts = "train.session_starts"
    static let step = "train.step"
    static let tokensSeen = "train.tokens_seen"
    static let windowsDrawn = "train.windows_drawn"
    static let vocabKind = "vocab.kind"
    static let vocabTokens = "vocab.tokens"
    // Trace files only (spec/TRACE.md); `trace.step` marks a file as a trace.
    static let traceBatchSize = "trace.batch_size"
    static let traceGradNorm = "trace.grad_norm"
    static let traceLearningRate = "trace.learning_rate"
    static let traceLoss = "trace.loss"
    static let traceSeqLen = "trace.seq_len"
    static let traceStep = "trace.step"
    static let traceTargetCount = "trace.target_count"

    /// Maps a `ConfigError.field` from `ModelConfig.validate` / `AdamWConfig.validate` to
    /// the metadata key holding it.
    static func forConfigField(_ field: String) -> String {
        switch field {
        case "vocab_size", "d_model", "n_heads", "d_ff", "n_layers", "context": return "model." + field
        case "config": return "model"
        default: return "optim." + field
        }
    }
}

/// The metadata items for a checkpoint, sorted by key bytes. The caller has validated it
/// (no negative counts).
func metadataItems(config c: ModelConfig, vocabulary: Vocabulary, training t: TrainingState,
                   trace: TraceInfo? = nil) -> [MetaItem] {
    let o = t.optimizer
    var items: [MetaItem] = [
        MetaItem(MetaKey.toolVersion, .string(TTCkptVersion.string)),
        MetaItem(MetaKey.arch, .string(c.arch.rawValue)),
        MetaItem(MetaKey.context, .u64(UInt64(c.context))),
        MetaItem(MetaKey.dFF, .u64(UInt64(c.dFF))),
        MetaItem(MetaKey.dModel, .u64(UInt64(c.dModel))),
        MetaItem(MetaKey.nHeads, .u64(UInt64(c.nHeads))),
        MetaItem(MetaKey.nLayers, .u64(UInt64(c.nLayers))),
        MetaItem(MetaKey.vocabSize, .u64(UInt64(c.vocabSize))),
        MetaItem(MetaKey.beta1, .f64(o.beta1)),
        MetaItem(MetaKey.beta2, .f64(o.beta2)),
        MetaItem(MetaKey.decaySteps, .u64(UInt64(o.decaySteps))),
        MetaItem(MetaKey.epsilon, .f64(o.epsilon)),
        MetaItem(MetaKey.exemptNormAndBias, .bool(o.exemptNormAndBias)),
        MetaItem(MetaKey.gradClip, .f64(o.gradClip)),
        MetaItem(MetaKey.learningRate, .f64(o.learningRate)),
        MetaItem(MetaKey.minLRRatio, .f64(o.minLRRatio)),
        MetaItem(MetaKey.schedule, .string(o.schedule.rawValue)),
        MetaItem(MetaKey.warmupSteps, .u64(UInt64(o.warmupSteps))),
        MetaItem(MetaKey.weightDecay, .f64(o.weightDecay)),
        MetaItem(MetaKey.rngIndex, .u64(UInt64(t.rng.index))),
        MetaItem(MetaKey.rngWords, .u32Array(t.rng.words)),
        MetaItem(MetaKey.batchSize, .u64(UInt64(t.batchSize))),
        MetaItem(MetaKey.lossHistory, .f32Array(t.lossHistory)),
        MetaItem(MetaKey.seed, .u64(t.seed)),
        MetaItem(MetaKey.sessionStarts, .u64Array(t.sessionStarts.map { UInt64($0) })),
        MetaItem(MetaKey.step, .u64(UInt64(t.step))),
        MetaItem(MetaKey.tokensSeen, .u64(UInt64(t.tokensSeen))),
        MetaItem(MetaKey.windowsDrawn, .u64(t.windowsDrawn)),
        MetaItem(MetaKey.vocabKind, .string(vocabulary.kind.rawValue)),
        MetaItem(MetaKey.vocabTokens, .stringArray(vocabulary.tokens)),
    ] + bpeMetadataItems(vocabulary)
    if let g = t.rng.gaussNext { items.append(MetaItem(MetaKey.rngGaussNext, .f64(g))) }
    if let d = t.data {
        items.append(MetaItem(MetaKey.dataByteCount, .u64(UInt64(d.byteCount))))
        items.append(MetaItem(MetaKey.dataName, .string(d.name)))
        items.append(MetaItem(MetaKey.dataSHA256, .string(d.sha256)))
        items.append(MetaItem(MetaKey.dataTokenCount, .u64(UInt64(d.tokenCount))))
    }
    if let r = trace {
        items += [
            MetaItem(MetaKey.traceBatchSize, .u64(UInt64(r.batchSize))),
            MetaItem(MetaKey.traceGradNorm, .f64(r.gradNorm)),
            MetaItem(MetaKey.traceLearningRate, .f64(r.learningRate)),
            MetaItem(MetaKey.traceLoss, .f64(r.loss)),
            MetaItem(MetaKey.traceSeqLen, .u64(UInt64(r.seqLen))),
            MetaItem(MetaKey.traceStep, .u64(UInt64(r.step))),
            MetaItem(MetaKey.traceTargetCount, .u64(UInt64(r.targetCount))),
        ]
    }
    return items.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
}

/// A decoding or validation failure without the file name (the caller adds it).
struct ContentError: Error {
    var kind: FormatError.Kind
    var message: String
    init(_ kind: FormatError.Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
}

/// Typed lookup of metadata values; unknown keys are ignored.
struct MetadataTable {
    private var values: [String: MetaValue] = [:]

    init(_ items: [MetaItem]) {
        for item in items { values[item.key] = item.value }
    }

    func has(_ key: String) -> Bool { values[key] != nil }

    private func get(_ key: String) throws -> MetaValue {
        guard let v = values[key] else { throw ContentError(.missingKey, "metadata: missing required key '\(key)'") }
        return v
    }
    private func wrongType(_ key: String, _ v: MetaValue, _ expected: String) -> ContentError {
        ContentError(.wrongType, "metadata key '\(key)': type \(v.typeLabel), expected \(expected)")
    }

    func u64(_ key: String) throws -> UInt64 {
        let v = try get(key)
        guard case .u64(let x) = v else { throw wrongType(key, v, "u64") }
        return x
    }
    /// A u64 that must fit in Int.
    func int(_ key: String) throws -> Int {
        let x = try u64(key)
        guard x <= UInt64(Int.max) else { throw ContentError(.invalidValue, "metadata key '\(key)': value \(x) is out of range") }
        return Int(x)
    }
    func f64(_ key: String) throws -> Double {
        let v = try get(key)
        guard case .f64(let x) = v else { throw wrongType(key, v, "f64") }
        return x
    }
    func bool(_ key: String) throws -> Bool {
        let v = try get(key)
        guard case .bool(let x) = v else { throw wrongType(key, v, "bool") }
        return x
    }
    func string(_ key: String) throws -> String {
        let v = try get(key)
        guard case .string(let x) = v else { throw wrongType(key, v, "string") }
        return x
    }
    func u32Array(_ key: String) throws -> [UInt32] {
        let v = try get(key)
        guard case .u32Array(let x) = v else { throw wrongType(key, v, "array<u32>") }
        return x
    }
    func u64Array(_ key: String) throws -> [UInt64] {
        let v = try get(key)
        guard case .u64Array(let x) = v else { throw wrongType(key, v, "array<u64>") }
        return x
    }
    func f32Array(_ key: String) throws -> [Float] {
        let v = try get(key)
        guard case .f32Array(let x) = v else { throw wrongType(key, v, "array<f32>") }
        return x
    }
    func stringArray(_ key: String) throws -> [String] {
        let v = try get(key)
        guard case .stringArray(let x) = v else { throw wrongType(key, v, "array<string>") }
        return x
    }
}

/// Decodes the shared types from metadata and validates them (see `validateContents`).
func decodeCheckpointMetadata(_ items: [MetaItem]) throws -> (ModelConfig, Vocabulary, TrainingState, toolVersion: String) {
    let m = MetadataTable(items)
    let toolVersion = try m.string(MetaKey.toolVersion)
    let archName = try m.string(MetaKey.arch)
    guard let arch = Architecture(rawValue: archName) else {
        throw ContentError(.invalidValue, "metadata key '\(MetaKey.arch)': unknown architecture \(quotedName(archName))")
    }
    let config = ModelConfig(arch: arch, vocabSize: try m.int(MetaKey.vocabSize), dModel: try m.int(MetaKey.dModel),
                             nHeads: try m.int(MetaKey.nHeads), dFF: try m.int(MetaKey.dFF),
                             nLayers: try m.int(MetaKey.nLayers), context: try m.int(MetaKey.context))
    let kindName = try m.string(MetaKey.vocabKind)
    guard let kind = TokenizerKind(rawValue: kindName) else {
        throw ContentError(.invalidValue, "metadata key '\(MetaKey.vocabKind)': unknown tokenizer kind \(quotedName(kindName))")
    }
    let vocabulary = Vocabulary(kind: kind, tokens: try m.stringArray(MetaKey.vocabTokens),
                                bpe: try decodeBPEMetadata(m, kind: kind))

    var o = AdamWConfig()
    o.learningRate = try m.f64(MetaKey.learningRate)
    o.beta1 = try m.f64(MetaKey.beta1)
    o.beta2 = try m.f64(MetaKey.beta2)
    o.epsilon = try m.f64(MetaKey.epsilon)
    o.weightDecay = try m.f64(MetaKey.weightDecay)
    o.exemptNormAndBias = try m.bool(MetaKey.exemptNormAndBias)
    o.gradClip = try m.f64(MetaKey.gradClip)
    let scheduleName = try m.string(MetaKey.schedule)
    guard let schedule = LRSchedule(rawValue: scheduleName) else {
        throw ContentError(.invalidValue, "metadata key '\(MetaKey.schedule)': unknown schedule \(quotedName(scheduleName))")
    }
    o.schedule = schedule
    o.warmupSteps = try m.int(MetaKey.warmupSteps)
    o.decaySteps = try m.int(MetaKey.decaySteps)
    o.minLRRatio = try m.f64(MetaKey.minLRRatio)

    let words = try m.u32Array(MetaKey.rngWords)
    let index = try m.int(MetaKey.rngIndex)
    let gauss: Double? = m.has(MetaKey.rngGaussNext) ? try m.f64(MetaKey.rngGaussNext) : nil
    var t = TrainingState(rng: PythonRandom.State(words: words, index: index, gaussNext: gauss))
    t.optimizer = o
    t.step = try m.int(MetaKey.step)
    t.tokensSeen = try m.int(MetaKey.tokensSeen)
    t.seed = try m.u64(MetaKey.seed)
    t.batchSize = try m.int(MetaKey.batchSize)
    t.windowsDrawn = try m.u64(MetaKey.windowsDrawn)
    t.lossHistory = try m.f32Array(MetaKey.lossHistory)
    t.sessionStarts = try m.u64Array(MetaKey.sessionStarts).enumerated().map { i, s in
        guard s <= UInt64(Int.max) else {
            throw ContentError(.invalidValue, "metadata key '\(MetaKey.sessionStarts)': element \(i) is out of range")
        }
        return Int(s)
    }
    let dataKeys = [MetaKey.dataByteCount, MetaKey.dataName, MetaKey.dataSHA256, MetaKey.dataTokenCount]
    let present = dataKeys.filter { m.has($0) }
    if present.count == dataKeys.count {
        t.data = DataIdentity(name: try m.string(MetaKey.dataName), byteCount: try m.int(MetaKey.dataByteCount),
                              tokenCount: try m.int(MetaKey.dataTokenCount), sha256: try m.string(MetaKey.dataSHA256))
    } else if let missing = dataKeys.first(where: { !m.has($0) }), !present.isEmpty {
        throw ContentError(.missingKey, "metadata: missing key '\(missing)' (the data.* keys are all present or all absent)")
    }
    try validateContents(config: config, vocabulary: vocabulary, training: t)
    return (config, vocabulary, t, toolVersion)
}

/// The `trace.*` keys of a trace file, or nil when `trace.step` is absent (a checkpoint).
/// Checks: B ≥ 1, 1 ≤ S ≤ model.context, N ≤ B·S, step = train.step + 1.
func decodeTraceMetadata(_ items: [MetaItem], config: ModelConfig, training: TrainingState) throws -> TraceInfo? {
    let m = MetadataTable(items)
    guard m.has(MetaKey.traceStep) else { return nil }
    var r = TraceInfo(step: try m.int(MetaKey.traceStep), batchSize: try m.int(MetaKey.traceBatchSize),
                      seqLen: try m.int(MetaKey.traceSeqLen))
    r.targetCount = try m.int(MetaKey.traceTargetCount)
    r.loss = try m.f64(MetaKey.traceLoss)
    r.gradNorm = try m.f64(MetaKey.traceGradNorm)
    r.learningRate = try m.f64(MetaKey.traceLearningRate)
    try validateTrace(r, config: config, training: training)
    return r
}

func validateTrace(_ r: TraceInfo, config: ModelConfig, training: TrainingState) throws {
    guard r.step == training.step + 1 else {
        throw ContentError(.invalidValue, "metadata key '\(MetaKey.traceStep)': \(r.step), expected train.step + 1 = \(training.step + 1)")
    }
    guard r.batchSize >= 1, r.batchSize <= 1 << 20 else {
        throw ContentError(.invalidValue, "metadata key '\(MetaKey.traceBatchSize)': \(r.batchSize) is not in 1...1048576")
    }
    guard r.seqLen >= 1, r.seqLen <= config.context else {
        throw ContentError(.invalidValue, "metadata key '\(MetaKey.traceSeqLen)': \(r.seqLen) is not in 1...model.context (\(config.context))")
    }
    guard r.targetCount >= 0, r.targetCount <= r.batchSize * r.seqLen else {
        throw ContentError(.invalidValue, "metadata key '\(MetaKey.traceTargetCount)': \(r.targetCount) is not in 0...B·S")
    }
}

/// Semantic checks on the non-tensor state, naming the metadata key at fault.
func validateContents(config: ModelConfig, vocabulary: Vocabulary, training t: TrainingState) throws {
    do { try config.validate() } catch let e as ConfigError {
        throw ContentError(.invalidValue, "metadata key '\(MetaKey.forConfigField(e.field))': \(e.message)")
    }
    do { try ContentRules.checkVocabulary(vocabulary, vocabSize: config.vocabSize) } catch let e as ContentRuleError {
        throw ContentError(.invalidValue, "metadata key '\(e.field)': \(e.message)")
    }
    try validateBPEVocabulary(vocabulary)
    do { try t.optimizer.validate() } catch let e as ConfigError {
        throw ContentError(.invalidValue, "metadata key '\(MetaKey.forConfigField(e.field))': \(e.message)")
    }
    let rng = t.rng
    guard rng.words.count == 624 else {
        throw ContentError(.invalidValue, "metadata key '\(MetaKey.rngWords)': \(rng.words.count) words, expected 624")
    }
    guard (0...624).contains(rng.index) else {
        throw ContentError(.invalidValue, "metadata key '\(MetaKey.rngIndex)': \(rng.index) is outside 0...624")
    }
    guard rng.words.contains(where: { $0 != 0 }) else {
        throw ContentError(.invalidValue, "metadata key '\(MetaKey.rngWords)': all words are zero")
    }
    if let g = rng.gaussNext, !g.isFinite {
        throw ContentError(.invalidValue, "metadata key '\(MetaKey.rngGaussNext)': \(g) is not finite")
    }
    precondition(rng.isValid)
    do {
        try ContentRules.checkProgress(step: t.step, tokensSeen: t.tokensSeen, lossCount: t.lossHistory.count,
                                       sessionStarts: t.sessionStarts, batchSize: t.batchSize, context: config.context)
    } catch let e as ContentRuleError {
        throw ContentError(.invalidValue, "metadata key '\(e.field)': \(e.message)")
    }
    func nonNegative(_ key: String, _ v: Int) throws {
        guard v >= 0 else { throw ContentError(.invalidValue, "metadata key '\(key)': \(v) is negative") }
    }
    if let d = t.data {
        try nonNegative(MetaKey.dataByteCount, d.byteCount)
        try nonNegative(MetaKey.dataTokenCount, d.tokenCount)
        guard d.name.utf8.count <= FormatLimits.maxStringLength else {
            throw ContentError(.invalidValue, "metadata key '\(MetaKey.dataName)': longer than \(FormatLimits.maxStringLength) bytes")
        }
        let hex = d.sha256.utf8
        guard hex.count == 64, hex.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            throw ContentError(.invalidValue, "metadata key '\(MetaKey.dataSHA256)': not 64 lowercase hex digits")
        }
    }
}

/// Checks the tensor list against the config: every parameter of `ParameterLayout` with
/// its shape, `adam_m.` and `adam_v.` copies of each, role/prefix agreement, and `other`
/// tensors that clash with no canonical name. Names are already known to be unique.
func validateTensorSet(_ tensors: [(name: String, role: TensorRole, shape: [Int])], config: ModelConfig,
                       trace: TraceInfo? = nil) throws {
    if let trace { return try validateTraceTensorSet(tensors, config: config, trace: trace) }
    // The layout and the table below grow with the config's layer count (at most 1024
    // layers: about 37 000 entries), not with the file; the largest buffer is the table.
    ReaderAllocationMeter.note(3 * canonicalTensorCount(config) * (MemoryLayout<TensorSlot>.stride + 16))
    let layout = ParameterLayout(config: config)
    var expected: [String: (TensorRole, [Int])] = [:]
    for slot in layout.slots {
        for role in [TensorRole.parameter, .adamM, .adamV] {
            expected[role.namePrefix + slot.name] = (role, slot.shape)
        }
    }
    var seen = Set<String>()
    for t in tensors {
        if let (role, shape) = expected[t.name].map({ ($0.0, $0.1) }) {
            guard t.role == role else {
                throw ContentError(.unexpectedTensor, "tensor \(quotedName(t.name)): role \(t.role.label), expected \(role.label)")
            }
            guard t.shape == shape else {
                throw ContentError(.tensorShape, "tensor \(quotedName(t.name)): shape \(t.shape), expected \(shape) for this config")
            }
            seen.insert(t.name)
        } else {
            guard t.role == .other else {
                throw ContentError(.unexpectedTensor, "tensor \(quotedName(t.name)): role \(t.role.label) but not a tensor of this config"
                                   + (t.role.isTraceRole ? " (trace roles need a trace file: no trace.step)" : ""))
            }
            guard !t.name.hasPrefix(TensorRole.adamM.namePrefix), !t.name.hasPrefix(TensorRole.adamV.namePrefix) else {
                throw ContentError(.unexpectedTensor, "tensor \(quotedName(t.name)): role other may not use a moment prefix")
            }
        }
    }
    for role in [TensorRole.parameter, .adamM, .adamV] {
        for slot in layout.slots where !seen.contains(role.namePrefix + slot.name) {
            throw ContentError(.missingTensor, "tensor '\(role.namePrefix + slot.name)': missing (\(role.label) of this config)")
        }
    }
}

/// The tensor set of a trace (spec/TRACE.md): for every parameter N, its gradient `N`
/// (role gradient) and `update.N` (role update) with N's shape; `batch.tokens` and
/// `batch.targets` (role other, (B, S)); activations named `act.*`, their gradients
/// `grad.*` (the stage list and shapes are checked by tt-ckpt's tests, not here); no
/// parameter or moment tensors.
func validateTraceTensorSet(_ tensors: [(name: String, role: TensorRole, shape: [Int])], config: ModelConfig,
                            trace: TraceInfo) throws {
    ReaderAllocationMeter.note(2 * canonicalTensorCount(config) * (MemoryLayout<TensorSlot>.stride + 16))
    let layout = ParameterLayout(config: config)
    var expected: [String: (TensorRole, [Int])] = [:]
    for slot in layout.slots {
        expected[slot.name] = (.gradient, slot.shape)
        expected[TensorRole.update.namePrefix + slot.name] = (.update, slot.shape)
    }
    let batchShape = [trace.batchSize, trace.seqLen]
    expected[TraceInfo.tokensName] = (.other, batchShape)
    expected[TraceInfo.targetsName] = (.other, batchShape)
    var seen = Set<String>()
    for t in tensors {
        if let (role, shape) = expected[t.name].map({ ($0.0, $0.1) }) {
            guard t.role == role else {
                throw ContentError(.unexpectedTensor, "tensor \(quotedName(t.name)): role \(t.role.label), expected \(role.label) in a trace")
            }
            guard t.shape == shape else {
                throw ContentError(.tensorShape, "tensor \(quotedName(t.name)): shape \(t.shape), expected \(shape) in this trace")
            }
            seen.insert(t.name)
            continue
        }
        switch t.role {
        case .activation, .activationGrad:
            guard t.name.hasPrefix(t.role.namePrefix) else {
                throw ContentError(.unexpectedTensor, "tensor \(quotedName(t.name)): role \(t.role.label) needs a name starting with '\(t.role.namePrefix)'")
            }
        case .other:
            for prefix in ["act.", "grad.", "update.", "adam_m.", "adam_v."] where t.name.hasPrefix(prefix) {
                throw ContentError(.unexpectedTensor, "tensor \(quotedName(t.name)): role other may not use the prefix '\(prefix)'")
            }
        default:
            throw ContentError(.unexpectedTensor, "tensor \(quotedName(t.name)): role \(t.role.label) but not a tensor of this trace")
        }
    }
    let required = layout.slots.flatMap { [$0.name, TensorRole.update.namePrefix + $0.name] } + [TraceInfo.tokensName, TraceInfo.targetsName]
    for name in required where !seen.contains(name) {
        throw ContentError(.missingTensor, "tensor '\(name)': missing (\(expected[name]!.0.label) of this trace)")
    }
}

/// The number of tensors in `ParameterLayout(config:)`, without building it (spec §5):
/// tok_emb, pos_emb, lm_head (not gpt2), and per layer 10 (tutorial) or 12 (gpt, gpt2),
/// plus ln_f (gpt, gpt2).
func canonicalTensorCount(_ config: ModelConfig) -> Int {
    switch config.arch {
    case .tutorial: return 3 + 10 * config.nLayers
    case .gpt: return 5 + 12 * config.nLayers
    case .gpt2: return 4 + 12 * config.nLayers
    }
}
