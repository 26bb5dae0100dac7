import TTCore
import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

    /// Activations, backward scratch and the packed QKV weights, as views at the offsets
    /// of `acts` (one allocation).
    let acts: ActivationLayout
    let actBuffer: UnsafeMutablePointer<Float>
    /// The last forward's inputs and targets, (maxBatchSize · T) each.
    let tokenBuffer: UnsafeMutablePointer<Int32>
    let targetBuffer: UnsafeMutablePointer<Int32>
    /// Parameter offsets, resolved once.
    let offsets: ParameterOffsets
    /// Per-block partial sums of squares for the gradient norm (one per `normBlock` floats).
    let normPartials: UnsafeMutablePointer<Double>
    static let normBlock = 4096

    /// The kernels every op runs on, with the pool and threshold they split work by.
    var kernels: Kernels
    /// The single-threaded fused step for small shapes (SmallModelPath.swift); nil when
    /// this model never qualifies.
    private(set) var smallPath: SmallModelPath? = nil

    /// Threads a step runs on (the caller's included), clamped to 1...256. Defaults to
    /// `ThreadPool.defaultThreadCount`: `TTCKPT_THREADS` when set (1...256), else the
    /// number of active CPUs, on the shared pool. Setting it gives the model a pool of its
    /// own (none for 1). Results are bit-identical for every value.
    public var threadCount: Int {
        get { kernels.pool.threadCount }
        set {
            let n = min(max(newValue, 1), 256)
            kernels.pool = n == 1 ? .serial : ThreadPool(threads: n)
        }
    }

    /// Work (roughly, multiply-adds) under which an op runs on the calling thread. Tests
    /// set it to 0 to push even tiny shapes through the threaded paths.
    var parallelThreshold: Int {
        get { kernels.threshold }
        set { kernels.threshold = max(0, newValue) }
    }

    /// Called by `backward()` at each `BackwardPoint` (ModelTrace.swift); nil except while
    /// `traceForwardBackward` runs.
    var backwardObserver: ((BackwardPoint) -> Void)?

    /// Shape of the last forward (0 before any) and its count of non-ignored targets.
    var lastBatchSize = 0
    var lastSeqLen = 0
    var lastTargetCount = 0
    /// True when the activations are those of the last `forward` (a `decode` changes them).
    var backwardReady = false

    /// Positions of one sequence whose keys and values the activation buffers hold (the KV
    /// cache): S after a `forward` of one sequence of length S, one more after each
    /// `decode`; 0 after a forward of several sequences.
    public private(set) var cachedPositions = 0

    /// The first position with logits: 0 after a `forward`, the last one after a `prefill`
    /// (decodes then add theirs).
    var firstLogitsPosition = 0

    /// The forward weights in the decode layout (`Kernels.decodePack`) once
    /// `prepareDecoding()` made room for them, at `decodeOffsets`: layer l's QKV, output
    /// projection, FFN in and FFN out at 4l...4l+3, the head at 4L.
    private var decodeWeights: UnsafeMutableBufferPointer<Float>? = nil
    private var decodeOffsets: [Int] = []
    /// True when `decodeWeights` holds the weights of the last `forward` or `prefill`.
    private var decodeWeightsCurrent = false {
        didSet { if !decodeWeightsCurrent { headScreen?.current = false } }
    }
    /// The greedy head's screen (`prepareDecoding(greedy: true)`), built from the head's
    /// decode layout at the first `decodeGreedy` after the weights change.
    private var headScreen: HeadScreen? = nil
    /// Positions from this one on may hold only some of their logits: those a
    /// `decodeGreedy` computed (Int.max: none).
    private var firstScreenedPosition = Int.max

    /// Floats the activation buffer of `Model(config:maxBatchSize:)` would allocate
    /// (activations, backward scratch and packed QKV weights; Int.max if the count
    /// overflows). It grows with maxBatchSize·H·T², so check it before building a model
    /// from an untrusted config.
    public static func activationCount(config: ModelConfig, maxBatchSize: Int) -> Int {
        ActivationLayout(config: config, maxBatchSize: maxBatchSize).total
    }

    /// Allocates zeroed parameters, gradients, moments and activations.
    /// - Precondition: `config.validate()` passes and `maxBatchSize ≥ 1`.
    public init(config: ModelConfig, maxBatchSize: Int = 1) {
        precondition((try? config.validate()) != nil, "invalid model config")
        precondition(maxBatchSize >= 1, "maxBatchSize must be at least 1")
        self.config = config
        self.layout = ParameterLayout(config: config)
        self.maxBatchSize = maxBatchSize
        parameters = Model.zeroedFloats(layout.totalCount)
        gradients = Model.zeroedFloats(layout.totalCount)
        adamM = Model.zeroedFloats(layout.totalCount)
        adamV = Model.zeroedFloats(layout.totalCount)
        acts = ActivationLayout(config: config, maxBatchSize: maxBatchSize)
        precondition(acts.total < Int.max / 4, "activation buffer size overflows")
        actBuffer = Model.zeroedFloats(acts.total).baseAddress!
        let rows = maxBatchSize * config.context
        tokenBuffer = .allocate(capacity: rows)
        tokenBuffer.initialize(repeating: 0, count: rows)
        targetBuffer = .allocate(capacity: rows)
        targetBuffer.initialize(repeating: Batch.ignore, count: rows)
        offsets = ParameterOffsets(layout: layout)
        let blocks = (layout.totalCount + Model.normBlock - 1) / Model.normBlock
        normPartials = .allocate(capacity: max(1, blocks))
        normPartials.initialize(repeating: 0, count: max(1, blocks))
        kernels = Kernels()
        kernels.packScratch = Kernels.PackScratch(base: actBuffer + acts.bpack, count: acts.bpackCount)
        smallPath = SmallModelPath(model: self)
    }

    /// `n` zero floats from `ck_zeroed_alloc`: large buffers are fresh mappings with
    /// transparent huge pages (a medium model's 250 MB took 60 000 page faults and a
    /// memset before, a few hundred faults now). Freed by `freeFloats`.
    static func zeroedFloats(_ n: Int) -> UnsafeMutableBufferPointer<Float> {
        guard let p = zeroedFloatsIfAvailable(n) else { fatalError("out of memory allocating \(n) floats") }
        return p
    }

    /// `zeroedFloats`, or nil when the memory is not there.
    static func zeroedFloatsIfAvailable(_ n: Int) -> UnsafeMutableBufferPointer<Float>? {
        guard let raw = ck_zeroed_alloc(max(n, 1) * MemoryLayout<Float>.stride) else { return nil }
        return UnsafeMutableBufferPointer(start: raw.bindMemory(to: Float.self, capacity: max(n, 1)), count: n)
    }

    static func freeFloats(_ p: UnsafeMutableBufferPointer<Float>) {
        ck_zeroed_free(p.baseAddress, max(p.count, 1) * MemoryLayout<Float>.stride)
    }

    deinit {
        Model.freeFloats(parameters)
        Model.freeFloats(gradients)
        Model.freeFloats(adamM)
        Model.freeFloats(adamV)
        Model.freeFloats(UnsafeMutableBufferPointer(start: actBuffer, count: acts.total))
        if let decodeWeights { Model.freeFloats(decodeWeights) }
        tokenBuffer.deallocate()
        targetBuffer.deallocate()
        normPartials.deallocate()
    }

    /// The buffer holding tensors of `role` (.other and the trace roles have none).
    public func buffer(_ role: TensorRole) -> UnsafeMutableBufferPointer<Float>? {
        switch role {
        case .parameter: return parameters
        case .adamM: return adamM
        case .adamV: return adamV
        case .other, .activation, .activationGrad, .gradient, .update: return nil
        }
    }

    /// The view of one slot in a buffer.
    public func view(_ buffer: UnsafeMutableBufferPointer<Float>, _ slot: TensorSlot) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: buffer[slot.offset..<(slot.offset + slot.count)])
    }

    /// Draws initial weights from `rng`, consuming it exactly as the series does.
    /// tutorial: every slot but the LayerNorm ones gets `gauss(0, 0.1)` per element in
    /// layout order, γ = 1, β = 0. gpt: weights `gauss(0, 0.02)` in layout order, biases 0,
    /// γ = 1, β = 0. gpt2 (GPT-2's and nanoGPT's rule): the same, except that the two
    /// residual output projections `attn.wo` and `ffn.w2` get `gauss(0, 0.02/√(2L))`.
    /// Moments are zeroed.
    public func initializeWeights(rng: inout PythonRandom) {
        let sigma = config.arch == .tutorial ? 0.1 : 0.02
        let residualSigma = config.arch == .gpt2 ? 0.02 / (2 * Double(config.nLayers)).squareRoot() : sigma
        for slot in layout.slots {
            let w = view(parameters, slot)
            switch slot.kind {
            case .weight:
                let s = slot.name.hasSuffix(".attn.wo") || slot.name.hasSuffix(".ffn.w2") ? residualSigma : sigma
                for i in 0..<slot.count { w[i] = Float(rng.gauss(mu: 0, sigma: s)) }
            case .bias:
                if config.arch == .tutorial {
                    for i in 0..<slot.count { w[i] = Float(rng.gauss(mu: 0, sigma: sigma)) }
                } else {
                    w.update(repeating: 0)
                }
            case .normGain:
                w.update(repeating: 1)
            case .normBias:
                w.update(repeating: 0)
            }
        }
        gradients.update(repeating: 0)
        adamM.update(repeating: 0)
        adamV.update(repeating: 0)
    }

    /// Runs the model on `batch` and returns the mean cross-entropy over its non-ignored
    /// targets (0 when there are none). Keeps the activations `backward()` needs and the
    /// logits for `logits(batch:position:)`.
    /// - Precondition: batchSize ≤ maxBatchSize, seqLen ≤ T, tokens in 0..<V.
    public func forward(_ batch: Batch) -> Float {
        let B = batch.batchSize, T = batch.seqLen
        let V = config.vocabSize
        precondition(B >= 1 && B <= maxBatchSize, "batch size \(B) outside 1...\(maxBatchSize)")
        precondition(T >= 1 && T <= config.context, "sequence length \(T) outside 1...\(config.context)")
        let BT = B * T
        var count = 0
        for i in 0..<BT {
            let x = batch.tokens[i], y = batch.targets[i]
            precondition(x >= 0 && Int(x) < V, "token id out of range")
            precondition(y == Batch.ignore || (y >= 0 && Int(y) < V), "target id out of range")
            tokenBuffer[i] = x
            targetBuffer[i] = y
            if y != Batch.ignore { count += 1 }
        }
        decodeWeightsCurrent = false
        return run(batchSize: B, seqLen: T, targetCount: count)
    }

    /// A forward on one sequence that computes the logits at its last position only (no
    /// loss), the start of a KV-cached generation: the same activations and KV cache as
    /// `forward`, and the same logits at that position bit for bit, without the head's
    /// product for the other positions (on GPT-2 124M with a 64-token prompt, a third of
    /// the work). `backward()` is refused until the next `forward`.
    /// - Precondition: 1 ≤ tokens.count ≤ T, tokens in 0..<V.
    public func prefill(_ tokens: [Int32]) -> UnsafeBufferPointer<Float> {
        let T = tokens.count, V = config.vocabSize
        precondition(T >= 1 && T <= config.context, "sequence length \(T) outside 1...\(config.context)")
        for (i, x) in tokens.enumerated() {
            precondition(x >= 0 && Int(x) < V, "token id out of range")
            tokenBuffer[i] = x
            targetBuffer[i] = Batch.ignore
        }
        decodeWeightsCurrent = false
        _ = run(batchSize: 1, seqLen: T, targetCount: 0, lastLogitsOnly: true)
        firstLogitsPosition = T - 1
        backwardReady = false
        return logits(batch: 0, position: T - 1)
    }

    /// `forward` on the tokens and targets already in `tokenBuffer` and `targetBuffer`; with
    /// `lastLogitsOnly` (one sequence), the head runs on the last position only, and there is
    /// no loss (0).
    private func run(batchSize B: Int, seqLen T: Int, targetCount count: Int, lastLogitsOnly lastOnly: Bool = false) -> Float {
        let (C, V, H, F, L) = (config.dModel, config.vocabSize, config.nHeads, config.dFF, config.nLayers)
        let BT = B * T
        lastBatchSize = B
        lastSeqLen = T
        lastTargetCount = count
        backwardReady = true
        cachedPositions = B == 1 ? T : 0
        firstScreenedPosition = Int.max
        if !lastOnly { firstLogitsPosition = 0 }
        if let small = smallPath, small.handles(batchSize: B, seqLen: T, kernels: kernels) {
            let total = small.forward(batchSize: B, seqLen: T, targetCount: count)
            return count > 0 ? Float(total / Double(count)) : 0
        }

        let p = parameters.baseAddress!
        let a = actBuffer
        let o = offsets
        let eps = ModelConfig.layerNormEpsilon
        packQKVWeights()
        // A prefill that decodes can follow writes the decode layout as it goes: the GEMM
        // packs each weight there and reads it from there (matrix m of `decodeOffsets`).
        let keep = lastOnly && T < config.context && !decodeWeightsCurrent && kernels.hasDecodeProduct
            ? decodeWeights?.baseAddress : nil
        func kept(_ m: Int) -> UnsafeMutablePointer<Float>? { keep.map { $0 + decodeOffsets[m] } }

        encoderForward(a + acts.encoded, tokenBuffer, p + o.tokEmb, p + o.posEmb, B, T, C, kernels)
        var x = UnsafeMutablePointer(a + acts.encoded)  // (B, T, C): the current layer's input
        for l in 0..<L {
            let w = o.layers[l]
            let la = a + l * acts.layerStride
            let (wqkv, bqkv, bo) = attentionWeights(l)
            switch config.arch {
            case .tutorial:
                kernels.matmulForward(la + acts.qkv, x, wqkv, nil, BT, 3 * C, C, keep: kept(4 * l))
                attentionForward(la + acts.atty, la + acts.att, la + acts.qkv, B, T, C, H, kernels)
                kernels.matmulForward(la + acts.attproj, la + acts.atty, p + w.wo, nil, BT, C, C, keep: kept(4 * l + 1))   // mh
                ffnInput(la, la + acts.attproj, w, keep: kept(4 * l + 2), BT)
                kernels.matmulForward(la + acts.fcproj, la + acts.fchGelu, p + w.w2, p + w.b2, BT, C, F,
                                      keep: kept(4 * l + 3))
                residualForward(la + acts.res3, la + acts.attproj, la + acts.fcproj, BT * C, kernels)  // r = mh + FFN(mh)
                layernormForward(la + acts.lnOut, la + acts.lnMean, la + acts.lnRstd, la + acts.res3,
                                 p + w.ln1Gamma, p + w.ln1Beta, BT, C, eps: eps, kernels)
                x = la + acts.lnOut
            case .gpt, .gpt2:
                layernormForward(la + acts.ln1, la + acts.ln1Mean, la + acts.ln1Rstd, x,
                                 p + w.ln1Gamma, p + w.ln1Beta, BT, C, eps: eps, kernels)
                kernels.matmulForward(la + acts.qkv, la + acts.ln1, wqkv, bqkv, BT, 3 * C, C, keep: kept(4 * l))
                attentionForward(la + acts.atty, la + acts.att, la + acts.qkv, B, T, C, H, kernels)
                kernels.matmulForward(la + acts.attproj, la + acts.atty, p + w.wo, bo, BT, C, C, keep: kept(4 * l + 1))
                residualForward(la + acts.res2, x, la + acts.attproj, BT * C, kernels)
                layernormForward(la + acts.ln2, la + acts.ln2Mean, la + acts.ln2Rstd, la + acts.res2,
                                 p + w.ln2Gamma, p + w.ln2Beta, BT, C, eps: eps, kernels)
                ffnInput(la, la + acts.ln2, w, keep: kept(4 * l + 2), BT)
                kernels.matmulForward(la + acts.fcproj, la + acts.fchGelu, p + w.w2, p + w.b2, BT, C, F,
                                      keep: kept(4 * l + 3))
                residualForward(la + acts.res3, la + acts.res2, la + acts.fcproj, BT * C, kernels)
                x = la + acts.res3
            }
        }
        if config.arch.isPreLN {
            layernormForward(a + acts.lnf, a + acts.lnfMean, a + acts.lnfRstd, x,
                             p + o.lnfGamma, p + o.lnfBeta, BT, C, eps: eps, kernels)
            x = a + acts.lnf
        }
        // gpt2: lmHead is tok_emb's offset (the tied head)
        if lastOnly {
            kernels.matmulForward(a + acts.logits + (BT - 1) * V, x + (BT - 1) * C, p + o.lmHead, nil, 1, V, C,
                                  keep: kept(4 * L))
            if keep != nil { decodeWeightsCurrent = true }
            return 0
        }
        kernels.matmulForward(a + acts.logits, x, p + o.lmHead, nil, BT, V, C)
        let total = softmaxCrossEntropyForward(a + acts.probs, a + acts.losses, a + acts.logits, targetBuffer, BT, V, kernels)
        return count > 0 ? Float(total / Double(count)) : 0
    }

    /// fch = x·w1ᵀ + b1 and fchGelu = GELU(fch) (with its exps when kept) for layer view
    /// `la`: the GELU runs on each block of rows as the product finishes it
    /// (`Kernels.productThen`), or after it when a prefill keeps the decode layout.
    private func ffnInput(_ la: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: ParameterOffsets.Layer,
                          keep: UnsafeMutablePointer<Float>?, _ BT: Int) {
        let (C, F) = (config.dModel, config.dFF)
        let p = parameters.baseAddress!
        let fch = la + acts.fch, gelu = la + acts.fchGelu, exps = acts.geluExps(la)
        if let keep {
            kernels.matmulForward(fch, x, p + w.w1, p + w.b1, BT, F, C, keep: keep)
            geluForward(gelu, fch, BT * F, kernels, exps: exps)
            return
        }
        kernels.productThen(Int32(CK_SHAPE_FORWARD), fch, x, p + w.w1, p + w.b1, rows: BT, cols: F, depth: C, C, F) { i0, i1 in
            ck_gelu_forward(gelu, exps, fch, i0 &* F, i1 &* F)
        }
    }

    /// dfch = GELU′(fch)·(dOut·w2), written over, for layer view `la` (dfchGelu = dOut·w2 on
    /// the way): the GELU gradient runs on each block of rows as the product finishes it.
    private func ffnHiddenGradient(_ la: UnsafeMutablePointer<Float>, _ dOut: UnsafePointer<Float>,
                                   _ w: ParameterOffsets.Layer, _ BT: Int) {
        let (C, F) = (config.dModel, config.dFF)
        let a = actBuffer
        let dfchGelu = a + acts.dfchGelu, dfch = a + acts.dfch
        let fch = UnsafePointer(la + acts.fch), exps = acts.geluExps(la).map { UnsafePointer($0) }
        kernels.productThen(Int32(CK_SHAPE_BACKWARD_A_SET), dfchGelu, dOut, parameters.baseAddress! + w.w2, nil,
                            rows: BT, cols: F, depth: C, F, C) { i0, i1 in
            ck_gelu_backward(dfch, fch, exps, dfchGelu, i0 &* F, i1 &* F, 0)
        }
    }

    /// The per-position losses of the last `forward`, (B, S) row-major: −log p(target), 0
    /// where the target is `Batch.ignore`.
    public var lastLosses: UnsafeBufferPointer<Float> {
        precondition(backwardReady, "lastLosses needs a forward() (and no decode() since)")
        return UnsafeBufferPointer(start: actBuffer + acts.losses, count: lastBatchSize * lastSeqLen)
    }

    /// Layer l's QKV projection as one (3C, C) matrix with its bias, and the output
    /// projection's bias: gpt2's own `attn.wqkv`, `attn.bqkv` and `attn.bo`; for the other
    /// archs the copy of wq, wk, wv that `packQKVWeights` made, and no biases.
    func attentionWeights(_ l: Int) -> (wqkv: UnsafeMutablePointer<Float>, bqkv: UnsafeMutablePointer<Float>?,
                                        bo: UnsafeMutablePointer<Float>?) {
        let w = offsets.layers[l]
        let p = parameters.baseAddress!
        if config.arch == .gpt2 { return (p + w.wqkv, p + w.bqkv, p + w.bo) }
        let C = config.dModel
        return (actBuffer + acts.wqkvT + l * 3 * C * C, nil, nil)
    }

    /// Logits (V) at sequence `b`, position `t` of the last `forward`.
    public func logits(batch b: Int, position t: Int) -> UnsafeBufferPointer<Float> {
        precondition(b >= 0 && b < lastBatchSize && t >= 0 && t < lastSeqLen, "no logits at (\(b), \(t))")
        precondition(t >= firstLogitsPosition, "no logits at position \(t): a prefill computes only its last position's")
        precondition(t < firstScreenedPosition, "no logits at position \(t): a greedy decode computes only its candidates'")
        let V = config.vocabSize
        return UnsafeBufferPointer(start: actBuffer + acts.logits + (b * lastSeqLen + t) * V, count: V)
    }

    // MARK: - KV cache

    /// Makes room for a copy of the forward weights in the decode layout
    /// (`Kernels.decodePack`), which `decode` then reads as one stream per 16 outputs: a
    /// decode step is bound by reading the weights, and in place (rows of K floats read
    /// 32 at a time and transposed) it ran at less than half the memory bandwidth. The
    /// copy costs memory the size of the matmul weights and the head (about the parameter
    /// count). A `prefill` writes it as it runs (its GEMMs pack the weights there and read
    /// them from there); after a `forward`, the first `decode` writes it.
    /// Does nothing when called again, when the kernels have no decode product
    /// (`.portable`), or when the memory is not there: `decode` then reads the weights in
    /// place. The logits are the same bits either way. With `greedy`, also makes room for
    /// the greedy head's screen (`decodeGreedy`): a half-precision copy of the head, half
    /// its size, plus 8 bytes a row (none without F16C or the memory).
    public func prepareDecoding(greedy: Bool = false) {
        defer {
            if greedy && headScreen == nil && decodeWeights != nil {
                headScreen = HeadScreen(V: config.vocabSize, C: config.dModel)
            }
        }
        guard decodeWeights == nil, kernels.hasDecodeProduct else { return }
        var offsets: [Int] = []
        var total = 0
        for (_, n, k) in forwardWeights() {
            offsets.append(total)
            total += Kernels.decodePackedCount(n, k)
        }
        // Out of memory is not an error here: decode then reads the weights in place.
        guard let room = Model.zeroedFloatsIfAvailable(total) else { return }
        decodeOffsets = offsets
        decodeWeights = room
        decodeWeightsCurrent = false
    }

    /// Every forward weight (N, K), in `decodeOffsets` order: per layer QKV, output
    /// projection, FFN in, FFN out; then the head.
    private func forwardWeights() -> [(weights: UnsafePointer<Float>, n: Int, k: Int)] {
        let (C, V, F) = (config.dModel, config.vocabSize, config.dFF)
        let p = UnsafePointer(parameters.baseAddress!)
        var list: [(weights: UnsafePointer<Float>, n: Int, k: Int)] = []
        for l in 0..<config.nLayers {
            let w = offsets.layers[l]
            list.append((UnsafePointer(attentionWeights(l).wqkv), 3 * C, C))
            list.append((p + w.wo, C, C))
            list.append((p + w.w1, F, C))
            list.append((p + w.w2, C, F))
        }
        list.append((p + offsets.lmHead, V, C))
        return list
    }

    /// Writes the decode layout of every forward weight into `decodeWeights`.
    private func packDecodeWeights() {
        guard let d = decodeWeights?.baseAddress else { return }
        for (m, (weights, n, k)) in forwardWeights().enumerated() {
            kernels.decodePack(d + decodeOffsets[m], weights, n, k)
        }
        decodeWeightsCurrent = true
    }

    /// Appends `token` at position P = `cachedPositions` of the sequence the last `forward`
    /// ran (one sequence) and returns the logits (V) at P: one position through every layer,
    /// attending to the keys and values of positions 0...P kept in the activations (the KV
    /// cache). The logits are bit for bit those of a `forward` on all P + 1 tokens: every op
    /// computes a row with the same arithmetic whatever the number of rows, and the
    /// attention row takes the path a forward of length P + 1 takes
    /// (`attentionForwardLastRow`). One exception keeps that exact: a forward computes
    /// attention with plain loops below `attentionGemmMinimum` positions and with the GEMM
    /// kernel from there on, for every row, so the decode that reaches that length runs a
    /// forward on the whole sequence (once) instead, and the cached rows are from then on
    /// those of a long forward. The parameters must not change between the `forward` and
    /// the decodes (the gpt arch uses the QKV copy that forward packed). After a decode,
    /// `backward()` is refused until the next `forward`. No allocation.
    /// - Precondition: 1 ≤ cachedPositions < T, token in 0..<V.
    public func decode(_ token: Int32) -> UnsafeBufferPointer<Float> {
        let t = cachedPositions
        _ = decodeStep(token, screened: false)
        return logits(batch: 0, position: t)
    }

    /// `decode(token)` for greedy generation: returns `Model.argmax` of the logits that
    /// decode computes, the same id, but after `prepareDecoding(greedy: true)` reads the
    /// head through its screen (`HeadScreen`): half the head's bytes plus a few exact rows,
    /// instead of the whole head (a third of GPT-2 124M's step). The logits of this
    /// position and later ones are then not available until the next `forward` or
    /// `prefill`.
    /// - Precondition: as `decode`.
    public func decodeGreedy(_ token: Int32) -> Int {
        let t = cachedPositions
        if let id = decodeStep(token, screened: true) { return id }
        return Model.argmax(logits(batch: 0, position: t))
    }

    /// Rows of the head computed exactly by the last `decodeGreedy` (0: its head was not
    /// screened, so all V were).
    var lastScreenCandidates: Int { headScreen?.lastCandidates ?? 0 }

    /// The lowest id of the largest value (greedy decoding's rule; NaN is never larger).
    public static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        for i in 1..<logits.count where logits[i] > logits[best] { best = i }
        return best
    }

    /// One decode step. With `screened` and a head screen, the head runs through the
    /// screen and the argmax it found is returned (nil: the head's logits were computed
    /// in full).
    private func decodeStep(_ token: Int32, screened: Bool) -> Int? {
        let t = cachedPositions
        headScreen?.lastCandidates = 0
        let (C, V, H, F, L) = (config.dModel, config.vocabSize, config.nHeads, config.dFF, config.nLayers)
        precondition(t >= 1 && t < config.context, "decode needs 1...\(config.context - 1) cached positions, has \(t)")
        precondition(token >= 0 && Int(token) < V, "token id out of range")
        if t + 1 == attentionGemmMinimum {
            tokenBuffer[t] = token
            for i in 0...t { targetBuffer[i] = Batch.ignore }
            // The earlier rows change too: after a forward, keep every position's logits
            // those of this long forward; after a prefill, only this position has any.
            let lastOnly = firstLogitsPosition > 0
            _ = run(batchSize: 1, seqLen: t + 1, targetCount: 0, lastLogitsOnly: lastOnly)
            if lastOnly { firstLogitsPosition = t }
            backwardReady = false
            return nil
        }
        let p = parameters.baseAddress!
        let a = actBuffer
        let o = offsets
        let eps = ModelConfig.layerNormEpsilon
        let packed = kernels.hasDecodeProduct ? decodeWeights?.baseAddress : nil
        if packed != nil && !decodeWeightsCurrent { packDecodeWeights() }
        // out(N) = x(K) · W(N,K)ᵀ (+ bias): from the decode layout (matrix m of
        // `decodeOffsets`) when there is one, else in place; the same bits either way.
        func project(_ m: Int, _ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                     _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?, _ N: Int, _ K: Int) {
            if let packed {
                kernels.matvecDecode(out, x, packed + decodeOffsets[m], bias, N, K)
            } else {
                kernels.matmulForward(out, x, w, bias, 1, N, K)
            }
        }
        // One sequence: row t of every (S, width) view sits at t·width whatever S is.
        func row(_ view: Int, _ width: Int) -> UnsafeMutablePointer<Float> { a + view + t * width }
        tokenBuffer[t] = token
        targetBuffer[t] = Batch.ignore
        encoderForward(row(acts.encoded, C), tokenBuffer + t, p + o.tokEmb, p + o.posEmb + t * C, 1, 1, C, kernels)
        var x = row(acts.encoded, C)                 // (C): this position's input to the layer
        for l in 0..<L {
            let w = o.layers[l]
            let la = acts.layerStride * l
            let (wqkv, bqkv, bo) = attentionWeights(l)
            func r(_ view: Int, _ width: Int) -> UnsafeMutablePointer<Float> { row(la + view, width) }
            // att scratch: H·(t+1) weights, in this layer's att view (a decode keeps no att rows)
            switch config.arch {
            case .tutorial:
                project(4 * l, r(acts.qkv, 3 * C), x, wqkv, nil, 3 * C, C)
                attentionForwardLastRow(r(acts.atty, C), a + la + acts.att, a + la + acts.qkv, t, C, H, kernels)
                project(4 * l + 1, r(acts.attproj, C), r(acts.atty, C), p + w.wo, nil, C, C)
                project(4 * l + 2, r(acts.fch, F), r(acts.attproj, C), p + w.w1, p + w.b1, F, C)
                geluForward(r(acts.fchGelu, F), r(acts.fch, F), F, kernels)
                project(4 * l + 3, r(acts.fcproj, C), r(acts.fchGelu, F), p + w.w2, p + w.b2, C, F)
                residualForward(r(acts.res3, C), r(acts.attproj, C), r(acts.fcproj, C), C, kernels)
                layernormForward(r(acts.lnOut, C), r(acts.lnMean, 1), r(acts.lnRstd, 1), r(acts.res3, C),
                                 p + w.ln1Gamma, p + w.ln1Beta, 1, C, eps: eps, kernels)
                x = r(acts.lnOut, C)
            case .gpt, .gpt2:
                layernormForward(r(acts.ln1, C), r(acts.ln1Mean, 1), r(acts.ln1Rstd, 1), x,
                                 p + w.ln1Gamma, p + w.ln1Beta, 1, C, eps: eps, kernels)
                project(4 * l, r(acts.qkv, 3 * C), r(acts.ln1, C), wqkv, bqkv, 3 * C, C)
                attentionForwardLastRow(r(acts.atty, C), a + la + acts.att, a + la + acts.qkv, t, C, H, kernels)
                project(4 * l + 1, r(acts.attproj, C), r(acts.atty, C), p + w.wo, bo, C, C)
                residualForward(r(acts.res2, C), x, r(acts.attproj, C), C, kernels)
                layernormForward(r(acts.ln2, C), r(acts.ln2Mean, 1), r(acts.ln2Rstd, 1), r(acts.res2, C),
                                 p + w.ln2Gamma, p + w.ln2Beta, 1, C, eps: eps, kernels)
                project(4 * l + 2, r(acts.fch, F), r(acts.ln2, C), p + w.w1, p + w.b1, F, C)
                geluForward(r(acts.fchGelu, F), r(acts.fch, F), F, kernels)
                project(4 * l + 3, r(acts.fcproj, C), r(acts.fchGelu, F), p + w.w2, p + w.b2, C, F)
                residualForward(r(acts.res3, C), r(acts.res2, C), r(acts.fcproj, C), C, kernels)
                x = r(acts.res3, C)
            }
        }
        if config.arch.isPreLN {
            layernormForward(row(acts.lnf, C), row(acts.lnfMean, 1), row(acts.lnfRstd, 1), x,
                             p + o.lnfGamma, p + o.lnfBeta, 1, C, eps: eps, kernels)
            x = row(acts.lnf, C)
        }
        var argmax: Int? = nil
        if screened, let packed, let headScreen {
            let head = packed + decodeOffsets[4 * L]
            if !headScreen.current { headScreen.build(from: head, kernels: kernels) }
            argmax = headScreen.argmax(x, packed: head, logits: row(acts.logits, V), kernels: kernels)
        }
        if argmax == nil {
            project(4 * L, row(acts.logits, V), x, p + o.lmHead, nil, V, C)
        } else {
            firstScreenedPosition = min(firstScreenedPosition, t)
        }
        cachedPositions = t + 1
        lastBatchSize = 1
        lastSeqLen = t + 1
        backwardReady = false
        return argmax
    }

    /// Overwrites `gradients` with d(mean loss)/dθ for the last `forward`.
    public func backward() {
        precondition(lastBatchSize > 0 && backwardReady, "backward() needs a forward() first (and no decode() since)")
        let B = lastBatchSize, T = lastSeqLen, BT = B * T
        // (Not while tracing: the small path has no observation points; the activations
        // its forward wrote are the general path's, bit for bit.)
        if backwardObserver == nil, let small = smallPath, small.handles(batchSize: B, seqLen: T, kernels: kernels) {
            small.backward(batchSize: B, seqLen: T, targetCount: lastTargetCount)
            return
        }
        let (C, V, H, F, L) = (config.dModel, config.vocabSize, config.nHeads, config.dFF, config.nLayers)
        let p = parameters.baseAddress!
        let g = gradients.baseAddress!
        let a = actBuffer
        let o = offsets
        let dres = a + acts.dres, dln = a + acts.dln
        kernels.zero(g, gradients.count)

        crossEntropySoftmaxBackward(a + acts.dlogits, a + acts.probs, targetBuffer, BT, V, count: lastTargetCount, kernels)
        let lastLayer = a + (L - 1) * acts.layerStride
        switch config.arch {
        case .tutorial:
            kernels.matmulBackwardInput(dres, a + acts.dlogits, p + o.lmHead, BT, V, C, accumulate: false)
            kernels.matmulBackwardWeight(g + o.lmHead, nil, a + acts.dlogits, lastLayer + acts.lnOut, BT, V, C)
        case .gpt, .gpt2:
            // gpt2: lmHead is tok_emb, so its gradient here is the head's use; the
            // embedding's use is added by encoderBackward at the end.
            kernels.matmulBackwardInput(dln, a + acts.dlogits, p + o.lmHead, BT, V, C, accumulate: false)
            kernels.matmulBackwardWeight(g + o.lmHead, nil, a + acts.dlogits, a + acts.lnf, BT, V, C)
            kernels.zero(dres, BT * C)
            layernormBackward(dres, g + o.lnfGamma, g + o.lnfBeta, dln, lastLayer + acts.res3,
                              p + o.lnfGamma, a + acts.lnfMean, a + acts.lnfRstd, BT, C, kernels)
        }
        // dres now holds the gradient of the last block's output.
        backwardObserver?(.top)
        for l in stride(from: L - 1, through: 0, by: -1) {
            let w = o.layers[l]
            let la = a + l * acts.layerStride
            let below = a + (l - 1) * acts.layerStride
            let (wqkv, _, _) = attentionWeights(l)
            let (dfch, dmh, datty, dqkv) = (a + acts.dfch, a + acts.dmh, a + acts.datty, a + acts.dqkv)
            switch config.arch {
            case .tutorial:
                let xin = l == 0 ? a + acts.encoded : below + acts.lnOut
                // x = LayerNorm(r): dln = dr
                kernels.zero(dln, BT * C)
                layernormBackward(dln, g + w.ln1Gamma, g + w.ln1Beta, dres, la + acts.res3,
                                  p + w.ln1Gamma, la + acts.lnMean, la + acts.lnRstd, BT, C, kernels)
                // r = mh + FFN(mh)
                ffnHiddenGradient(la, dln, w, BT)
                kernels.matmulBackwardWeight(g + w.w2, g + w.b2, dln, la + acts.fchGelu, BT, C, F)
                dmh.update(from: dln, count: BT * C)
                kernels.matmulBackwardInput(dmh, dfch, p + w.w1, BT, F, C)
                kernels.matmulBackwardWeight(g + w.w1, g + w.b1, dfch, la + acts.attproj, BT, F, C)
                // mh = concat(heads)·Woᵀ
                kernels.matmulBackwardInput(datty, dmh, p + w.wo, BT, C, C, accumulate: false)
                kernels.matmulBackwardWeight(g + w.wo, nil, dmh, la + acts.atty, BT, C, C)
                attentionBackward(dqkv, datty, la + acts.qkv, la + acts.att, B, T, C, H, kernels)
                // qkv = x·Wqkv
                kernels.matmulBackwardInput(dres, dqkv, wqkv, BT, 3 * C, C, accumulate: false)
                accumulateQKVGradients(layer: l, dqkv: dqkv, input: xin, rows: BT)
            case .gpt, .gpt2:
                let xin = l == 0 ? a + acts.encoded : below + acts.res3
                // res3 = res2 + FFN(LN2(res2)); dres flows through unchanged
                ffnHiddenGradient(la, dres, w, BT)
                kernels.matmulBackwardWeight(g + w.w2, g + w.b2, dres, la + acts.fchGelu, BT, C, F)
                kernels.matmulBackwardInput(dln, dfch, p + w.w1, BT, F, C, accumulate: false)
                kernels.matmulBackwardWeight(g + w.w1, g + w.b1, dfch, la + acts.ln2, BT, F, C)
                layernormBackward(dres, g + w.ln2Gamma, g + w.ln2Beta, dln, la + acts.res2,
                                  p + w.ln2Gamma, la + acts.ln2Mean, la + acts.ln2Rstd, BT, C, kernels)
                backwardObserver?(.afterFFN(l))
                // res2 = x + Attn(LN1(x))
                let gpt2 = config.arch == .gpt2
                kernels.matmulBackwardInput(datty, dres, p + w.wo, BT, C, C, accumulate: false)
                kernels.matmulBackwardWeight(g + w.wo, gpt2 ? g + w.bo : nil, dres, la + acts.atty, BT, C, C)
                attentionBackward(dqkv, datty, la + acts.qkv, la + acts.att, B, T, C, H, kernels)
                kernels.matmulBackwardInput(dln, dqkv, wqkv, BT, 3 * C, C, accumulate: false)
                if gpt2 {
                    kernels.matmulBackwardWeight(g + w.wqkv, g + w.bqkv, dqkv, la + acts.ln1, BT, 3 * C, C)
                } else {
                    accumulateQKVGradients(layer: l, dqkv: dqkv, input: la + acts.ln1, rows: BT)
                }
                layernormBackward(dres, g + w.ln1Gamma, g + w.ln1Beta, dln, xin,
                                  p + w.ln1Gamma, la + acts.ln1Mean, la + acts.ln1Rstd, BT, C, kernels)
            }
            backwardObserver?(.afterLayer(l))
        }
        encoderBackward(g + o.tokEmb, g + o.posEmb, dres, tokenBuffer, B, T, C, kernels)
    }

    /// Clips (if set) and applies one AdamW update with step number `t` (1-based) to every
    /// tensor. Returns the learning rate used and the gradient norm before clipping.
    ///
    /// The norm is √(Σ g²) summed in Double in buffer order. With `gradClip` > 0 and a norm
    /// above it, every gradient is scaled by gradClip / norm before entering the moments
    /// (`gradients` itself is left unchanged).
    public func applyAdamW(_ optimizer: AdamWConfig, step t: Int) -> (learningRate: Double, gradNorm: Float) {
        if let done = applySmallAdamW(optimizer, step: t) { return done }
        return applyAdamW(optimizer, step: t, gradientSumOfSquares: gradientSumOfSquares())
    }

    /// The small path's update, which sums Σ g² as it goes (the same sum, so the same
    /// norm), when it applies: no clipping (which needs the norm first) and a last
    /// forward the small path ran. Nil otherwise.
    private func applySmallAdamW(_ optimizer: AdamWConfig, step t: Int) -> (learningRate: Double, gradNorm: Float)? {
        guard optimizer.gradClip == 0, let small = smallPath,
              small.handles(batchSize: max(1, lastBatchSize), seqLen: max(1, lastSeqLen), kernels: kernels) else { return nil }
        let lr = optimizer.learningRate(atStep: t)
        let constants = Kernels.AdamWStep(learningRate: lr, beta1: optimizer.beta1, beta2: optimizer.beta2,
                                          epsilon: optimizer.epsilon, weightDecay: optimizer.weightDecay, step: t)
        let norm = small.applyAdamW(constants, exemptNormAndBias: optimizer.exemptNormAndBias).squareRoot()
        return (lr, Float(norm))
    }

    /// `applyAdamW(_:step:)` with Σ g² already computed by `gradientSumOfSquares()`, for a
    /// caller that checks the gradient before applying it (the training loop refuses a
    /// non-finite one) without summing twice.
    public func applyAdamW(_ optimizer: AdamWConfig, step t: Int, gradientSumOfSquares sumOfSquares: Double)
        -> (learningRate: Double, gradNorm: Float) {
        precondition(t >= 1, "AdamW steps are 1-based")
        if let done = applySmallAdamW(optimizer, step: t) { return done }
        let n = layout.totalCount
        let g = gradients.baseAddress!
        let norm = sumOfSquares.squareRoot()
        var scale = 1.0
        if optimizer.gradClip > 0 && norm > optimizer.gradClip {
            scale = optimizer.gradClip / norm
        }
        let lr = optimizer.learningRate(atStep: t)
        let constants = Kernels.AdamWStep(learningRate: lr, beta1: optimizer.beta1, beta2: optimizer.beta2,
                                          epsilon: optimizer.epsilon, weightDecay: optimizer.weightDecay,
                                          step: t, gradScale: scale)
        kernels.adamWUpdate(parameters: parameters.baseAddress!, gradients: g, m: adamM.baseAddress!, v: adamV.baseAddress!,
                            count: n, constants, noDecay: optimizer.exemptNormAndBias ? offsets.normAndBias : [])
        return (lr, Float(norm))
    }

    /// forward + backward + applyAdamW.
    public func trainStep(_ batch: Batch, optimizer: AdamWConfig, step t: Int) -> StepResult {
        let loss = forward(batch)
        backward()
        let (lr, norm) = applyAdamW(optimizer, step: t)
        return StepResult(loss: loss, gradNorm: norm, learningRate: lr)
    }

    // MARK: - Packed QKV weights

    /// Σ g² over the whole gradient buffer, in Double: each block of `normBlock` floats is
    /// summed in four interleaved lanes combined as (s0 + s1) + (s2 + s3), then the block
    /// sums are added in block order. Blocks are fixed by the layout, not the threads.
    /// Finite exactly when every gradient is: a float32 square is below 2^256, and 2^31 of
    /// them cannot overflow a Double.
    public func gradientSumOfSquares() -> Double {
        let n = layout.totalCount, block = Model.normBlock
        if let small = smallPath, small.handles(batchSize: max(1, lastBatchSize), seqLen: max(1, lastSeqLen), kernels: kernels) {
            return ck_sum_of_squares(gradients.baseAddress!, n, block)
        }
        let g = gradients.baseAddress!, partials = normPartials
        let blocks = (n + block - 1) / block
        kernels.forEach(blocks, work: 2 &* n) { range in
            for bi in range {
                let start = bi &* block, end = min(n, start &+ block)
                var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
                var i = start
                while i &+ 4 <= end {
                    let x0 = Double(g[i]), x1 = Double(g[i &+ 1]), x2 = Double(g[i &+ 2]), x3 = Double(g[i &+ 3])
                    s0 = x0 * x0 + s0; s1 = x1 * x1 + s1; s2 = x2 * x2 + s2; s3 = x3 * x3 + s3
                    i &+= 4
                }
                while i < end {
                    let x = Double(g[i])
                    s0 = x * x + s0
                    i &+= 1
                }
                partials[bi] = (s0 + s1) + (s2 + s3)
            }
        }
        var total = 0.0
        for bi in 0..<blocks { total += partials[bi] }
        return total
    }

    /// Copies each layer's Wq, Wk, Wv (H, C, hs) into wqkvT (3C, C): row s·C + h·hs + j
    /// holds column j of head h of W_s, so qkv(B,T,3C) = x · wqkvTᵀ is one matmul.
    /// gpt2 stores its weights in this layout already (`attn.wqkv`) and packs nothing.
    func packQKVWeights() {
        guard config.arch != .gpt2 else { return }
        let (C, H, L) = (config.dModel, config.nHeads, config.nLayers)
        let hs = C / H
        let p = parameters.baseAddress!
        let offsets = self.offsets, base = actBuffer + acts.wqkvT
        kernels.forEach(L &* 3 &* H, work: L &* 3 &* C &* C) { range in
            for item in range {
                let l = item / (3 &* H), s = (item / H) % 3, h = item % H
                let w = offsets.layers[l]
                let out = base + l &* 3 &* C &* C
                let src = s == 0 ? w.wq : s == 1 ? w.wk : w.wv
                for d in 0..<C {
                    let from = p + src + (h &* C &+ d) &* hs
                    for j in 0..<hs { out[(s &* C &+ h &* hs &+ j) &* C &+ d] = from[j] }
                }
            }
        }
    }

    /// dWq, dWk, dWv of `layer` += (dqkvᵀ · input) rearranged back to (H, C, hs).
    func accumulateQKVGradients(layer l: Int, dqkv: UnsafePointer<Float>, input: UnsafePointer<Float>, rows: Int) {
        let (C, H) = (config.dModel, config.nHeads)
        let hs = C / H
        // scratch(C, 3C) = inputᵀ·dqkv: the transpose of dqkvᵀ·input, with the same sums (the
        // same FMA chains over the rows; a·b = b·a exactly), so each (s, h, d) is a run of hs
        // floats. Written over, it holds the bits of adding the product to zeros.
        let scratch = actBuffer + acts.dwqkvT
        kernels.matmulBackwardWeight(scratch, nil, input, dqkv, rows, C, 3 * C, accumulate: false)
        let w = offsets.layers[l]
        let g = gradients.baseAddress!
        kernels.forEach(3 &* H, work: 3 &* C &* C) { range in
            for item in range {
                let s = item / H, h = item % H
                let dst = s == 0 ? w.wq : s == 1 ? w.wk : w.wv
                for d in 0..<C {
                    let to = g + dst + (h &* C &+ d) &* hs
                    let row: Int = (d &* 3 &+ s) &* C
                    let from = scratch + (row &+ h &* hs)
                    for j in 0..<hs { to[j] += from[j] }
                }
            }
        }
    }
}

