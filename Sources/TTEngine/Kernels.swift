import TTCore
import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Matrix multiplies for the engine, on the C kernels in `CKernels` and a `ThreadPool`.
///
/// Shapes are row-major; letters follow the engine: a (M,K) activations, b (N,K) weights,
/// out/dOut (M,N). Work is split between threads by blocks of output elements only, and
/// each output element's summation order is fixed by the shape (see `ckernels.h`), so
/// the results are bit-identical for every thread count and every run.
///
/// `.avx2` (the default when the CPU has AVX2 and FMA) fuses each multiply-add;
/// `.portable` rounds products and sums separately. The two differ in the last bits;
/// a machine always picks the same one.
public enum Kernels {
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

    /// Below this many multiply-adds a matmul runs on the calling thread: handing work to
    /// the pool costs more than it saves.
    public static let parallelThreshold = 1 << 17

    /// out(M,N) = a(M,K)·b(N,K)ᵀ (+ bias(N)). `out` is overwritten.
    public static func matmulForward(out: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>,
                                     b: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                     m: Int, k: Int, n: Int,
                                     pool: ThreadPool = .shared, implementation: Implementation = .auto) {
        let impl = implementation.code
        splitOutput(rows: m, cols: n, depth: k, pool: pool) { i0, i1, j0, j1 in
            ck_matmul_forward(impl, out, a, b, bias, m, k, n, i0, i1, j0, j1)
        }
    }

    /// dA(M,K) += dOut(M,N)·b(N,K).
    public static func matmulBackwardInput(dA: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                                           b: UnsafePointer<Float>, m: Int, k: Int, n: Int,
                                           pool: ThreadPool = .shared, implementation: Implementation = .auto) {
        let impl = implementation.code
        splitOutput(rows: m, cols: k, depth: n, pool: pool) { i0, i1, j0, j1 in
            ck_matmul_backward_a(impl, dA, dOut, b, m, k, n, i0, i1, j0, j1)
        }
    }

    /// dB(N,K) += dOut(M,N)ᵀ·a(M,K).
    public static func matmulBackwardWeight(dB: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                                            a: UnsafePointer<Float>, m: Int, k: Int, n: Int,
                                            pool: ThreadPool = .shared, implementation: Implementation = .auto) {
        let impl = implementation.code
        splitOutput(rows: n, cols: k, depth: m, pool: pool) { i0, i1, j0, j1 in
            ck_matmul_backward_b(impl, dB, dOut, a, m, k, n, i0, i1, j0, j1)
        }
    }

    /// General strided product, for views such as one attention head:
    /// C[i·ldc + j] (= or +=) bias[j]? + Σ_{p<k} A(i,p)·B(p,j) for i < m, j < n, with
    /// A(i,p) = a[i·aRowStride + p·aColStride] and B(p,j) = b[p·bRowStride + j·bColStride].
    /// `bias` is used only when `accumulate` is false.
    public static func gemm(m: Int, n: Int, k: Int,
                            a: UnsafePointer<Float>, aRowStride: Int, aColStride: Int,
                            b: UnsafePointer<Float>, bRowStride: Int, bColStride: Int,
                            c: UnsafeMutablePointer<Float>, ldc: Int,
                            accumulate: Bool, bias: UnsafePointer<Float>? = nil,
                            pool: ThreadPool = .shared, implementation: Implementation = .auto) {
        let impl = implementation.code
        splitOutput(rows: m, cols: n, depth: k, pool: pool) { i0, i1, j0, j1 in
            ck_sgemm_block(impl, i0, i1, j0, j1, k, a, aRowStride, aColStride,
                           b, bRowStride, bColStride, c, ldc, accumulate ? 1 : 0, bias)
        }
    }

    /// Splits a rows × cols output between the pool's threads along its longer side, in
    /// whole micro-kernel tiles (6 rows or 16 columns), and calls
    /// `body(rowStart, rowEnd, colStart, colEnd)` once per block.
    @inline(__always)
    static func splitOutput(rows: Int, cols: Int, depth: Int, pool: ThreadPool,
                            threshold: Int = parallelThreshold,
                            _ body: (Int, Int, Int, Int) -> Void) {
        guard rows > 0, cols > 0 else { return }
        if pool.threadCount == 1 || rows &* cols &* depth < threshold {
            body(0, rows, 0, cols)
        } else if rows >= cols {
            pool.parallelFor((rows + 5) / 6) { tiles in
                body(tiles.lowerBound * 6, min(rows, tiles.upperBound * 6), 0, cols)
            }
        } else {
            pool.parallelFor((cols + 15) / 16) { tiles in
                body(0, rows, tiles.lowerBound * 16, min(cols, tiles.upperBound * 16))
            }
        }
    }
}

extension Kernels {
    /// Below this many elements an AdamW update runs on the calling thread.
    public static let adamWParallelThreshold = 1 << 15

    /// One AdamW step (the series' notebook 10) over `count` elements, in place:
    /// g' = g·gradScale; m = β1·m + (1−β1)·g'; v = β2·v + (1−β2)·g'²;
    /// θ = θ·(1 − lr·wd) − lr·(m/(1−β1^t)) / (√(v/(1−β2^t)) + ε).
    /// The per-step constants are computed in Double and rounded to Float once; the
    /// element math is Float with no fused multiply-add, so results are identical on
    /// every machine and for every thread count.
    public static func adamWUpdate(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
                                   m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int,
                                   learningRate: Double, beta1: Double, beta2: Double, epsilon: Double,
                                   weightDecay: Double, step t: Int, gradScale: Float = 1,
                                   pool: ThreadPool = .shared) {
        let bias1 = Float(1 - pow(beta1, Double(t)))
        let bias2 = Float(1 - pow(beta2, Double(t)))
        let lr = Float(learningRate), decay = Float(1 - learningRate * weightDecay)
        let (b1, omb1, b2, omb2, eps) = (Float(beta1), Float(1 - beta1), Float(beta2), Float(1 - beta2), Float(epsilon))
        func run(_ i0: Int, _ i1: Int) {
            ck_adamw_update(parameters, gradients, m, v, i0, i1, lr, b1, omb1, b2, omb2, eps, decay, bias1, bias2, gradScale)
        }
        if pool.threadCount == 1 || count < adamWParallelThreshold {
            run(0, count)
        } else {
            // Chunks of 64 elements keep every thread's range cache-line aligned.
            let blocks = (count + 63) / 64
            pool.parallelFor(blocks) { r in run(r.lowerBound * 64, min(count, r.upperBound * 64)) }
        }
    }
}
