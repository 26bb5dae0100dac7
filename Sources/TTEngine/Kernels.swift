import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one Swift wrapper over the C kernels (`CKernels`), and how every op splits its work.
///
/// One argument order for every call, llm.c's: outputs first, then inputs, then weights,
/// then dimensions. Matrices are row-major and densely packed; letters as in Ops.swift:
///
///   forward:          out(M,N)  = a(M,K) · b(N,K)ᵀ (+ bias(N))
///   backward, input:  dA(M,K)  += dOut(M,N) · b(N,K)
///   backward, weight: dB(N,K)  += dOut(M,N)ᵀ · a(M,K)   (dBias(N) += Σ_m dOut(m,·))
///
/// One threshold rule: a call whose work (multiply-adds for a matmul, a per-element
/// estimate for the other ops) is below `threshold`, or a pool of one thread, runs on the
/// calling thread; anything else is split between the pool's threads.
///
/// Work is split by output element only, and each element's summation order is fixed by
/// the shapes (see `ckernels.h`), so results are bit-identical for every thread count and
/// every threshold. `.avx2` (the default when the CPU has AVX2 and FMA) fuses each
/// multiply-add; `.portable` rounds products and sums separately. The two differ in the
/// last bits; a machine always picks the same one.
public struct Kernels: Sendable {
    /// The code path for the C kernels.
    public enum Implementation: Sendable, CaseIterable, CustomStringConvertible {
        /// AVX2 + FMA when the CPU has them, else portable.
        case auto
        /// Plain C, no fused multiply-add.
        case portable
        /// AVX2 + FMA micro-kernel (falls back to portable on CPUs without them).
        case avx2

        var code: Int32 {
            switch self {
            case .auto: return Int32(CK_IMPL_AUTO)
            case .portable: return Int32(CK_IMPL_PORTABLE)
            case .avx2: return Int32(CK_IMPL_AVX2)
            }
        }

        /// What this resolves to on this machine (`.portable` or `.avx2`).
        public var resolved: Implementation {
            ck_resolve_impl(code) == Int32(CK_IMPL_AVX2) ? .avx2 : .portable
        }

        public var description: String {
            switch self {
            case .auto: return "auto"
            case .portable: return "portable"
            case .avx2: return "avx2"
            }
        }
    }

    /// True when the CPU has AVX2 and FMA (so `.auto` means `.avx2`).
    public static var avx2Available: Bool { ck_avx2_available() != 0 }

    /// The work under which a call runs on the calling thread: handing chunks to other
    /// threads costs about 10 µs, about what 2^16 multiply-adds take on one core.
    public static let defaultThreshold = 1 << 16

    public var pool: ThreadPool
    public var threshold: Int
    public var implementation: Implementation
    /// Room for one packed B operand, shared by the threads of a matmul split by rows
    /// (`sharedB`); nil: each thread packs its own. A model's kernels have one (in its
    /// activation buffer), so its matmuls must not run concurrently with each other (the
    /// model calls them one at a time, never from inside a parallel region).
    var packScratch: PackScratch? = nil

    struct PackScratch: @unchecked Sendable {
        let base: UnsafeMutablePointer<Float>
        let count: Int
        /// - Precondition: `base` is 32-byte aligned: the packed panels are written with
        ///   aligned vector stores (a misaligned room would fault only now and then).
        init(base: UnsafeMutablePointer<Float>, count: Int) {
            precondition(UInt(bitPattern: base) % 32 == 0, "PackScratch needs a 32-byte aligned base")
            self.base = base
            self.count = count
        }
    }

    public init(pool: ThreadPool = .shared, threshold: Int = Kernels.defaultThreshold, implementation: Implementation = .auto) {
        self.pool = pool
        self.threshold = threshold
        self.implementation = implementation
    }

    /// Everything on the calling thread.
    public static var serial: Kernels { Kernels(pool: .serial, threshold: .max) }

    /// Calls `body` on contiguous chunks covering `0..<count`: once, inline, when `work` is
    /// under the threshold or the pool has one thread; else split between the threads.
    @inline(__always)
    public func forEach(_ count: Int, work: Int, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        if pool.threadCount == 1 || work < threshold {
            body(0..<count)
        } else {
            pool.parallelFor(count, body)
        }
    }

    /// p[0..<count] = 0, split between the threads when it is large: a backward pass zeroes
    /// the gradients and the buffers its LayerNorms add into (about 4 MB a step on small),
    /// and while one thread did that the others waited.
    func zero(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
        let piece = 4096
        forEach((count + piece - 1) / piece, work: count) { pieces in
            let start = pieces.lowerBound * piece
            (p + start).update(repeating: 0, count: min(count, pieces.upperBound * piece) - start)
        }
    }

