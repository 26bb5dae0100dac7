import CKernels
import TTCore

/// The single-threaded fused step for small models (`cktiny.c`).
///
/// When every op of a step is below `Kernels.threshold` (so the general path would run all
/// of it on the calling thread anyway) and the sequence is shorter than
/// `attentionGemmMinimum`, `Model.forward`, `backward` and the gradient norm take this path:
/// one C call each, no closures, no dispatch, no GEMM packing. It computes the same
/// operations in the same order as the general path with the AVX2 kernels (each product an
/// FMA chain in the GEMM's order), writes every activation to the same views, and so gives
/// the same bits; `SmallModelPathTests` checks that step by step. The tutorial preset
/// (3,456 parameters, 5 positions) is its use case: it turns a step of about 10 µs, most of
/// it overhead, into a few µs.
///
/// Selected by shape only (never by thread count), so a run's results do not depend on
/// whether it is taken.
final class SmallModelPath {
    /// Bound on one op's work (multiply-adds) for this path, whatever `Kernels.threshold`
    /// says: its products are not cache-blocked.
    static let maxWork = 1 << 16

    private let layers: UnsafeMutableBufferPointer<ck_tiny_layer>
    /// The no-decay ranges as (lo, hi) pairs, for `applyAdamW`.
    private let noDecay: UnsafeMutableBufferPointer<Int>
    /// The gradient ranges the backward zeroes, as (lo, hi) pairs (`ck_tiny_model.zeroRanges`).
    private let zeroRanges: UnsafeMutableBufferPointer<Int>
    private let scratch: UnsafeMutablePointer<Float>
    private var template: ck_tiny_model
    private let noDecayRanges: Int
    private let adamM: UnsafeMutablePointer<Float>
    private let adamV: UnsafeMutablePointer<Float>

    /// nil when the model cannot take this path at any batch: an architecture it does not
    /// cover, a context of `attentionGemmMinimum` or more, or no AVX2+FMA (the path mirrors
    /// the AVX2 kernels' arithmetic only).
    init?(model: Model) {
        let config = model.config
        guard ck_avx2_available() != 0, config.context < attentionGemmMinimum,
              config.arch == .tutorial || config.arch == .gpt else { return nil }
        let (C, V, H, F, L, T) = (config.dModel, config.vocabSize, config.nHeads, config.dFF, config.nLayers, config.context)
        layers = .allocate(capacity: L)
        for (l, w) in model.offsets.layers.enumerated() {
            layers[l] = ck_tiny_layer(wq: w.wq, wk: w.wk, wv: w.wv, wo: w.wo, w1: w.w1, b1: w.b1, w2: w.w2, b2: w.b2,
                                      ln1Gamma: w.ln1Gamma, ln1Beta: w.ln1Beta, ln2Gamma: w.ln2Gamma, ln2Beta: w.ln2Beta)
        }
        let ranges = model.offsets.normAndBias
        noDecay = Self.pairs(ranges)
        noDecayRanges = ranges.count
        let zero = Self.addedTo(model.offsets, C: C, V: V, F: F, count: model.layout.totalCount)
        zeroRanges = Self.pairs(zero)
        let count = ck_tiny_scratch_count(C, V, F, T)
        scratch = .allocate(capacity: count)
        scratch.initialize(repeating: 0, count: count)
        let o = model.offsets, a = model.acts
        template = ck_tiny_model()
        template.C = C; template.V = V; template.H = H; template.F = F; template.L = L
        template.arch = config.arch == .tutorial ? 0 : 1
        template.eps = ModelConfig.layerNormEpsilon
        template.count = model.layout.totalCount
        template.params = model.parameters.baseAddress
        template.grads = model.gradients.baseAddress
        adamM = model.adamM.baseAddress!
        adamV = model.adamV.baseAddress!
        template.acts = model.actBuffer
        template.scratch = scratch
        template.tokEmb = o.tokEmb; template.posEmb = o.posEmb; template.lmHead = o.lmHead
        template.lnfGamma = o.lnfGamma; template.lnfBeta = o.lnfBeta
        template.layers = UnsafePointer(layers.baseAddress)
        template.zeroRanges = UnsafePointer(zeroRanges.baseAddress)
        template.zeroRangeCount = zero.count
        template.ln1 = a.ln1; template.ln1Mean = a.ln1Mean; template.ln1Rstd = a.ln1Rstd
        template.qkv = a.qkv; template.atty = a.atty; template.att = a.att; template.attproj = a.attproj
        template.res2 = a.res2; template.ln2 = a.ln2; template.ln2Mean = a.ln2Mean; template.ln2Rstd = a.ln2Rstd
        template.fch = a.fch; template.fchGelu = a.fchGelu; template.fchExp = a.keepsGeluExps ? a.fchExp : -1; template.fcproj = a.fcproj; template.res3 = a.res3
        template.lnOut = a.lnOut; template.lnMean = a.lnMean; template.lnRstd = a.lnRstd
        template.layerStride = a.layerStride
        template.encoded = a.encoded; template.lnf = a.lnf; template.lnfMean = a.lnfMean; template.lnfRstd = a.lnfRstd
        template.logits = a.logits; template.probs = a.probs; template.losses = a.losses; template.wqkvT = a.wqkvT
        template.dres = a.dres; template.dln = a.dln; template.dmh = a.dmh; template.datty = a.datty
        template.dqkv = a.dqkv; template.dfch = a.dfch; template.dfchGelu = a.dfchGelu; template.dlogits = a.dlogits
        template.dwqkvT = a.dwqkvT
        template.tokens = UnsafePointer(model.tokenBuffer)
        template.targets = UnsafePointer(model.targetBuffer)
    }

