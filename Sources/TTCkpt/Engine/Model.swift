/// A batch of B sequences of length S ≤ T, row-major (B, S).
public struct Batch: Equatable, Sendable {
    /// Input token ids, (B, S).
    public var tokens: [Int32]
    /// Target ids, (B, S); `Batch.ignore` marks positions the loss skips (PAD targets).
    public var targets: [Int32]
    public var batchSize: Int
    public var seqLen: Int
    public static let ignore: Int32 = -1

    public init(tokens: [Int32], targets: [Int32], batchSize: Int, seqLen: Int) {
        precondition(tokens.count == batchSize * seqLen && targets.count == tokens.count)
        self.tokens = tokens
        self.targets = targets
        self.batchSize = batchSize
        self.seqLen = seqLen
    }

    /// Count of targets the loss is averaged over.
    public var targetCount: Int { targets.reduce(0) { $0 + ($1 == Batch.ignore ? 0 : 1) } }
}

/// What one optimizer step did.
public struct StepResult: Equatable, Sendable {
    /// Mean cross-entropy over the batch's targets, before the update.
    public var loss: Float
    /// Global ℓ2 norm of the gradient, before clipping.
    public var gradNorm: Float
    /// The learning rate the step used.
    public var learningRate: Double
}

/// The model and its training buffers. Parameters, gradients and the AdamW moments each
/// live in one contiguous allocation laid out by `ParameterLayout`; activations are
/// allocated once for `maxBatchSize` × T. No allocation happens inside a step.
public final class Model {
    public let config: ModelConfig
    public let layout: ParameterLayout
    public let maxBatchSize: Int

    /// (layout.totalCount) each.
    public let parameters: UnsafeMutableBufferPointer<Float>
    public let gradients: UnsafeMutableBufferPointer<Float>
    public let adamM: UnsafeMutableBufferPointer<Float>
    public let adamV: UnsafeMutableBufferPointer<Float>

    /// Allocates zeroed parameters, gradients, moments and activations.
    /// - Precondition: `config.validate()` passes and `maxBatchSize ≥ 1`.
    public init(config: ModelConfig, maxBatchSize: Int = 1) {
        self.config = config
        self.layout = ParameterLayout(config: config)
        self.maxBatchSize = maxBatchSize
        func zeroed(_ n: Int) -> UnsafeMutableBufferPointer<Float> {
            let p = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
            p.initialize(repeating: 0)
            return p
        }
        parameters = zeroed(layout.totalCount)
        gradients = zeroed(layout.totalCount)
        adamM = zeroed(layout.totalCount)
        adamV = zeroed(layout.totalCount)
    }

    deinit {
        parameters.deallocate()
        gradients.deallocate()
        adamM.deallocate()
        adamV.deallocate()
    }

    /// The buffer holding tensors of `role` (.other has none).
    public func buffer(_ role: TensorRole) -> UnsafeMutableBufferPointer<Float>? {
        switch role {
        case .parameter: return parameters
        case .adamM: return adamM
        case .adamV: return adamV
        case .other: return nil
        }
    }

    /// The view of one slot in a buffer.
    public func view(_ buffer: UnsafeMutableBufferPointer<Float>, _ slot: TensorSlot) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: buffer[slot.offset..<(slot.offset + slot.count)])
    }

    /// Draws initial weights from `rng`, consuming it exactly as the series does.
    /// tutorial: every slot but the LayerNorm ones gets `gauss(0, 0.1)` per element in
    /// layout order, γ = 1, β = 0. gpt: weights `gauss(0, 0.02)` in layout order, biases 0,
    /// γ = 1, β = 0. Moments are zeroed.
    public func initializeWeights(rng: inout PythonRandom) {
        fatalError("Model.initializeWeights: not implemented yet (issue 2)")
    }

    /// Runs the model on `batch` and returns the mean cross-entropy over its non-ignored
    /// targets (0 when there are none). Keeps the activations `backward()` needs and the
    /// logits for `logits(batch:position:)`.
    /// - Precondition: batchSize ≤ maxBatchSize, seqLen ≤ T, tokens in 0..<V.
    public func forward(_ batch: Batch) -> Float {
        fatalError("Model.forward: not implemented yet (issue 2)")
    }

    /// Logits (V) at sequence `b`, position `t` of the last `forward`.
    public func logits(batch b: Int, position t: Int) -> UnsafeBufferPointer<Float> {
        fatalError("Model.logits: not implemented yet (issue 2)")
    }

    /// Overwrites `gradients` with d(mean loss)/dθ for the last `forward`.
    public func backward() {
        fatalError("Model.backward: not implemented yet (issue 2)")
    }

    /// Clips (if set) and applies one AdamW update with step number `t` (1-based) to every
    /// tensor. Returns the learning rate used and the gradient norm before clipping.
    public func applyAdamW(_ optimizer: AdamWConfig, step t: Int) -> (learningRate: Double, gradNorm: Float) {
        fatalError("Model.applyAdamW: not implemented yet (issue 2)")
    }

    /// forward + backward + applyAdamW.
    public func trainStep(_ batch: Batch, optimizer: AdamWConfig, step t: Int) -> StepResult {
        let loss = forward(batch)
        backward()
        let (lr, norm) = applyAdamW(optimizer, step: t)
        return StepResult(loss: loss, gradNorm: norm, learningRate: lr)
    }
}
