import CKernels
import Testing
@testable import TTCore

/// The elementwise kernels' vector paths (three vectors at a time, then one, then a masked
/// or scalar tail) give the bits of the scalar code, element by element, for every length
/// around those boundaries, and on NaN, ±infinity and values beyond exp's range.
@Suite struct KernelsElementwiseTests {
    /// Gaussian values with a sprinkling of the special cases.
    static func inputs(_ n: Int, seed: UInt64) -> [Float] {
        var rng = PythonRandom(seed: seed)
        let specials: [Float] = [.nan, .infinity, -.infinity, 1e30, -1e30, 90, -110, 0, -0.0]
        return (0..<n).map { i in
            i % 11 == 7 ? specials[(i / 11) % specials.count] : Float(rng.gauss(mu: 0, sigma: 4))
        }
    }

    /// ck_exp_shift_sum: x[i] ← exp(x[i] − shift) as ck_expf gives it; the sum adds the
    /// exps of each block of 8 into 8 lanes, reduces the lanes in the fixed tree, then adds
    /// the rest one at a time.
    @Test func expShiftSumGivesTheScalarBitsInTheSpecifiedOrder() {
        for n in 0...53 {
            for shift: Float in [0, 3.5, -2] {
                var x = Self.inputs(n, seed: UInt64(100 + n))
                let expected = x.map { ck_expf($0 - shift) }
                var lanes = [Float](repeating: 0, count: 8)
                let full = n - n % 8
                for i in 0..<full { lanes[i % 8] = lanes[i % 8] + expected[i] }
                var sum = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]))
                for i in full..<n { sum += expected[i] }
                let got = x.withUnsafeMutableBufferPointer { ck_exp_shift_sum($0.baseAddress, n, shift) }
                #expect(x.map(\.bitPattern) == expected.map(\.bitPattern), "n \(n) shift \(shift)")
                #expect(got.bitPattern == sum.bitPattern, "n \(n) shift \(shift): sum \(got) against \(sum)")
            }
        }
    }

    /// ck_gelu_forward and ck_gelu_backward over a whole range against one call per
    /// element (fewer than 8 elements run the scalar code), with and without the exps the
    /// forward keeps for the backward.
    @Test func geluRangesGiveTheScalarBits() {
        for n in [1, 7, 8, 9, 23, 24, 25, 31, 32, 48, 49, 100] {
            let x = Self.inputs(n, seed: UInt64(n)), dout = Self.inputs(n, seed: UInt64(1000 + n))
            var f1 = [Float](repeating: 0, count: n), f2 = f1, f3 = f1
            var e1 = [Float](repeating: .nan, count: n), e2 = e1
            ck_gelu_forward(&f1, &e1, x, 0, n)
            for i in 0..<n { ck_gelu_forward(&f2, &e2, x, i, i + 1) }
            ck_gelu_forward(&f3, nil, x, 0, n)
            #expect(f1.map(\.bitPattern) == f2.map(\.bitPattern), "forward, n \(n)")
            #expect(f3.map(\.bitPattern) == f1.map(\.bitPattern), "forward without exps, n \(n)")
            #expect(e1.map(\.bitPattern) == e2.map(\.bitPattern), "exps, n \(n)")
            let gs: Float = 0.7978845608028654, gk: Float = 0.044715
            for i in 0..<n where !x[i].isNaN {
                let u = gs * (x[i] + gk * x[i] * x[i] * x[i])
                #expect(e1[i].bitPattern == ck_expf(-2 * abs(u)).bitPattern, "exp kept for x = \(x[i])")
            }
            let start = Self.inputs(n, seed: UInt64(2000 + n))
            var d1 = start, d2 = start, d3 = start
            ck_gelu_backward(&d1, x, nil, dout, 0, n, 1)
            for i in 0..<n { ck_gelu_backward(&d2, x, nil, dout, i, i + 1, 1) }
            ck_gelu_backward(&d3, x, e1, dout, 0, n, 1)
            #expect(d1.map(\.bitPattern) == d2.map(\.bitPattern), "backward, n \(n)")
            #expect(d3.map(\.bitPattern) == d1.map(\.bitPattern), "backward from the kept exps, n \(n)")
            // Written over (NaN here) as if added to zeros: a −0 product comes out +0.
            var zeros = [Float](repeating: 0, count: n), set1 = [Float](repeating: .nan, count: n), set2 = set1, set3 = set1
            ck_gelu_backward(&zeros, x, nil, dout, 0, n, 1)
            ck_gelu_backward(&set1, x, nil, dout, 0, n, 0)
            for i in 0..<n { ck_gelu_backward(&set2, x, nil, dout, i, i + 1, 0) }
            for i in 0..<n { ck_gelu_backward(&set3, x, e1, dout, i, i + 1, 0) }
            #expect(set1.map(\.bitPattern) == zeros.map(\.bitPattern), "backward written over, n \(n)")
            #expect(set2.map(\.bitPattern) == zeros.map(\.bitPattern), "backward written over one at a time, n \(n)")
            #expect(set3.map(\.bitPattern) == zeros.map(\.bitPattern), "the same from the kept exps, n \(n)")
        }
    }
}
