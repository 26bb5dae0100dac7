import CKernels
import TTEngine

/// The machine's FMA peak, measured in the same run as everything it is compared with
/// (`ck_fma_peak`: 12 independent FMA chains per thread, AVX2+FMA when available).
enum PeakBench {
    struct Peak {
        /// GFLOP/s by thread count.
        var gflops: [Int: Double]
        var width: Int

        func of(threads: Int) -> Double? { gflops[threads] }
    }

    /// Best of `trials` runs of about `seconds` each, on 1 and on each count in `threads`
    /// (all threads of a ThreadPool running the loop at once; the wall time of the slowest).
    static func measure(threads: [Int], seconds: Double = 0.3, trials: Int = 3) -> Peak {
        let width = Int(ck_fma_peak_width())
        let flopsPerIteration = Double(2 * 12 * width)
        // Calibrate: iterations for about `seconds` on one thread.
        var iterations = 1_000_000
        while true {
            let start = now()
            _ = ck_fma_peak(iterations)
            let t = now() - start
            if t > 0.05 { iterations = max(1, Int(Double(iterations) * seconds / t)); break }
            iterations *= 4
        }
        var result: [Int: Double] = [:]
        for n in Set([1] + threads).sorted() {
            let pool = ThreadPool(threads: n)
            var best = 0.0
            for _ in 0..<trials {
                let start = now()
                pool.parallelFor(n) { chunk in
                    for _ in chunk { sink(ck_fma_peak(iterations)) }
                }
                let t = now() - start
                best = max(best, Double(n) * Double(iterations) * flopsPerIteration / t / 1e9)
            }
            result[n] = best
        }
        return Peak(gflops: result, width: width)
    }

    /// Nanoseconds per float of `ck_sqrt_div_peak` (one square root and one division, as
    /// AdamW does per parameter) on one thread: the best of `trials` runs of about `seconds`.
    static func sqrtDivNanoseconds(seconds: Double = 0.1, trials: Int = 3) -> Double {
        let floatsPerIteration = Double(8 * Int(ck_fma_peak_width()))
        var iterations = 100_000
        while true {
            let start = now()
            sink(ck_sqrt_div_peak(iterations))
            let t = now() - start
            if t > 0.02 { iterations = max(1, Int(Double(iterations) * seconds / t)); break }
            iterations *= 4
        }
        var best = Double.infinity
        for _ in 0..<trials {
            let start = now()
            sink(ck_sqrt_div_peak(iterations))
            best = min(best, (now() - start) / (Double(iterations) * floatsPerIteration) * 1e9)
        }
        return best
    }

    static func describe(_ peak: Peak) -> String {
        let parts = peak.gflops.keys.sorted().map { "\($0) thread\($0 == 1 ? "" : "s") \(fmt(peak.gflops[$0]!, 1)) GFLOP/s" }
        return "FMA peak measured in this run (\(peak.width == 8 ? "AVX2+FMA, 8 floats" : "scalar") × 12 independent chains per thread): "
            + parts.joined(separator: ", ") + ".\n"
    }
}

/// Keeps a value alive so the loop that made it is not optimized away.
@inline(never)
func sink(_ x: Float) {
    if x.isNaN { print("", terminator: "") }
}
