import TTCore
import TTEngine
import TTFormat
/// A model with its training state: built fresh from a seed or from a checkpoint, stepped
/// on batches, and snapshotted back into a `Checkpoint`.
///
/// Snapshot tensor order: the parameters in `ParameterLayout` order, then `adam_m.<name>`
/// in the same order, then `adam_v.<name>`.
public final class TrainingSession {
    public let model: Model
    public let vocabulary: Vocabulary
    /// Everything but the tensors. `state.rng` is refreshed from `rng` by `snapshot()`.
    public var state: TrainingState
    /// The batch generator, continued from the checkpoint.
    public var rng: PythonRandom
    /// The last batch `step` trained on; its storage is reused by the next step.
    public private(set) var batch = Batch(tokens: [], targets: [], batchSize: 0, seqLen: 0)

    /// A freshly initialized checkpoint: `PythonRandom(seed)` draws the weights
    /// (`Model.initializeWeights`) and is then stored, so batch windows continue the same
    /// sequence. Moments are zero, step 0, no sessions.
    /// - Throws: `ConfigError` for a bad config, `InputError` when the vocabulary size
    ///   differs from `config.vocabSize`.
    public static func initialCheckpoint(config: ModelConfig, vocabulary: Vocabulary, seed: UInt64,
                                         data: DataIdentity?) throws -> Checkpoint {
        try config.validate()
        guard vocabulary.tokens.count == config.vocabSize else {
            throw ConfigError(field: "vocab_size", message: "\(config.vocabSize) does not match the vocabulary's \(vocabulary.tokens.count) tokens")
        }
        let model = Model(config: config, maxBatchSize: 1)
        var rng = PythonRandom(seed: seed)
        model.initializeWeights(rng: &rng)
        var state = TrainingState(rng: rng.state)
        state.seed = seed
        state.data = data
        return TrainingSession(model: model, vocabulary: vocabulary, state: state, rng: rng).snapshot()
    }

    private init(model: Model, vocabulary: Vocabulary, state: TrainingState, rng: PythonRandom) {
        self.model = model
        self.vocabulary = vocabulary
        self.state = state
        self.rng = rng
    }

    /// Loads every parameter and both moments of `checkpoint` into a new `Model` sized for
    /// `maxBatchSize` sequences.
    /// - Parameter source: the file named in error messages.
    /// - Throws: `InputError(source, ...)` for a config that does not validate, a vocabulary
    ///   of the wrong size, a missing tensor or one of the wrong shape, or an invalid
    ///   generator state. Tensors of role `other` are ignored (and not written back).
    public init(checkpoint: Checkpoint, maxBatchSize: Int, source: String) throws {
        let config = checkpoint.config
        do { try config.validate() } catch let e as ConfigError {
            throw InputError(source, "bad config: \(e.description)")
        }
        guard checkpoint.vocabulary.tokens.count == config.vocabSize else {
            throw InputError(source, "vocabulary has \(checkpoint.vocabulary.tokens.count) tokens but vocab_size is \(config.vocabSize)")
        }
        guard checkpoint.training.rng.isValid else { throw InputError(source, "invalid generator state") }
        // Bounds before allocating: the same as init's, so any model init made loads.
        let parameters = ParameterLayout.parameterCount(config)
        guard parameters <= InitRequest.maxParameters else {
            throw InputError(source, "\(parameters) parameters is more than the limit \(InitRequest.maxParameters)")
        }
        let activations = Model.activationCount(config: config, maxBatchSize: max(1, maxBatchSize))
        guard activations <= TrainingLimits.maxActivationFloats else {
            throw InputError(source, "this model needs \(activations / (1 << 18)) MiB of activations, more than the limit \(TrainingLimits.maxActivationFloats / (1 << 18)) MiB")
        }
        let model = Model(config: config, maxBatchSize: max(1, maxBatchSize))
        var byName: [String: NamedTensor] = [:]
        for t in checkpoint.tensors where byName[t.name] == nil { byName[t.name] = t }
        for role in [TensorRole.parameter, .adamM, .adamV] {
            let buffer = model.buffer(role)!
            for slot in model.layout.slots {
                let name = role.namePrefix + slot.name
                guard let tensor = byName[name] else { throw InputError(source, "missing tensor \(name)") }
                guard tensor.shape == slot.shape, tensor.values.count == slot.count else {
                    throw InputError(source, "tensor \(name) has shape \(tensor.shape), expected \(slot.shape)")
                }
                let view = model.view(buffer, slot)
                _ = view.initialize(from: tensor.values)
            }
        }
        self.model = model
        self.vocabulary = checkpoint.vocabulary
        self.state = checkpoint.training
        self.rng = PythonRandom(state: checkpoint.training.rng)
    }

    /// The whole state as a checkpoint (see the type's tensor order).
    public func snapshot() -> Checkpoint {
        var training = state
        training.rng = rng.state
        var tensors: [NamedTensor] = []
        tensors.reserveCapacity(3 * model.layout.slots.count)
        for role in [TensorRole.parameter, .adamM, .adamV] {
            let buffer = model.buffer(role)!
            for slot in model.layout.slots {
                tensors.append(NamedTensor(name: role.namePrefix + slot.name, role: role, shape: slot.shape,
                                           values: Array(model.view(buffer, slot))))
            }
        }
        return Checkpoint(config: model.config, vocabulary: vocabulary, training: training, tensors: tensors)
    }