/// Offsets of every parameter tensor in the flat buffers, resolved once from the layout.
struct ParameterOffsets {
    struct Layer {
        /// tutorial, gpt.
        var wq = 0, wk = 0, wv = 0
        /// gpt2 only.
        var wqkv = 0, bqkv = 0, bo = 0
        var wo = 0, w1 = 0, b1 = 0, w2 = 0, b2 = 0
        /// tutorial: `ln.*`; gpt, gpt2: `ln1.*`.
        var ln1Gamma = 0, ln1Beta = 0
        /// gpt, gpt2.
        var ln2Gamma = 0, ln2Beta = 0
    }
    /// gpt2: lmHead == tokEmb (the tied head).
    var tokEmb = 0, posEmb = 0, lmHead = 0
    /// gpt, gpt2.
    var lnfGamma = 0, lnfBeta = 0
    var layers: [Layer] = []
    /// The element ranges of the biases and LayerNorm parameters, in layout order (what
    /// `AdamWConfig.exemptNormAndBias` keeps out of weight decay).
    var normAndBias: [Range<Int>] = []

    init(layout: ParameterLayout) {
        normAndBias = layout.slots.filter(\.isNormOrBias).map { $0.offset..<($0.offset + $0.count) }
        func at(_ name: String) -> Int {
            guard let slot = layout.slot(named: name) else { preconditionFailure("no tensor \(name)") }
            return slot.offset
        }
        let arch = layout.config.arch
        let gpt = arch.isPreLN
        tokEmb = at("tok_emb")
        posEmb = at("pos_emb")
        lmHead = arch == .gpt2 ? tokEmb : at("lm_head")
        if gpt {
            lnfGamma = at("ln_f.gamma")
            lnfBeta = at("ln_f.beta")
        }
        for i in 0..<layout.config.nLayers {
            let q = "layers.\(i)."
            var l = Layer()
            if arch == .gpt2 {
                l.wqkv = at(q + "attn.wqkv"); l.bqkv = at(q + "attn.bqkv"); l.bo = at(q + "attn.bo")
            } else {
                l.wq = at(q + "attn.wq"); l.wk = at(q + "attn.wk"); l.wv = at(q + "attn.wv")
            }
            l.wo = at(q + "attn.wo")
            l.w1 = at(q + "ffn.w1"); l.b1 = at(q + "ffn.b1"); l.w2 = at(q + "ffn.w2"); l.b2 = at(q + "ffn.b2")
            if gpt {
                l.ln1Gamma = at(q + "ln1.gamma"); l.ln1Beta = at(q + "ln1.beta")
                l.ln2Gamma = at(q + "ln2.gamma"); l.ln2Beta = at(q + "ln2.beta")
            } else {
                l.ln1Gamma = at(q + "ln.gamma"); l.ln1Beta = at(q + "ln.beta")
            }
            layers.append(l)
        }
    }
}

