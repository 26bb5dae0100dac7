import Testing
@testable import TTEngine

@Suite struct KernelsAdamWTests {
    private func power(_ x: Double, _ n: Int) -> Double { (0..<n).reduce(1.0) { r, _ in r * x } }

    private func values(_ n: Int, seed: UInt64, scale: Float) -> [Float] {
        var state = seed
        return (0..<n).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Float(state >> 40) / Float(1 << 24) - 0.5) * 2 * scale
        }
    }

    /// lr 1e-3, β 0.9/0.999, ε 1e-8, wd 0.01: the defaults the formulas below assume.
    private static func constants(step: Int, gradScale: Float) -> Kernels.AdamWStep {
        Kernels.AdamWStep(learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01,
                          step: step, gradScale: Double(gradScale))
    }

    private func update(_ p: inout [Float], _ g: [Float], _ m: inout [Float], _ v: inout [Float], step: Int,
                        gradScale: Float = 1, pool: ThreadPool = .serial, noDecay: [Range<Int>] = []) {
        let n = p.count
        p.withUnsafeMutableBufferPointer { pp in m.withUnsafeMutableBufferPointer { pm in
            v.withUnsafeMutableBufferPointer { pv in g.withUnsafeBufferPointer { pg in
                Kernels(pool: pool).adamWUpdate(parameters: pp.baseAddress!, gradients: pg.baseAddress!, m: pm.baseAddress!,
                                                v: pv.baseAddress!, count: n, Self.constants(step: step, gradScale: gradScale),
                                                noDecay: noDecay)
            }}
        }}
    }

    /// At t = 1 from zero moments, m̂ = g and v̂ = g², so the update is
    /// θ·(1 − lr·wd) − lr·g/(|g| + ε): derived by hand, computed here in Double.
    /// Tolerance 1e-9 absolute: about a dozen Float roundings on values below 1e-3·|θ|+1e-3.
    @Test func firstStepIsSignedLearningRate() {
        let p0: [Float] = [0.024634, -0.5, 1.25, 0, 3e-4]
        let g: [Float] = [-0.5, 2.0, 1e-3, 0.75, -7]
        var p = p0, m = [Float](repeating: 0, count: 5), v = m
        update(&p, g, &m, &v, step: 1)
        for i in 0..<5 {
            let gd = Double(g[i])
            let expected = Double(p0[i]) * (1 - 1e-3 * 0.01) - 1e-3 * gd / (abs(gd) + 1e-8)
            #expect(abs(Double(p[i]) - expected) <= 1e-9 + 1e-7 * abs(expected), "element \(i): \(p[i]) vs \(expected)")
            #expect(abs(Double(m[i]) - 0.1 * gd) <= 1e-7 * abs(gd))
            #expect(abs(Double(v[i]) - 0.001 * gd * gd) <= 1e-7 * gd * gd)
        }
    }

    /// Ten steps against the same formulas in Double. Float rounding (relative 6e-8 per
    /// operation) on updates of size ≤ lr = 1e-3 keeps θ within 1e-7 absolute of the
    /// Double result over ten steps; a wrong constant or bias correction is off by ≥ 1e-5.
    @Test func tenStepsMatchDoubleReference() {
        let n = 257
        var p = values(n, seed: 1, scale: 0.1), m = [Float](repeating: 0, count: n), v = m
        var pd = p.map(Double.init), md = [Double](repeating: 0, count: n), vd = md
        for t in 1...10 {
            let g = values(n, seed: UInt64(100 + t), scale: 1)
            update(&p, g, &m, &v, step: t)
            let b1 = 1 - power(0.9, t), b2 = 1 - power(0.999, t)
            for i in 0..<n {
                let gi = Double(g[i])
                md[i] = 0.9 * md[i] + 0.1 * gi
                vd[i] = 0.999 * vd[i] + 0.001 * gi * gi
                pd[i] = pd[i] * (1 - 1e-5) - 1e-3 * (md[i] / b1) / ((vd[i] / b2).squareRoot() + 1e-8)
            }
        }
        let worst = (0..<n).map { abs(Double(p[$0]) - pd[$0]) }.max()!
        #expect(worst <= 1e-7, "worst |Δθ| \(worst)")
    }

    @Test func gradScaleEqualsPrescaledGradient() {
        let n = 100
        let g = values(n, seed: 9, scale: 1)
        var p1 = values(n, seed: 3, scale: 0.1), m1 = [Float](repeating: 0, count: n), v1 = m1
        var p2 = p1, m2 = m1, v2 = v1
        update(&p1, g, &m1, &v1, step: 3, gradScale: 0.5)
        update(&p2, g.map { $0 * 0.5 }, &m2, &v2, step: 3)
        #expect(p1.map(\.bitPattern) == p2.map(\.bitPattern))
        #expect(m1.map(\.bitPattern) == m2.map(\.bitPattern))
    }

    /// The vector path (8 at a time) gives the bits of the scalar loop (one at a time):
    /// same operations, no fused multiply-add, exact division and square root. Steps 200
    /// and 20 000 have bias corrections that rounded to 1 (β1 from step 165, β2 from
    /// 17 321), whose divisions the vector path skips and the scalar loop still does.
    @Test(arguments: [7, 200, 20_000])
    func vectorPathMatchesScalarPath(_ step: Int) {
        let bias1 = Self.constants(step: step, gradScale: 1).biasCorrection1
        let bias2 = Self.constants(step: step, gradScale: 1).biasCorrection2
        #expect((bias1 == 1) == (step >= 165) && (bias2 == 1) == (step >= 17_321), "bias corrections at step \(step)")
        let n = 203
        let g = values(n, seed: 11, scale: 1)
        var p1 = values(n, seed: 12, scale: 0.1), m1 = values(n, seed: 13, scale: 0.01), v1 = values(n, seed: 14, scale: 0.001).map(abs)
        var p2 = p1, m2 = m1, v2 = v1
        for scale: Float in [1, 0.25] {
            update(&p1, g, &m1, &v1, step: step, gradScale: scale)
            p2.withUnsafeMutableBufferPointer { pp in m2.withUnsafeMutableBufferPointer { pm in
                v2.withUnsafeMutableBufferPointer { pv in g.withUnsafeBufferPointer { pg in
                    for i in 0..<n {
                        Kernels.serial.adamWUpdate(parameters: pp.baseAddress! + i, gradients: pg.baseAddress! + i,
                                                   m: pm.baseAddress! + i, v: pv.baseAddress! + i, count: 1,
                                                   Self.constants(step: step, gradScale: scale))
                    }
                }}
            }}
            #expect(p1.map(\.bitPattern) == p2.map(\.bitPattern), "scale \(scale)")
            #expect(v1.map(\.bitPattern) == v2.map(\.bitPattern), "scale \(scale)")
        }
    }

    /// The `noDecay` ranges (how training exempts biases and LayerNorm parameters) get
    /// decay 1, which is exactly an update with weight decay 0 there; every other element
    /// is the plain update. Ranges cross the 64-element blocks and touch each other; checked
    /// bit for bit on 1 and 3 threads with the threshold at 0, so the blocks really split.
    @Test func noDecayRangesUpdateWithoutDecay() {
        let n = 300
        let g = values(n, seed: 21, scale: 1)
        let p0 = values(n, seed: 22, scale: 0.1), m0 = values(n, seed: 23, scale: 0.01), v0 = values(n, seed: 24, scale: 0.001).map(abs)
        let exempt = [3..<10, 10..<12, 50..<64, 64..<70, 290..<300]
        func run(_ weightDecay: Double, noDecay: [Range<Int>], threads: Int) -> [UInt32] {
            var p = p0, m = m0, v = v0
            let step = Kernels.AdamWStep(learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8,
                                         weightDecay: weightDecay, step: 4)
            let kernels = Kernels(pool: ThreadPool(threads: threads), threshold: 0)
            p.withUnsafeMutableBufferPointer { pp in m.withUnsafeMutableBufferPointer { pm in
                v.withUnsafeMutableBufferPointer { pv in g.withUnsafeBufferPointer { pg in
                    kernels.adamWUpdate(parameters: pp.baseAddress!, gradients: pg.baseAddress!, m: pm.baseAddress!,
                                        v: pv.baseAddress!, count: n, step, noDecay: noDecay)
                }}
            }}
            return p.map(\.bitPattern)
        }
        let decayed = run(0.01, noDecay: [], threads: 1), plain = run(0, noDecay: [], threads: 1)
        let isExempt = (0..<n).map { i in exempt.contains { $0.contains(i) } }
        let expected = (0..<n).map { isExempt[$0] ? plain[$0] : decayed[$0] }
        #expect(zip(decayed, plain).contains { $0 != $1 })  // the decay is visible at all
        for threads in [1, 3] {
            #expect(run(0.01, noDecay: exempt, threads: threads) == expected, "\(threads) threads")
        }
    }

    @Test func bitIdenticalAcrossThreadCounts() {
        let n = 100_003
        #expect(8 * n >= Kernels.defaultThreshold)  // the work estimate: split between threads
        let g = values(n, seed: 5, scale: 1)
        var results: [[UInt32]] = []
        for threads in [1, 2, 3] {
            var p = values(n, seed: 6, scale: 0.1), m = values(n, seed: 7, scale: 0.01), v = values(n, seed: 8, scale: 0.001).map(abs)
            update(&p, g, &m, &v, step: 5, pool: ThreadPool(threads: threads))
            results.append(p.map(\.bitPattern) + m.map(\.bitPattern) + v.map(\.bitPattern))
        }
        #expect(results[1] == results[0])
        #expect(results[2] == results[0])
    }
}