    /// Starts a `train` run: records the hyperparameters, batch size and data, and appends
    /// the current step to `sessionStarts`. (`resume` continues the run and calls none of this,
    /// which is why a resumed run is byte-identical to an uninterrupted one.)
    public func beginRun(optimizer: AdamWConfig, batchSize: Int, data: DataIdentity) {
        state.optimizer = optimizer
        state.batchSize = batchSize
        state.data = data
        state.sessionStarts.append(state.step)
    }

    /// The padding id batches use: the vocabulary's `<PAD>` for word vocabularies.
    public var padID: Int32? { vocabulary.padID.map { Int32($0) } }

    /// The sampler for `data` at this session's context and batch size.
    public func sampler(for data: TrainingData) -> BatchSampler {
        BatchSampler(tokens: data.tokens, context: model.config.context, batchSize: state.batchSize, padID: padID)
    }

    /// Draws the next batch (advancing `rng` and `state.windowsDrawn`) and takes one AdamW
    /// step t = state.step + 1; updates step, tokensSeen and lossHistory.
    /// - Precondition: sampler.batchSize ≤ model.maxBatchSize.
    @discardableResult
    public func step(_ sampler: BatchSampler) -> StepResult {
        sampler.fill(&batch, rng: &rng, windowsDrawn: &state.windowsDrawn)
        let t = state.step + 1
        let result = model.trainStep(batch, optimizer: state.optimizer, step: t)
        state.step = t
        state.tokensSeen += batch.targetCount
        state.lossHistory.append(result.loss)
        return result
    }
}

extension TrainingSession {
    /// Refuses data other than what the checkpoint records (when it records any).
    /// - Parameters:
    ///   - subject: what the message names for the offered data (its path, or "built-in data").
    ///   - checkpointPath: the checkpoint, for the message.
    public func verifyData(_ data: TrainingData, subject: String, checkpointPath: String) throws {
        guard let recorded = state.data, !data.matches(recorded) else { return }
        func short(_ d: DataIdentity) -> String {
            "\(d.name), \(d.byteCount) bytes, \(d.tokenCount) tokens, sha256 \(d.sha256.prefix(12))…"
        }
        throw InputError(subject, "is not the data \(checkpointPath) was trained on (recorded: \(short(recorded)); given: \(short(data.identity)))")
    }

    /// The data to train on: the corpus at `path` encoded with this vocabulary, or, with no
    /// path, the built-in tutorial data when the checkpoint records it (or records nothing
    /// and has the tutorial vocabulary).
    /// - Throws: `InputError` for the `.corpus` setting when a corpus is needed and none was given.
    public func resolveData(path: String?, checkpointPath: String) throws -> TrainingData {
        if let path { return try TrainingData.load(corpusAt: path, vocabulary: vocabulary) }
        let recorded = state.data
        if (recorded == nil || recorded?.name == TrainingData.tutorialName) && vocabulary == .tutorial {
            return TrainingData.tutorial()
        }
        if let recorded {
            throw InputError(setting: .corpus, "required: \(checkpointPath) was trained on \(recorded.name); give that file")
        }
        throw InputError(setting: .corpus, "required: \(checkpointPath) has no built-in data; give a corpus to train on")
    }
}

extension TrainingSession {
    /// Reads a checkpoint for `train`, `resume` or `sample`, refusing a model larger than
    /// this tool makes before inflating anything: a small file of well-compressed zeros can
    /// otherwise claim (and the reader would rightly inflate) gigabytes of tensors. Loads
    /// only the tensors a session uses (parameters and both moments; `other` tensors are
    /// skipped unread, as the session ignores them).
    /// Tensors are inflated on `threads` threads (largest first); the result, and the error
    /// reported when several tensors are bad (the first in file order), do not depend on it.
    /// - Throws: the reader's `FormatError`, or `InputError(path, ...)` for a model above
    ///   `InitRequest.maxParameters` parameters.
    public static func loadCheckpoint(path: String, threads: Int = 1) throws -> Checkpoint {
        let reader = try CheckpointReader(path: path)
        let parameters = ParameterLayout.parameterCount(reader.config)
        guard parameters <= InitRequest.maxParameters else {
            throw InputError(path, "\(parameters) parameters is more than the limit \(InitRequest.maxParameters)")
        }
        let used = reader.entries.filter { $0.role != .other }
        let results = UnsafeMutableBufferPointer<Result<[Float], Error>?>.allocate(capacity: used.count)
        results.initialize(repeating: nil)
        defer { results.deinitialize(); results.deallocate() }
        nonisolated(unsafe) let out = results
        forEachLargestFirst(sizes: used.map { Int($0.rawLength) }, threads: threads) { i in
            out[i] = Result { try reader.loadTensor(used[i]) }
        }
        let tensors = try used.indices.map { i in
            NamedTensor(name: used[i].name, role: used[i].role, shape: used[i].shape, values: try results[i]!.get())
        }
        return Checkpoint(config: reader.config, vocabulary: reader.vocabulary, training: reader.training, tensors: tensors)
    }
}