    /// Splits a rows × cols output (`depth` multiply-adds per element) along its longer
    /// side in whole micro-kernel tiles (6 rows or 16 columns), and calls
    /// `body(rowStart, rowEnd, colStart, colEnd)` once per block.
    @inline(__always)
    func splitOutput(rows: Int, cols: Int, depth: Int, _ body: (Int, Int, Int, Int) -> Void) {
        guard rows > 0, cols > 0 else { return }
        if rows >= cols {
            forEach((rows + 5) / 6, work: rows &* cols &* depth) { tiles in
                body(tiles.lowerBound * 6, min(rows, tiles.upperBound * 6), 0, cols)
            }
        } else {
            forEach((cols + 15) / 16, work: rows &* cols &* depth) { tiles in
                body(0, rows, tiles.lowerBound * 16, min(cols, tiles.upperBound * 16))
            }
        }
    }

    /// A matmul split by rows between threads has every thread pack all of B (the
    /// weights, or the activations of a weight gradient). When B fits `packScratch`, the
    /// threads instead pack disjoint panels of it there (`ck_matmul_pack_b`), and then
    /// `compute(packed, rowStart, rowEnd)` runs on each one's rows, in the 6-row tiles of
    /// `splitOutput`. Returns false, having done nothing, when that does not apply (one
    /// thread, work under the threshold, a column split unless `byRows`, or B too large).
    @inline(__always)
    func sharedB(_ shape: Int32, _ b: UnsafePointer<Float>, rows: Int, cols: Int, depth: Int,
                 _ M: Int, _ K: Int, _ N: Int, byRows: Bool = false,
                 _ compute: (UnsafePointer<Float>, Int, Int) -> Void) -> Bool {
        guard let room = packScratch, pool.threadCount > 1, byRows || rows >= cols, cols > 0, depth > 0,
              rows &* cols &* depth >= threshold else { return false }
        let panels = (cols + 15) / 16
        guard panels &* 16 &* depth <= room.count else { return false }
        let scratch = room.base
        let impl = implementation.code
        pool.parallelFor(panels) { q in
            ck_matmul_pack_b(impl, shape, scratch, b, M, K, N, q.lowerBound, q.upperBound)
        }
        pool.parallelFor((rows + 5) / 6) { tiles in
            compute(UnsafePointer(scratch), tiles.lowerBound * 6, min(rows, tiles.upperBound * 6))
        }
        return true
    }

    // MARK: - Matmuls

    /// out(M,N) = a(M,K) · b(N,K)ᵀ (+ bias(N)). `out` is overwritten. With `keep`, also
    /// writes b's decode layout there (`ck_matmul_forward_keep`: the GEMM packs b there,
    /// from the block holding row 0 of each column range); the same bits either way.
    public func matmulForward(_ out: UnsafeMutablePointer<Float>,
                              _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                              _ M: Int, _ N: Int, _ K: Int, keep: UnsafeMutablePointer<Float>? = nil) {
        let impl = implementation.code
        if keep == nil, sharedB(Int32(CK_SHAPE_FORWARD), b, rows: M, cols: N, depth: K, M, K, N, { packed, i0, i1 in
            ck_matmul_packed(impl, Int32(CK_SHAPE_FORWARD), out, a, packed, bias, M, K, N, i0, i1, 0, N, nil)
        }) { return }
        splitOutput(rows: M, cols: N, depth: K) { i0, i1, j0, j1 in
            if let keep, i0 == 0 {
                ck_matmul_forward_keep(impl, out, a, b, bias, M, K, N, i0, i1, j0, j1, keep)
            } else {
                ck_matmul_forward(impl, out, a, b, bias, M, K, N, i0, i1, j0, j1)
            }
        }
    }

    /// `shape`'s product (forward or backward_a: ck_matmul_packed's, written over), then
    /// `then(rowStart, rowEnd)` on each block of at most `rowBlock` finished rows, on the
    /// thread that computed them while they are still in its cache: for an elementwise op
    /// on the output (GELU after ffn.w1, its gradient after ffn.w2's), which then reads the
    /// output from cache instead of memory. B is packed once for all the threads
    /// (`sharedB`, split by rows whatever the shape). The same bits as the product and the
    /// op run one after the other, which is what it does where `sharedB` does not apply: on
    /// one thread (fused there, the blocks' op pushes the packed B out of L2: gpt-medium
    /// 0.4% slower, against 3% faster on two threads, where the op's memory traffic is what
    /// holds the threads back), under the threshold, and without room for B.
    func productThen(_ shape: Int32, _ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>,
                     _ b: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?, rows M: Int, cols: Int, depth: Int,
                     _ K: Int, _ N: Int, rowBlock: Int = 96, then: (Int, Int) -> Void) {
        guard M > 0, cols > 0 else { return }
        let impl = implementation.code
        if sharedB(shape, b, rows: M, cols: cols, depth: depth, M, K, N, byRows: true, { packed, i0, i1 in
            var i = i0
            while i < i1 {
                let next = min(i1, i &+ rowBlock)
                ck_matmul_packed(impl, shape, c, a, packed, bias, M, K, N, i, next, 0, cols, nil)
                then(i, next)
                i = next
            }
        }) { return }
        if shape == Int32(CK_SHAPE_FORWARD) {
            matmulForward(c, a, b, bias, M, N, K)
        } else {
            matmulBackwardInput(c, a, b, M, N, K, accumulate: shape != Int32(CK_SHAPE_BACKWARD_A_SET))
        }
        forEach((M + 5) / 6, work: M &* cols &* 8) { tiles in then(tiles.lowerBound &* 6, min(M, tiles.upperBound &* 6)) }
    }

