import Foundation
import Testing
@testable import TTAnalysis
@testable import TTCore
@testable import TTEngine
@testable import TTFormat
@testable import TTInterop
@testable import TTTokenizer
@testable import TTTraining

/// Expected values below are worked out by hand in the comments (or are exact by
/// construction); tolerances are only used where a square root is involved, and are a few
/// ulps of Double (1e-15 relative), far below anything a wrong formula would produce.
@Suite struct AnalysisStatsTests {
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

@Suite struct AnalysisToleranceTests {
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

@Suite struct AnalysisComparisonTests {
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

@Suite struct AnalysisSparklineTests {
    @Test func oneCharacterPerValue() {
        // lo 1, hi 8: level ⌊8(v−1)/7⌋ = 0,1,2,3,4,5,6,8→7.
        #expect(Sparkline.render([1, 2, 3, 4, 5, 6, 7, 8], width: 8) == "▁▂▃▄▅▆▇█")
        #expect(Sparkline.render([8, 1], width: 10) == "█▁")
    }

    @Test func bucketsAreMeans() {
        // Means 1, 2, 3, 4 -> ⌊8·(0, 1/3, 2/3, 1)⌋ = 0, 2, 5, 8→7.
        #expect(Sparkline.render([1, 1, 2, 2, 3, 3, 4, 4], width: 4) == "▁▃▆█")
        // n = 5, w = 2: buckets 0..<2 and 2..<5 -> means 1 and 10.
        #expect(Sparkline.render([0, 2, 10, 10, 10], width: 2) == "▁█")
    }

    @Test func widthIsRespected() {
        let values = (0..<1000).map { Float($0) }
        let line = Sparkline.render(values, width: 60)
        #expect(line.count == 60)
        #expect(line.first == "▁" && line.last == "█")
    }

    @Test func edgeCases() {
        #expect(Sparkline.render([], width: 10) == "")
        #expect(Sparkline.render([1, 2], width: 0) == "")
        #expect(Sparkline.render([3, 3, 3], width: 10) == "▁▁▁")
        #expect(Sparkline.render([1, .nan, 3], width: 3) == "▁ █")
        #expect(Sparkline.render([.nan, .infinity], width: 2) == "  ")
    }
}

@Suite struct AnalysisJSONTests {
    @Test func compactSerialization() {
        let v = JSONValue.object([
            ("a", .int(-3)), ("b", .array([.float(1.5), .float(.nan), .double(.infinity), .null])),
            ("c", .string("x\ny\u{1}\"\\")), ("d", .bool(true)), ("e", .uint(UInt64.max)), ("f", .object([])),
        ])
        #expect(v.serialized(pretty: false)
            == #"{"a":-3,"b":[1.5,null,null,null],"c":"x\ny\u0001\"\\","d":true,"e":18446744073709551615,"f":{}}"#)
    }

    @Test func prettyKeepsScalarArraysOnOneLine() {
        let v = JSONValue.object([("m", .array([.array([.int(1), .int(2)]), .array([.int(3), .int(4)])])), ("s", .string("x"))])
        #expect(v.serialized() == """
            {
              "m": [
                [1, 2],
                [3, 4]
              ],
              "s": "x"
            }
            """)
    }

    @Test func everyControlCharacterIsEscapedAndParsesBack() throws {
        var s = ""
        for v in Array(0...0x20) + [0x22, 0x5C, 0x7F, 0x85, 0x9F, 0x2028, 0x2029, 0xE9, 0x1F600,
                                    0x061C, 0x200E, 0x200F, 0x202A, 0x202E, 0x2066, 0x2069, 0xFEFF, 0x10FFFD] {
            s.unicodeScalars.append(Unicode.Scalar(UInt32(v))!)
        }
        let text = JSONValue.array([.string(s)]).serialized(pretty: false)
        // No raw control, bidi, format or private-use character survives (U+10FFFD is
        // written as the UTF-16 pair \udbff\udffd); the letter and the emoji do.
        #expect(!text.unicodeScalars.contains { TerminalText.needsEscape($0) })
        #expect(text.contains("\\u202e") && text.contains("\\udbff\\udffd") && text.contains("é\u{1F600}"))
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String]
        #expect(parsed == [s])
    }

    @Test func floatsRoundTripExactly() throws {
        var samples: [Float] = [0.1, 1.0 / 3.0, -0.0, 16_777_215, .leastNonzeroMagnitude, .leastNormalMagnitude,
                                .greatestFiniteMagnitude, -.greatestFiniteMagnitude, Float(1).nextUp, 3.4e38, 1e-7, 123_456_792]
        var rng = PythonRandom(seed: 7)
        while samples.count < 5000 {
            let x = Float(bitPattern: rng.nextUInt32())
            if x.isFinite { samples.append(x) }
        }
        let text = JSONValue.array(samples.map { .float($0) }).serialized(pretty: false)
        // Both ways a reader may take: straight to Float, and (like Python's json) to
        // Double, then to Float.
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [NSNumber])
        #expect(parsed.count == samples.count)
        let tokens = text.dropFirst().dropLast().split(separator: ",")
        for (i, x) in samples.enumerated() {
            #expect(Float(parsed[i].doubleValue).bitPattern == x.bitPattern, "\(x)")
            #expect(Float(String(tokens[i]))?.bitPattern == x.bitPattern, "\(x)")
        }
    }

    @Test func nestedArrayIsRowMajor() {
        let values: [Float] = [1, 2, 3, 4, 5, 6]
        let v = values.withUnsafeBufferPointer { JSONValue.nestedArray($0, shape: [2, 3]) }
        #expect(v.serialized(pretty: false) == "[[1.0,2.0,3.0],[4.0,5.0,6.0]]")
        let w = values.withUnsafeBufferPointer { JSONValue.nestedArray($0, shape: [3, 1, 2]) }
        #expect(w.serialized(pretty: false) == "[[[1.0,2.0]],[[3.0,4.0]],[[5.0,6.0]]]")
    }
}

@Suite struct AnalysisDisplayTextTests {
    @Test func tableAlignsColumns() {
        let lines = DisplayText.table([["a", "1"], ["bbb", "22"]], rightAligned: [false, true])
        #expect(lines == ["a     1", "bbb  22"])
    }
}
