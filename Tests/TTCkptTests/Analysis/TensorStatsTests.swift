import Foundation
import Testing
@testable import TTAnalysis

/// Expected values below are worked out by hand in the comments (or are exact by
/// construction); tolerances are only used where a square root is involved, and are a few
/// ulps of Double (1e-15 relative), far below anything a wrong formula would produce.
@Suite struct TensorStatsTests {
    func close(_ x: Double?, _ y: Double, rel: Double = 1e-15) -> Bool {
        guard let x else { return false }
        return abs(x - y) <= rel * max(1, abs(y))
    }

    @Test func plainValues() {
        // [1, -2, 3, 0]: mean 0.5; deviations 0.5 -2.5 2.5 -0.5 -> squares sum 13 -> var 3.25
        // Σx² = 14 -> rms √3.5, l2 √14; one zero of four.
        let s = TensorStats([1, -2, 3, 0])
        #expect(s.count == 4)
        #expect(s.min == -2 && s.max == 3)
        #expect(s.mean == 0.5)
        #expect(close(s.std, 3.25.squareRoot()))
        #expect(close(s.rms, 3.5.squareRoot()))
        #expect(close(s.l2Norm, 14.0.squareRoot()))
        #expect(s.zeroCount == 1 && s.fractionZero == 0.25)
        #expect(s.nanCount == 0 && s.infCount == 0 && s.finiteCount == 4)
    }

    @Test func nanAndInfAreCountedButNotInMoments() {
        // Finite values: -0.0 and 2 -> min -0 (== 0), max 2, mean 1, std 1, rms √2, l2 2.
        let s = TensorStats([.nan, .infinity, -.infinity, -0.0, 2])
        #expect(s.count == 5)
        #expect(s.nanCount == 1 && s.positiveInfCount == 1 && s.negativeInfCount == 1 && s.infCount == 2)
        #expect(s.finiteCount == 2)
        #expect(s.min == 0 && s.max == 2)
        #expect(s.mean == 1 && s.std == 1)
        #expect(close(s.rms, 2.0.squareRoot()))
        #expect(s.l2Norm == 2)
        #expect(s.zeroCount == 1 && s.fractionZero == 0.2)  // -0 is a zero; NaN/Inf count in the total
    }

    @Test func noFiniteValues() {
        let s = TensorStats([.nan, .infinity])
        #expect(s.min == nil && s.max == nil && s.mean == nil && s.std == nil && s.rms == nil)
        #expect(s.l2Norm == 0 && s.fractionZero == 0)
        let e = TensorStats([Float]())
        #expect(e.count == 0 && e.fractionZero == 0 && e.mean == nil)
    }

    @Test func sumsAreInDouble() {
        // In Float, 1e8 + 1 rounds back to 1e8 and the mean would be 0. In Double the sum is
        // exactly 1, so the mean is 1/3 (correctly rounded).
        let s = TensorStats([1e8, 1, -1e8])
        #expect(s.mean == 1.0 / 3.0)
    }

    @Test func stdIsTwoPass() {
        // 1e4+1, 1e4+2, 1e4+3 (exact in Float): population variance 2/3. A one-pass
        // E[x²] − E[x]² in Double loses ~8 digits here (1e8-sized terms); two-pass is exact
        // up to rounding.
        let s = TensorStats([10001, 10002, 10003])
        #expect(close(s.std, (2.0 / 3.0).squareRoot(), rel: 1e-14))
    }

    @Test func jsonHasEveryKeyAndNullForMissing() {
        let json = TensorStats([.nan]).json.serialized(pretty: false)
        for key in ["count", "min", "max", "mean", "std", "rms", "l2_norm", "fraction_zero", "zero_count",
                    "nan_count", "inf_count"] {
            #expect(json.contains("\"\(key)\":"))
        }
        #expect(json.contains("\"min\":null"))
        #expect(json.contains("\"nan_count\":1"))
    }
}
