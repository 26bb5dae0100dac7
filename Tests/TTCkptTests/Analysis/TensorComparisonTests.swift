import Foundation
import Testing
@testable import TTAnalysis

@Suite struct ToleranceTests {
    @Test func exactMeansNumericallyEqual() {
        let t = Tolerance.exact
        #expect(t.isClose(1, 1))
        #expect(t.isClose(0, -0.0))
        #expect(!t.isClose(1, Float(1).nextUp))
    }

    @Test func absoluteBoundIsInclusive() {
        #expect(Tolerance(absolute: 0.5, relative: 0).isClose(1.0, 1.5))
        #expect(!Tolerance(absolute: 0.49, relative: 0).isClose(1.0, 1.5))
    }

    @Test func relativeTermUsesB() {
        // numpy: isclose(1, 2, rtol=.5, atol=0) is True (1 <= .5*2), isclose(2, 1, ...) False.
        let t = Tolerance(absolute: 0, relative: 0.5)
        #expect(t.isClose(1, 2))
        #expect(!t.isClose(2, 1))
        // atol and rtol add: |1-3| = 2 <= 0.5 + 0.5*3.
        #expect(t.isClose(1, 3) == false)
        #expect(Tolerance(absolute: 0.5, relative: 0.5).isClose(1, 3))
    }

    @Test func nanNeverCloseInfOnlyToItself() {
        let loose = Tolerance(absolute: 1e300, relative: 1e300)
        #expect(!loose.isClose(.nan, .nan))
        #expect(!loose.isClose(.nan, 1))
        #expect(!loose.isClose(1, .nan))
        #expect(loose.isClose(.infinity, .infinity))
        #expect(loose.isClose(-.infinity, -.infinity))
        #expect(!loose.isClose(.infinity, -.infinity))
        #expect(!loose.isClose(.greatestFiniteMagnitude, .infinity))
        #expect(!loose.isClose(.infinity, 1))
    }

    @Test func evaluatedInDouble() {
        // |a-b| = 2^-23 exactly; atol = 2^-23 + tiny: in Double the bound holds. With
        // atol = 2^-23 * (1 - 2^-40), which rounds to 2^-23 in Float, Double keeps it below.
        let a: Float = 1, b = Float(1).nextUp
        #expect(Tolerance(absolute: 0x1p-23, relative: 0).isClose(a, b))
        #expect(!Tolerance(absolute: 0x1p-23 * (1 - 0x1p-40), relative: 0).isClose(a, b))
    }
}

@Suite struct TensorComparisonTests {
    @Test func handComputedDifferences() {
        // a−b = [0, −0.5, 0, 2]: max |a−b| = 2 at 3; Σd² = 4.25 -> rms √(4.25/4),
        // ‖a−b‖ = √4.25, ‖a‖ = √30.
        let c = TensorComparison([1, 2, 3, 4], [1, 2.5, 3, 2], tolerance: .exact)
        #expect(c.count == 4)
        #expect(c.maxAbsDifference == 2 && c.maxAbsDifferenceIndex == 3)
        #expect(c.rmsDifference == (4.25 / 4).squareRoot())
        #expect(c.differenceNorm == 4.25.squareRoot())
        #expect(c.referenceNorm == 30.0.squareRoot())
        #expect(c.relativeChange == 4.25.squareRoot() / 30.0.squareRoot())
        #expect(c.outsideTolerance == 2 && c.firstOutsideIndex == 1 && c.bitDifferences == 2)
        #expect(!c.isClose)
        // atol 0.5 lets index 1 (|−0.5| ≤ 0.5) pass, not index 3.
        let loose = TensorComparison([1, 2, 3, 4], [1, 2.5, 3, 2], tolerance: Tolerance(absolute: 0.5, relative: 0))
        #expect(loose.outsideTolerance == 1 && loose.firstOutsideIndex == 3)
    }

    @Test func relativeChangeWhenANormIsZero() {
        #expect(TensorComparison([0, 0], [0, 0], tolerance: .exact).relativeChange == 0)
        #expect(TensorComparison([0, 0], [0, 1], tolerance: .exact).relativeChange == .infinity)
        #expect(TensorComparison([Float](), [], tolerance: .exact).relativeChange == 0)
    }

    @Test func nonFinitePositions() {
        // NaN vs NaN: same bits, but never close. Inf vs Inf: close. 5 vs 3: outside.
        // Finite pairs: (1,1) and (5,3) -> max 2 at 3, rms √(4/2).
        let c = TensorComparison([.nan, .infinity, 1, 5], [.nan, .infinity, 1, 3], tolerance: .exact)
        #expect(c.nonFiniteCount == 2)
        #expect(c.outsideTolerance == 2 && c.firstOutsideIndex == 0)
        #expect(c.bitDifferences == 1)
        #expect(c.maxAbsDifference == 2 && c.maxAbsDifferenceIndex == 3)
        #expect(c.rmsDifference == 2.0.squareRoot())
    }

    @Test func signedZeroIsEqualButNotBitIdentical() {
        let c = TensorComparison([0, 1], [-0.0, 1], tolerance: .exact)
        #expect(c.isClose && c.bitDifferences == 1)
        #expect(c.maxAbsDifference == 0 && c.maxAbsDifferenceIndex == nil)
    }

    @Test func firstMaximumWins() {
        let c = TensorComparison([0, 3, 0, -3], [0, 0, 0, 0], tolerance: .exact)
        #expect(c.maxAbsDifferenceIndex == 1)
    }

    @Test func multiIndexRowMajor() {
        // shape (2,3,4): strides 12, 4, 1. 7 = 0·12 + 1·4 + 3; 23 = 1·12 + 2·4 + 3.
        #expect(multiIndex(7, shape: [2, 3, 4]) == [0, 1, 3])
        #expect(multiIndex(23, shape: [2, 3, 4]) == [1, 2, 3])
        #expect(multiIndex(5, shape: [6]) == [5])
        #expect(multiIndex(0, shape: []) == [])
    }

    @Test func vocabularyRowTensors() {
        for name in ["tok_emb", "lm_head", "adam_m.tok_emb", "adam_v.tok_emb", "adam_m.lm_head", "adam_v.lm_head"] {
            #expect(hasVocabularyRows(name), "\(name)")
        }
        for name in ["pos_emb", "layers.0.attn.wq", "adam_m.pos_emb", "xtok_emb", "tok_emb.x", "adam_m.adam_v.tok_emb"] {
            #expect(!hasVocabularyRows(name), "\(name)")
        }
    }
}