    /// Floats of b(N,K)'s decode layout (`ck_decode_pack`).
    static func decodePackedCount(_ N: Int, _ K: Int) -> Int { Int(ck_decode_packed_count(K, N)) }

    /// Panels of the decode layout of N outputs (16 outputs a panel, the last one padded).
    static func decodePanels(_ N: Int) -> Int { (N + Int(CK_DECODE_PANEL) - 1) / Int(CK_DECODE_PANEL) }

    /// Writes b(N,K) in the decode layout: panels of 16 rows of b, each one stream.
    func decodePack(_ packed: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, _ N: Int, _ K: Int) {
        let impl = implementation.code
        forEach(Kernels.decodePanels(N), work: N &* K) { q in
            ck_decode_pack(impl, packed, b, K, N, q.lowerBound, q.upperBound)
        }
    }

    /// True when this implementation has the decode-layout product (`.avx2`).
    var hasDecodeProduct: Bool { implementation.resolved == .avx2 }

    /// out(1,N) = a(1,K) · b(N,K)ᵀ (+ bias(N)) from b's decode layout: bit for bit
    /// `matmulForward`'s row. Split by panels of 16 outputs.
    /// - Precondition: `hasDecodeProduct`.
    func matvecDecode(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>,
                      _ packed: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?, _ N: Int, _ K: Int) {
        let impl = implementation.code
        forEach(Kernels.decodePanels(N), work: N &* K) { q in
            let done = ck_matvec_decode(impl, out, a, packed, bias, K, N, q.lowerBound, q.upperBound)
            precondition(done != 0, "matvecDecode needs the avx2 implementation")
        }
    }

    /// dA(M,K) += dOut(M,N) · b(N,K); with `accumulate` false, dA = dOut · b, the same bits as
    /// adding it to zeros (see `ck_matmul_backward_a`) without zeroing or reading dA first.
    public func matmulBackwardInput(_ dA: UnsafeMutablePointer<Float>,
                                    _ dOut: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                                    _ M: Int, _ N: Int, _ K: Int, accumulate: Bool = true) {
        let impl = implementation.code
        let shape = Int32(accumulate ? CK_SHAPE_BACKWARD_A : CK_SHAPE_BACKWARD_A_SET)
        if sharedB(shape, b, rows: M, cols: K, depth: N, M, K, N, { packed, i0, i1 in
            ck_matmul_packed(impl, shape, dA, dOut, packed, nil, M, K, N, i0, i1, 0, K, nil)
        }) { return }
        splitOutput(rows: M, cols: K, depth: N) { i0, i1, j0, j1 in
            ck_matmul_backward_a(impl, dA, dOut, b, M, K, N, i0, i1, j0, j1, accumulate ? 1 : 0)
        }
    }

    /// dB(N,K) += dOut(M,N)ᵀ · a(M,K), and dBias(N) += the column sums of dOut (m in order,
    /// one float add each), which the C kernel adds while it packs dOut (on the thread that
    /// computes those rows of dB, so dOut is read once). With `accumulate` false,
    /// dB = dOutᵀ · a, the same bits as adding it to zeros (see `ck_matmul_backward_b`);
    /// dBias is still added to.
    public func matmulBackwardWeight(_ dB: UnsafeMutablePointer<Float>, _ dBias: UnsafeMutablePointer<Float>?,
                                     _ dOut: UnsafePointer<Float>, _ a: UnsafePointer<Float>,
                                     _ M: Int, _ N: Int, _ K: Int, accumulate: Bool = true) {
        let impl = implementation.code
        let shape = Int32(accumulate ? CK_SHAPE_BACKWARD_B : CK_SHAPE_BACKWARD_B_SET)
        if !sharedB(shape, a, rows: N, cols: K, depth: M, M, K, N, { packed, i0, i1 in
            ck_matmul_packed(impl, shape, dB, dOut, packed, nil, M, K, N, i0, i1, 0, K, dBias)
        }) {
            splitOutput(rows: N, cols: K, depth: M) { i0, i1, j0, j1 in
                ck_matmul_backward_b(impl, dB, dOut, a, M, K, N, i0, i1, j0, j1, accumulate ? 1 : 0, dBias)
            }
        }
        if K == 0, let dBias {   // no product to pack dOut for
            for m in 0..<M {
                let row = dOut + m &* N
                for n in 0..<N { dBias[n] += row[n] }
            }
        }
    }

