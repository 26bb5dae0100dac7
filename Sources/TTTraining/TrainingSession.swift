import TTCore
import TTEngine
import TTFormat
/// A model with its training state: built fresh from a seed or from a checkpoint, stepped
/// on batches, and snapshotted back into a `Checkpoint`.
///
/// Snapshot tensor order: the parameters in `ParameterLayout` order, then `adam_m.<name>`
/// in the same order, then `adam_v.<name>`, then the checkpoint's tensors of role `other`
/// in their order (carried through unchanged).
public final class TrainingSession {
    public let model: Model
    public let vocabulary: Vocabulary
    /// Everything but the tensors. `state.rng` is refreshed from `rng` by `snapshot()`.
    public var state: TrainingState
    /// The batch generator, continued from the checkpoint.
    public var rng: PythonRandom
    /// The last batch `step` trained on; its storage is reused by the next step.
    public private(set) var batch = Batch(tokens: [], targets: [], batchSize: 0, seqLen: 0)
    /// The checkpoint's tensors of role `other`: not used by training, written back as they
    /// were (spec §4: "carried through").
    public let otherTensors: [NamedTensor]

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
        self.otherTensors = []
    }

    /// Loads every parameter and both moments of `checkpoint` into a new `Model` sized for
    /// `maxBatchSize` sequences.
    /// - Parameter source: the file named in error messages.
    /// - Throws: `InputError(source, ...)` for a config that does not validate, a vocabulary
    ///   of the wrong size, a missing tensor or one of the wrong shape, an invalid generator
    ///   state, or a parameter that is not finite (`FiniteValues`: a diverged model is
    ///   refused by every command that uses one). Tensors of role `other` are kept as they
    ///   are and written back by `snapshot()`.
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
        guard parameters <= CheckpointBounds.maxParameters else {
            throw InputError(source, "\(parameters) parameters is more than the limit \(CheckpointBounds.maxParameters)")
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
        if FiniteValues.firstNonFinite(UnsafeBufferPointer(model.parameters)) != nil {
            for slot in model.layout.slots {
                try FiniteValues.require(UnsafeBufferPointer(model.view(model.parameters, slot)), tensor: slot.name, source: source)
            }
        }
        self.model = model
        self.vocabulary = checkpoint.vocabulary
        self.state = checkpoint.training
        self.rng = PythonRandom(state: checkpoint.training.rng)
        self.otherTensors = checkpoint.tensors.filter { $0.role == .other }
        rng.mark()  // allocates the undo storage now, not in the first step
    }

    /// The whole state as a checkpoint (see the type's tensor order).
    public func snapshot() -> Checkpoint {
        var training = state
        training.rng = rng.state
        var tensors: [NamedTensor] = []
        tensors.reserveCapacity(3 * model.layout.slots.count + otherTensors.count)
        for role in [TensorRole.parameter, .adamM, .adamV] {
            let buffer = model.buffer(role)!
            for slot in model.layout.slots {
                tensors.append(NamedTensor(name: role.namePrefix + slot.name, role: role, shape: slot.shape,
                                           values: Array(model.view(buffer, slot))))
            }
        }
        tensors.append(contentsOf: otherTensors)
        return Checkpoint(config: model.config, vocabulary: vocabulary, training: training, tensors: tensors)
    }

    /// Refuses AdamW moments holding a value that is not finite: training from them would
    /// make every parameter NaN at the first step. (`init(checkpoint:)` has refused
    /// non-finite parameters already; sampling does not use the moments.)
    /// - Throws: `InputError(source, "tensor 'adam_m.NAME' holds K non-finite values …")`.
    public func requireFiniteMoments(source: String) throws {
        for role in [TensorRole.adamM, .adamV] {
            let buffer = model.buffer(role)!
            guard FiniteValues.firstNonFinite(UnsafeBufferPointer(buffer)) != nil else { continue }
            for slot in model.layout.slots {
                try FiniteValues.require(UnsafeBufferPointer(model.view(buffer, slot)), tensor: role.namePrefix + slot.name, source: source)
            }
        }
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
    ///
    /// A step whose loss or gradient is not finite (the global gradient norm, which AdamW
    /// needs anyway, is finite exactly when every gradient is) is not applied: parameters,
    /// moments and the training state stay as they were after the previous step, the
    /// generator and data cursor included, and `applied` is false. The check costs two
    /// comparisons, and being able to undo the draws a few stores per step
    /// (`PythonRandom.mark`); nothing is allocated in the step.
    /// - Precondition: sampler.batchSize ≤ model.maxBatchSize.
    @discardableResult
    public func step(_ sampler: BatchSampler) -> SessionStepResult {
        rng.mark()
        let windowsBefore = state.windowsDrawn
        sampler.fill(&batch, rng: &rng, windowsDrawn: &state.windowsDrawn)
        let t = state.step + 1
        let loss = model.forward(batch)
        model.backward()
        let sumOfSquares = model.gradientSumOfSquares()
        guard loss.isFinite, sumOfSquares.isFinite else {
            rng.rollBack()
            state.windowsDrawn = windowsBefore
            return SessionStepResult(step: t, loss: loss, gradNorm: Float(sumOfSquares.squareRoot()),
                                     learningRate: state.optimizer.learningRate(atStep: t), applied: false)
        }
        let (lr, norm) = model.applyAdamW(state.optimizer, step: t, gradientSumOfSquares: sumOfSquares)
        state.step = t
        state.tokensSeen += batch.targetCount
        state.lossHistory.append(loss)
        return SessionStepResult(step: t, loss: loss, gradNorm: norm, learningRate: lr, applied: true)
    }
}

/// What `TrainingSession.step` did.
public struct SessionStepResult: Equatable, Sendable {
    /// The optimizer step (AdamW t) this was.
    public var step: Int
    /// Mean cross-entropy over the batch's targets, before the update.
    public var loss: Float
    /// Global ℓ2 norm of the gradient before clipping (the engine's `StepResult.gradNorm`).
    public var gradNorm: Float
    /// The learning rate the step used (or would have used).
    public var learningRate: Double
    /// False when the loss or the gradient was not finite and the step was not applied.
    public var applied: Bool
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
    /// Reads a checkpoint for `train`, `resume`, `sample` or `eval`, refusing one beyond
    /// `CheckpointBounds` before inflating anything: a small file of well-compressed zeros
    /// can otherwise claim (and the reader would rightly inflate) gigabytes of tensors.
    /// Loads the parameters and both moments, and with `includeOther` (training, which
    /// carries them through) the tensors of role `other`; without it those are skipped unread.
    /// Tensors are inflated on `threads` threads (largest first); the result, and the error
    /// reported when several tensors are bad (the first in file order), do not depend on it.
    /// - Throws: the reader's `FormatError`, or `InputError(path, ...)` for a checkpoint
    ///   beyond the bounds.
    public static func loadCheckpoint(path: String, includeOther: Bool = false, threads: Int = 1) throws -> Checkpoint {
        let reader = try CheckpointReader(path: path)
        try CheckpointBounds.check(reader)
        let tensors = try reader.loadTensors(threads: threads) { includeOther || $0.role != .other }
        return Checkpoint(config: reader.config, vocabulary: reader.vocabulary, training: reader.training, tensors: tensors)
    }
}
