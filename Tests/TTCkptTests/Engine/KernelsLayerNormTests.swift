import CKernels
import Testing
@testable import TTCore
@testable import TTEngine

/// `ck_layernorm_*`: the AVX2 blocks (8 rows a block, one row a lane) give the bits of the
/// scalar loops, which run for any range of fewer than 8 rows (or channels) and for C not
/// a multiple of 8; and the forward is the formula, checked against Double.
@Suite struct KernelsLayerNormTests {
    struct Shape: CustomTestStringConvertible, Sendable {
        var N: Int, C: Int
        var testDescription: String { "N \(N) C \(C)" }
    }

    static let shapes = [Shape(N: 19, C: 128), Shape(N: 8, C: 8), Shape(N: 33, C: 24), Shape(N: 9, C: 20), Shape(N: 5, C: 64)]

    static func random(_ n: Int, _ rng: inout PythonRandom, mu: Double = 0, sigma: Double = 1) -> [Float] {
        (0..<n).map { _ in Float(rng.gauss(mu: mu, sigma: sigma)) }
    }

    /// The whole range in one call (blocks of 8 rows where it can) against one call per
    /// row (the scalar loop): forward, backward rows, and parameter gradients over all
    /// channels at once against one channel at a time.
    @Test(arguments: shapes)
    func blocksGiveTheScalarBits(_ s: Shape) {
        let (N, C) = (s.N, s.C)
        var rng = PythonRandom(seed: UInt64(N * 1000 + C))
        let x = Self.random(N * C, &rng, mu: 0.3, sigma: 2), w = Self.random(C, &rng, mu: 1, sigma: 0.3)
        let b = Self.random(C, &rng, sigma: 0.2), dout = Self.random(N * C, &rng)
        var out1 = [Float](repeating: 0, count: N * C), out2 = out1
        var mean1 = [Float](repeating: 0, count: N), mean2 = mean1, rstd1 = mean1, rstd2 = mean1
        ck_layernorm_forward(&out1, &mean1, &rstd1, x, w, b, C, 1e-5, 0, N)
        for i in 0..<N { ck_layernorm_forward(&out2, &mean2, &rstd2, x, w, b, C, 1e-5, i, i + 1) }
        #expect(out1.map(\.bitPattern) == out2.map(\.bitPattern))
        #expect(mean1.map(\.bitPattern) == mean2.map(\.bitPattern) && rstd1.map(\.bitPattern) == rstd2.map(\.bitPattern))

        let start = Self.random(N * C, &rng)
        var dinp1 = start, dinp2 = start
        ck_layernorm_backward_rows(&dinp1, dout, x, w, mean1, rstd1, C, 0, N)
        for i in 0..<N { ck_layernorm_backward_rows(&dinp2, dout, x, w, mean1, rstd1, C, i, i + 1) }
        #expect(dinp1.map(\.bitPattern) == dinp2.map(\.bitPattern))
        #expect(dinp1 != start)

        let dw0 = Self.random(C, &rng), db0 = Self.random(C, &rng)
        var dw1 = dw0, db1 = db0, dw2 = dw0, db2 = db0
        ck_layernorm_backward_params(&dw1, &db1, dout, x, mean1, rstd1, N, C, 0, C)
        for c in 0..<C { ck_layernorm_backward_params(&dw2, &db2, dout, x, mean1, rstd1, N, C, c, c + 1) }
        #expect(dw1.map(\.bitPattern) == dw2.map(\.bitPattern) && db1.map(\.bitPattern) == db2.map(\.bitPattern))
        #expect(dw1 != dw0 && db1 != db0)
    }

    /// The forward against the formula in Double: (x − mean)/√(var + ε)·w + b.
    @Test(arguments: shapes)
    func forwardIsLayerNorm(_ s: Shape) {
        let (N, C) = (s.N, s.C)
        var rng = PythonRandom(seed: 7)
        let x = Self.random(N * C, &rng, mu: -1, sigma: 3), w = Self.random(C, &rng, mu: 1, sigma: 0.3)
        let b = Self.random(C, &rng, sigma: 0.2)
        var out = [Float](repeating: 0, count: N * C), mean = [Float](repeating: 0, count: N), rstd = mean
        ck_layernorm_forward(&out, &mean, &rstd, x, w, b, C, 1e-5, 0, N)
        var worst = 0.0
        for i in 0..<N {
            let row = x[(i * C)..<((i + 1) * C)].map(Double.init)
            let m = row.reduce(0, +) / Double(C)
            let v = row.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(C)
            for c in 0..<C {
                let expected = (row[c] - m) / (v + 1e-5).squareRoot() * Double(w[c]) + Double(b[c])
                worst = max(worst, abs(Double(out[i * C + c]) - expected) / max(1, abs(expected)))
            }
        }
        #expect(worst < 1e-5, "largest relative error \(worst)")
    }
}