    /// General strided product on the calling thread, for views such as one attention
    /// head (the caller splits the heads between threads):
    /// C[i·ldc + j] (= or +=) bias[j]? + Σ_{p<k} A(i,p)·B(p,j) for i in rows, j in cols, with
    /// A(i,p) = a[i·aRowStride + p·aColStride] and B(p,j) = b[p·bRowStride + j·bColStride].
    /// `bias` is used only when `accumulate` is false.
    @inline(__always)
    public func gemm(_ c: UnsafeMutablePointer<Float>, ldc: Int,
                     _ a: UnsafePointer<Float>, aRowStride: Int, aColStride: Int,
                     _ b: UnsafePointer<Float>, bRowStride: Int, bColStride: Int,
                     bias: UnsafePointer<Float>? = nil, accumulate: Bool,
                     rows: Range<Int>, cols: Range<Int>, depth k: Int) {
        ck_sgemm_block(implementation.code, rows.lowerBound, rows.upperBound, cols.lowerBound, cols.upperBound, k,
                       a, aRowStride, aColStride, b, bRowStride, bColStride, c, ldc, accumulate ? 1 : 0, bias)
    }

    // MARK: - AdamW

    /// One step's AdamW constants, computed in Double and rounded to Float once.
    public struct AdamWStep: Sendable, Equatable {
        var learningRate: Float, beta1: Float, oneMinusBeta1: Float, beta2: Float, oneMinusBeta2: Float
        var epsilon: Float, decay: Float, biasCorrection1: Float, biasCorrection2: Float, gradScale: Float

        /// - Parameters:
        ///   - step: AdamW's t, 1-based.
        ///   - gradScale: multiplies g before the moments (global-norm clipping; 1 otherwise).
        public init(learningRate: Double, beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double,
                    step t: Int, gradScale: Double = 1) {
            self.learningRate = Float(learningRate)
            self.beta1 = Float(beta1)
            self.oneMinusBeta1 = Float(1 - beta1)
            self.beta2 = Float(beta2)
            self.oneMinusBeta2 = Float(1 - beta2)
            self.epsilon = Float(epsilon)
            self.decay = Float(1 - learningRate * weightDecay)
            self.biasCorrection1 = Float(1 - pow(beta1, Double(t)))
            self.biasCorrection2 = Float(1 - pow(beta2, Double(t)))
            self.gradScale = Float(gradScale)
        }
    }

    /// One AdamW step (the series' notebook 10) over `count` elements, in place:
    /// g' = g·gradScale; m = β1·m + (1−β1)·g'; v = β2·v + (1−β2)·g'²;
    /// θ = θ·decay − lr·(m/(1−β1^t)) / (√(v/(1−β2^t)) + ε), with decay = 1 − lr·wd, or 1
    /// for the elements of the `noDecay` ranges (sorted, disjoint).
    /// The element math is Float with no fused multiply-add (`ck_adamw_update`), so results
    /// are identical on every machine and for every thread count. The split is by blocks of
    /// 64 elements, which keeps every thread's range cache-line aligned.
    public func adamWUpdate(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
                            m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int,
                            _ s: AdamWStep, noDecay: [Range<Int>] = []) {
        func run(_ i0: Int, _ i1: Int, decay: Float) {
            guard i0 < i1 else { return }
            ck_adamw_update(parameters, gradients, m, v, i0, i1, s.learningRate, s.beta1, s.oneMinusBeta1,
                            s.beta2, s.oneMinusBeta2, s.epsilon, decay, s.biasCorrection1, s.biasCorrection2, s.gradScale)
        }
        forEach((count + 63) / 64, work: 8 &* count) { blocks in
            let e0 = blocks.lowerBound &* 64, e1 = min(count, blocks.upperBound &* 64)
            var start = e0
            for r in noDecay where r.upperBound > e0 && r.lowerBound < e1 {
                let lo = max(e0, r.lowerBound), hi = min(e1, r.upperBound)
                run(start, lo, decay: s.decay)
                run(lo, hi, decay: 1)
                start = hi
            }
            run(start, e1, decay: s.decay)
        }
    }
}