/// Offsets (in floats) of the named activation views in the model's one activation
/// buffer, sized for maxBatchSize × T. A batch with B·S rows packs each view densely
/// from its start. Per-layer views repeat every `layerStride` floats.
struct ActivationLayout {
    // Per layer, relative to the layer's start.
    var ln1 = 0, ln1Mean = 0, ln1Rstd = 0      // gpt, gpt2: (B,T,C), (B,T), (B,T)
    var qkv = 0                                // (B,T,3C)
    var atty = 0                               // (B,T,C) concatenated heads
    var att = 0                                // (B,H,T,T) softmax weights
    var attproj = 0                            // (B,T,C) tutorial: mh
    var res2 = 0                               // gpt, gpt2: (B,T,C)
    var ln2 = 0, ln2Mean = 0, ln2Rstd = 0      // gpt, gpt2
    var fch = 0, fchGelu = 0                   // (B,T,F)
    var fchExp = 0                             // (B,T,F) when keepsGeluExps: GELU's e^(−2|u|)
    var fcproj = 0                             // (B,T,C)
    var res3 = 0                               // (B,T,C) tutorial: r; gpt, gpt2: block output
    var lnOut = 0, lnMean = 0, lnRstd = 0      // tutorial: block output LayerNorm
    var layerStride = 0
    // Global.
    var encoded = 0                            // (B,T,C)
    var lnf = 0, lnfMean = 0, lnfRstd = 0      // gpt, gpt2
    var logits = 0, probs = 0                  // (B,T,V)
    var losses = 0                             // (B,T)
    var wqkvT = 0                              // (L,3C,C) packed QKV weights
    // Backward scratch, reused by every layer.
    var dres = 0, dln = 0, dmh = 0, datty = 0  // (B,T,C)
    var dqkv = 0                               // (B,T,3C)
    var dfch = 0, dfchGelu = 0                 // (B,T,F)
    var dlogits = 0                            // (B,T,V)
    var dwqkvT = 0                             // (C,3C)
    var bpack = 0, bpackCount = 0              // one packed B operand (Kernels.sharedB)
    var total = 0