    deinit {
        layers.deallocate()
        noDecay.deallocate()
        zeroRanges.deallocate()
        scratch.deallocate()
    }

    /// `ranges` as (lo, hi) pairs in a buffer the C side reads.
    private static func pairs(_ ranges: [Range<Int>]) -> UnsafeMutableBufferPointer<Int> {
        let buffer = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(1, 2 * ranges.count))
        for (k, r) in ranges.enumerated() {
            buffer[2 * k] = r.lowerBound
            buffer[2 * k + 1] = r.upperBound
        }
        return buffer
    }

    /// The gradients the fused backward adds to, so zeroes first (biases, LayerNorm,
    /// embeddings): the buffer [0, count) but the weight matrices it writes over (each
    /// layer's wq, wk, wv, wo, w1 and w2, and lm_head), in order.
    private static func addedTo(_ o: ParameterOffsets, C: Int, V: Int, F: Int, count: Int) -> [Range<Int>] {
        var written: [Range<Int>] = [o.lmHead..<(o.lmHead + V * C)]
        for w in o.layers {
            for (at, n) in [(w.wq, C * C), (w.wk, C * C), (w.wv, C * C), (w.wo, C * C), (w.w1, F * C), (w.w2, C * F)] {
                written.append(at..<(at + n))
            }
        }
        var zero: [Range<Int>] = [], at = 0
        for r in written.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if r.lowerBound > at { zero.append(at..<r.lowerBound) }
            at = max(at, r.upperBound)
        }
        if count > at { zero.append(at..<count) }
        return zero
    }

    /// Whether a step on a (B, T) batch takes this path with these kernels: the general
    /// path would run every op of it on the calling thread (each op's work under the
    /// threshold, or a pool of one thread) and its largest product is under `maxWork`.
    func handles(batchSize B: Int, seqLen T: Int, kernels: Kernels) -> Bool {
        guard kernels.implementation.resolved == .avx2 else { return false }
        let c = template
        let rows = B &* T
        let products = rows &* max(3 &* c.C &* c.C, c.F &* c.C, c.V &* c.C)
        let attention = B &* c.H &* T &* T &* (c.C / c.H) &* 4
        let elementwise = 16 &* rows &* max(c.V, c.F, 3 &* c.C)
        let largest = max(products, attention, elementwise, 3 &* c.L &* c.C &* c.C, 8 &* c.count)
        guard largest < SmallModelPath.maxWork else { return false }
        return kernels.pool.threadCount == 1 || largest < kernels.threshold
    }

    /// Model.forward's computation after the batch is copied in: returns the loss sum.
    func forward(batchSize B: Int, seqLen T: Int, targetCount: Int) -> Double {
        var m = template
        m.B = B; m.T = T; m.targetCount = targetCount
        return withUnsafePointer(to: &m) { ck_tiny_forward($0) }
    }

    /// Model.applyAdamW without clipping (the update does not depend on the norm): the
    /// update and the norm in one pass (`ck_adamw_update_sum_of_squares`), with the
    /// arithmetic of `Kernels.adamWUpdate` and `Model.gradientSumOfSquares`.
    func applyAdamW(_ s: Kernels.AdamWStep, exemptNormAndBias: Bool) -> Double {
        precondition(s.gradScale == 1)
        return ck_adamw_update_sum_of_squares(template.params, template.grads, adamM, adamV, template.count, Model.normBlock,
                                              noDecay.baseAddress, exemptNormAndBias ? noDecayRanges : 0,
                                              s.learningRate, s.beta1, s.oneMinusBeta1, s.beta2, s.oneMinusBeta2,
                                              s.epsilon, s.decay, s.biasCorrection1, s.biasCorrection2)
    }

    /// Model.backward for the last forward.
    func backward(batchSize B: Int, seqLen T: Int, targetCount: Int) {
        var m = template
        m.B = B; m.T = T; m.targetCount = targetCount
        withUnsafePointer(to: &m) { ck_tiny_backward($0) }
    }
}
