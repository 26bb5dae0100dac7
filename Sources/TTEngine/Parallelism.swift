import TTCore
import CKernels

/// How an op may split its work: a pool, and the amount of work (roughly, multiply-adds)
/// below which it runs on the calling thread because handing work to the pool would cost
/// more than it saves (a `parallelFor` costs about 10 µs of wake-ups).
///
/// Every op splits by output element only, and each output element's arithmetic is fixed
/// by the shapes alone, so results are bit-identical for every thread count and threshold.
struct Parallelism {
    var pool: ThreadPool
    var threshold: Int

    /// Work units under which an op runs inline.
    static let defaultThreshold = 1 << 16

    /// Everything on the calling thread.
    static var serial: Parallelism { Parallelism(pool: ThreadPool.serial, threshold: Int.max) }

    /// Calls `body` on contiguous chunks covering `0..<count`: once, inline, when `work`
    /// is under the threshold or the pool has one thread; else split between the threads.
    @inline(__always)
    func forEach(_ count: Int, work: Int, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        if pool.threadCount == 1 || work < threshold {
            body(0..<count)
        } else {
            pool.parallelFor(count, body)
        }
    }

    // MARK: Matmuls on the C kernels (engine argument order; see Matmul.swift)

    /// out(M,N) = a(M,K) · b(N,K)ᵀ (+ bias(N)).
    func matmulForward(_ out: UnsafeMutablePointer<Float>,
                       _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                       _ M: Int, _ N: Int, _ K: Int) {
        let impl = Int32(CK_IMPL_AUTO)
        Kernels.splitOutput(rows: M, cols: N, depth: K, pool: pool, threshold: threshold) { i0, i1, j0, j1 in
            ck_matmul_forward(impl, out, a, b, bias, M, K, N, i0, i1, j0, j1)
        }
    }

    /// dA(M,K) += dOut(M,N) · b(N,K).
    func matmulBackwardInput(_ dA: UnsafeMutablePointer<Float>,
                             _ dOut: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                             _ M: Int, _ N: Int, _ K: Int) {
        let impl = Int32(CK_IMPL_AUTO)
        Kernels.splitOutput(rows: M, cols: K, depth: N, pool: pool, threshold: threshold) { i0, i1, j0, j1 in
            ck_matmul_backward_a(impl, dA, dOut, b, M, K, N, i0, i1, j0, j1)
        }
    }

    /// dB(N,K) += dOut(M,N)ᵀ · a(M,K), and dBias(N) += column sums of dOut (m in order).
    func matmulBackwardWeight(_ dB: UnsafeMutablePointer<Float>, _ dBias: UnsafeMutablePointer<Float>?,
                              _ dOut: UnsafePointer<Float>, _ a: UnsafePointer<Float>,
                              _ M: Int, _ N: Int, _ K: Int) {
        let impl = Int32(CK_IMPL_AUTO)
        Kernels.splitOutput(rows: N, cols: K, depth: M, pool: pool, threshold: threshold) { i0, i1, j0, j1 in
            ck_matmul_backward_b(impl, dB, dOut, a, M, K, N, i0, i1, j0, j1)
        }
        if let dBias {
            forEach(N, work: M &* N) { ns in
                let n0 = ns.lowerBound, n1 = ns.upperBound
                for m in 0..<M {
                    let row = dOut + m &* N
                    for n in n0..<n1 { dBias[n] += row[n] }
                }
            }
        }
    }
}

extension ThreadPool {
    /// A pool of one thread (no workers): runs everything inline.
    static let serial = ThreadPool(threads: 1)
}