    /// The forward keeps GELU's exps for the backward, which then reads them instead of
    /// computing them again (a third of GELU's backward work; the same bits), when they
    /// take at most `geluExpsBudget` bytes for all layers: about 1% faster on gpt-small
    /// and gpt-medium at 2 threads, while larger models keep their memory.
    var keepsGeluExps = false
    static let geluExpsBudget = 64 << 20

    /// Layer `layer`'s GELU exps (`layer` is its start in the buffer), or nil when not kept.
    func geluExps(_ layer: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float>? {
        keepsGeluExps ? layer + fchExp : nil
    }

    init(config: ModelConfig, maxBatchSize: Int) {
        let (C, V, H, F, L, T) = (config.dModel, config.vocabSize, config.nHeads, config.dFF,
                                  config.nLayers, config.context)
        let BT = m(maxBatchSize, T)
        let gpt = config.arch.isPreLN
        let packed = config.arch != .gpt2           // gpt2 keeps its QKV weights packed itself
        var offset = 0
        // Saturating arithmetic: an absurd config gives total == Int.max instead of
        // overflowing, so callers can compare `Model.activationCount` to a limit.
        func m(_ xs: Int...) -> Int {
            var r = 1
            for x in xs {
                let (p, o) = r.multipliedReportingOverflow(by: x)
                r = o ? Int.max : p
            }
            return r
        }
        func take(_ n: Int) -> Int {
            defer {
                let (sum, o) = offset.addingReportingOverflow(n)
                offset = o ? Int.max : sum
            }
            return offset
        }
        if gpt { ln1 = take(m(BT, C)); ln1Mean = take(BT); ln1Rstd = take(BT) }
        qkv = take(m(BT, 3, C))
        atty = take(m(BT, C))
        att = take(m(maxBatchSize, H, T, T))
        attproj = take(m(BT, C))
        if gpt { res2 = take(m(BT, C)); ln2 = take(m(BT, C)); ln2Mean = take(BT); ln2Rstd = take(BT) }
        fch = take(m(BT, F))
        fchGelu = take(m(BT, F))
        keepsGeluExps = m(m(BT, F), L) <= ActivationLayout.geluExpsBudget / 4
        fchExp = take(keepsGeluExps ? m(BT, F) : 0)
        fcproj = take(m(BT, C))
        res3 = take(m(BT, C))
        if !gpt { lnOut = take(m(BT, C)); lnMean = take(BT); lnRstd = take(BT) }
        layerStride = offset
        offset = m(layerStride, L)
        encoded = take(m(BT, C))
        if gpt { lnf = take(m(BT, C)); lnfMean = take(BT); lnfRstd = take(BT) }
        logits = take(m(BT, V))
        probs = take(m(BT, V))
        losses = take(BT)
        wqkvT = take(packed ? m(L, 3, C, C) : 0)
        dres = take(m(BT, C))
        dln = take(m(BT, C))
        dmh = take(m(BT, C))
        datty = take(m(BT, C))
        dqkv = take(m(BT, 3, C))
        dfch = take(m(BT, F))
        dfchGelu = take(m(BT, F))
        dlogits = take(m(BT, V))
        dwqkvT = take(packed ? m(3, C, C) : 0)
        // The widest B of a matmul: a weight (up to max(3C, F) wide, max(C, F) deep) or the
        // activations of a weight gradient (up to max(C, F) wide, BT deep), in 16-column
        // panels. The head's B (V wide) is packed per thread when it does not fit.
        // 64-byte aligned (the micro-kernel's aligned loads): the buffer is.
        bpackCount = m((max(3 * C, F) + 15) / 16, 16, max(C, F, BT))
        _ = take((16 - offset % 16) % 16)
        bpack = take(bpackCount)
        total = offset
    }
}
