import Foundation
import Testing
@testable import TTCore
@testable import TTEngine

/// Shared helpers for the engine tests.
enum EngineFixtures {
    /// A random batch; about one target in five is `Batch.ignore` (a PAD target), but
    /// never all of them.
    static func randomBatch(_ rng: inout PythonRandom, config: ModelConfig, batchSize: Int, seqLen: Int) -> Batch {
        let n = batchSize * seqLen
        var tokens = [Int32](), targets = [Int32]()
        for _ in 0..<n {
            tokens.append(Int32(rng.randbelow(UInt64(config.vocabSize))))
            targets.append(rng.random() < 0.2 ? Batch.ignore : Int32(rng.randbelow(UInt64(config.vocabSize))))
        }
        targets[0] = 0
        return Batch(tokens: tokens, targets: targets, batchSize: batchSize, seqLen: seqLen)
    }

    /// Fills every parameter with generic values (γ near 1, β, biases and weights of
    /// moderate size), so no path is trivial the way γ = 1, β = 0, biases 0 would make it.
    static func randomizeParameters(_ model: Model, _ rng: inout PythonRandom) {
        for slot in model.layout.slots {
            let w = model.view(model.parameters, slot)
            for i in 0..<slot.count {
                switch slot.kind {
                case .normGain: w[i] = Float(1 + rng.gauss(mu: 0, sigma: 0.2))
                case .normBias, .bias: w[i] = Float(rng.gauss(mu: 0, sigma: 0.1))
                case .weight: w[i] = Float(rng.gauss(mu: 0, sigma: 0.3))
                }
            }
        }
    }

    static func rows(_ batch: Batch, _ ids: [Int32]) -> [[Int]] {
        (0..<batch.batchSize).map { b in (0..<batch.seqLen).map { Int(ids[b * batch.seqLen + $0]) } }
    }

    /// ‖a − b‖₂ / ‖b‖₂.
    static func relativeL2(_ a: [Double], _ b: [Double]) -> Double {
        var num = 0.0, den = 0.0
        for i in 0..<a.count {
            num += (a[i] - b[i]) * (a[i] - b[i])
            den += b[i] * b[i]
        }
        return den == 0 ? num.squareRoot() : (num / den).squareRoot()
    }
}

@Suite struct ModelMatchesReferenceTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var config: ModelConfig
        var batchSize: Int
        var seqLen: Int
        var seed: UInt64
        var testDescription: String {
            "\(config.arch) V\(config.vocabSize) D\(config.dModel) H\(config.nHeads) F\(config.dFF) L\(config.nLayers) T\(config.context) B\(batchSize) S\(seqLen)"
        }
    }

    // D and F include values that are not multiples of 8 (matmul tails); V is odd;
    // L = 2, T up to 16, B > 1, and seqLen < T (the sampling path).
    static let cases: [Case] = [
        Case(config: ModelConfig(arch: .tutorial, vocabSize: 7, dModel: 8, nHeads: 2, dFF: 12, nLayers: 2, context: 16),
             batchSize: 3, seqLen: 16, seed: 1),
        Case(config: ModelConfig(arch: .tutorial, vocabSize: 9, dModel: 12, nHeads: 3, dFF: 20, nLayers: 1, context: 10),
             batchSize: 2, seqLen: 7, seed: 2),
        Case(config: ModelConfig(arch: .gpt, vocabSize: 11, dModel: 12, nHeads: 3, dFF: 20, nLayers: 2, context: 9),
             batchSize: 2, seqLen: 9, seed: 3),
        Case(config: ModelConfig(arch: .gpt, vocabSize: 5, dModel: 16, nHeads: 2, dFF: 24, nLayers: 2, context: 16),
             batchSize: 4, seqLen: 13, seed: 4),
        // seqLen ≥ attentionGemmMinimum and > attentionBlock: the GEMM attention with a
        // partial last row block.
        Case(config: ModelConfig(arch: .gpt, vocabSize: 6, dModel: 16, nHeads: 4, dFF: 16, nLayers: 1, context: 40),
             batchSize: 2, seqLen: 37, seed: 5),
        // gpt2: fused QKV and output biases, the tied head; the same shapes as above.
        Case(config: ModelConfig(arch: .gpt2, vocabSize: 11, dModel: 12, nHeads: 3, dFF: 20, nLayers: 2, context: 9),
             batchSize: 2, seqLen: 9, seed: 6),
        Case(config: ModelConfig(arch: .gpt2, vocabSize: 13, dModel: 16, nHeads: 2, dFF: 64, nLayers: 2, context: 16),
             batchSize: 3, seqLen: 11, seed: 7),
        Case(config: ModelConfig(arch: .gpt2, vocabSize: 6, dModel: 16, nHeads: 4, dFF: 16, nLayers: 1, context: 40),
             batchSize: 2, seqLen: 37, seed: 8),
    ]

    /// Float engine vs Double reference: logits and every gradient tensor within 1e-4
    /// relative ℓ2 error. Float32 carries ~6e-8 relative rounding per operation; through
    /// a few hundred accumulated operations per value that stays near 1e-6, so 1e-4 leaves
    /// a wide margin while any wrong term (a missing path, a wrong index) gives O(1).
    @Test(arguments: cases)
    func logitsAndGradientsMatch(_ c: Case) throws {
        let model = Model(config: c.config, maxBatchSize: c.batchSize)
        var rng = PythonRandom(seed: c.seed)
        model.initializeWeights(rng: &rng)
        EngineFixtures.randomizeParameters(model, &rng)
        let batch = EngineFixtures.randomBatch(&rng, config: c.config, batchSize: c.batchSize, seqLen: c.seqLen)
        let loss = model.forward(batch)
        // Every gradient must be written by the backward: nothing may survive from before.
        model.gradients.update(repeating: .nan)
        model.backward()

        let reference = ReferenceModel(copying: model)
        let out = reference.run(tokens: EngineFixtures.rows(batch, batch.tokens),
                                targets: EngineFixtures.rows(batch, batch.targets), gradients: true)
        #expect(abs(Double(loss) - out.loss) <= 1e-5 * out.loss)

        var engineLogits = [Double](), referenceLogits = [Double]()
        for b in 0..<c.batchSize {
            for t in 0..<c.seqLen {
                engineLogits += model.logits(batch: b, position: t).map(Double.init)
                referenceLogits += out.logits[b][t]
            }
        }
        #expect(EngineFixtures.relativeL2(engineLogits, referenceLogits) < 1e-4)

        for slot in model.layout.slots {
            let engine = model.view(model.gradients, slot).map(Double.init)
            let expected = try #require(out.grads[slot.name])
            let norm = expected.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(norm > 0, "\(slot.name): reference gradient is zero, the comparison would be empty")
            let err = EngineFixtures.relativeL2(engine, expected)
            #expect(err < 1e-4, "\(slot.name): relative ℓ2 error \(err)")
        }
    }
}

@Suite struct ReferenceFiniteDifferenceTests {
    /// Central differences in Double on the reference for sampled elements of every tensor.
    ///
    /// Step h = 1e-5: the central difference has truncation error ≈ h²·|L‴|/6 and rounding
    /// error ≈ ε·|L|/h with ε = 2.2e-16 and |L| ≈ 2, i.e. ≈ 1e-10·|L‴| and ≈ 4e-11. Both
    /// are far below 1e-6 of any gradient of size ≥ 1e-4 (which is the typical size
    /// here), and h = 1e-5 is near the optimum (3ε|L|/|L‴|)^(1/3). The check is
    /// |fd − g| ≤ 1e-6·max(|fd|, |g|) + 1e-10: the absolute 1e-10 floor covers the
    /// ~4e-11 rounding noise on elements whose gradient is itself tiny.
    @Test(arguments: [ModelConfig(arch: .tutorial, vocabSize: 6, dModel: 8, nHeads: 2, dFF: 12, nLayers: 2, context: 6),
                      ModelConfig(arch: .gpt, vocabSize: 6, dModel: 8, nHeads: 2, dFF: 12, nLayers: 2, context: 6),
                      ModelConfig(arch: .gpt2, vocabSize: 6, dModel: 8, nHeads: 2, dFF: 12, nLayers: 2, context: 6)])
    func gradientsMatchFiniteDifferences(_ config: ModelConfig) {
        let model = Model(config: config, maxBatchSize: 2)
        var rng = PythonRandom(seed: 99)
        model.initializeWeights(rng: &rng)
        EngineFixtures.randomizeParameters(model, &rng)
        let batch = EngineFixtures.randomBatch(&rng, config: config, batchSize: 2, seqLen: 6)
        let tokens = EngineFixtures.rows(batch, batch.tokens), targets = EngineFixtures.rows(batch, batch.targets)
        let reference = ReferenceModel(copying: model)
        let analytic = reference.run(tokens: tokens, targets: targets, gradients: true).grads
        let h = 1e-5
        var checked = 0
        for slot in model.layout.slots {
            let g = analytic[slot.name]!
            // three elements: the largest-gradient one, and two spread through the tensor
            let largest = g.indices.max { abs(g[$0]) < abs(g[$1]) }!
            for i in Set([largest, slot.count / 3, (2 * slot.count) / 3 + 1].map { $0 % slot.count }) {
                let saved = reference.params[slot.name]![i]
                reference.params[slot.name]![i] = saved + h
                let plus = reference.run(tokens: tokens, targets: targets, gradients: false).loss
                reference.params[slot.name]![i] = saved - h
                let minus = reference.run(tokens: tokens, targets: targets, gradients: false).loss
                reference.params[slot.name]![i] = saved
                let fd = (plus - minus) / (2 * h)
                let tolerance = 1e-6 * max(abs(fd), abs(g[i])) + 1e-10
                #expect(abs(fd - g[i]) <= tolerance, "\(slot.name)[\(i)]: fd \(fd) vs analytic \(g[i])")
                checked += 1
            }
            #expect(abs(g[largest]) > 1e-4, "\(slot.name): largest gradient \(g[largest]) too small to test")
        }
        #expect(checked >= 2 * model.layout.slots.count)
    }
}

@Suite struct TutorialPresetTests {
    static let inputs: [Int32] = [1, 3, 4, 5, 2]
    static let targets: [Int32] = [3, 4, 5, 2, Batch.ignore]

    static func seeded() -> Model {
        let model = Model(config: .tutorial)
        var rng = PythonRandom(seed: 42)
        model.initializeWeights(rng: &rng)
        return model
    }

    static func softmax(_ logits: [Double]) -> [Double] {
        let m = logits.max()!
        let e = logits.map { exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// The series' published numbers, compared at their rounding: ±5e-5 on 4-decimal
    /// values, ±5e-7 on 6-decimal values.
    @Test func publishedForwardNumbers() {
        let model = Self.seeded()
        let tok = model.view(model.parameters, model.layout.slot(named: "tok_emb")!)
        #expect(abs(Double(tok[1 * 16 + 0]) - 0.024634) <= 5e-7)

        let batch = Batch(tokens: Self.inputs, targets: Self.targets, batchSize: 1, seqLen: 5)
        let loss = model.forward(batch)
        let p0 = Self.softmax(model.logits(batch: 0, position: 0).map(Double.init))
        let published = [0.2098, 0.1353, 0.1424, 0.1491, 0.2004, 0.1631]
        for v in 0..<6 { #expect(abs(p0[v] - published[v]) <= 5e-5, "p[\(v)] = \(p0[v])") }

        let publishedLosses = [1.9033, 1.6123, 1.8479, 1.9560]
        for t in 0..<4 {
            let p = Self.softmax(model.logits(batch: 0, position: t).map(Double.init))
            let l = -log(p[Int(Self.targets[t])])
            #expect(abs(l - publishedLosses[t]) <= 5e-5, "loss[\(t)] = \(l)")
        }
        #expect(abs(Double(loss) - 1.8299) <= 5e-5)

        // The Double reference gives the same numbers.
        let reference = ReferenceModel(copying: model)
        let out = reference.run(tokens: [Self.inputs.map(Int.init)], targets: [Self.targets.map(Int.init)], gradients: false)
        #expect(abs(out.loss - 1.8299) <= 5e-5)
        for t in 0..<4 { #expect(abs(out.losses[0][t] - publishedLosses[t]) <= 5e-5) }
    }

    @Test func publishedAdamWStep() {
        let model = Self.seeded()
        let batch = Batch(tokens: Self.inputs, targets: Self.targets, batchSize: 1, seqLen: 5)
        _ = model.trainStep(batch, optimizer: AdamWConfig(), step: 1)
        let tok = model.view(model.parameters, model.layout.slot(named: "tok_emb")!)
        #expect(abs(Double(tok[1 * 16 + 0]) - 0.025634) <= 5e-7)
    }

    /// With the defaults the loss falls below 0.01 within 1000 steps.
    @Test func tutorialLearnsTheSequence() {
        let model = Self.seeded()
        let batch = Batch(tokens: Self.inputs, targets: Self.targets, batchSize: 1, seqLen: 5)
        var reached: Int? = nil
        for step in 1...1000 {
            let r = model.trainStep(batch, optimizer: AdamWConfig(), step: step)
            if r.loss < 0.01 { reached = step; break }
        }
        #expect(reached != nil)
    }
}

@Suite struct ModelBehaviourTests {
    /// Causality and the sampling path: logits of a forward on the first S positions equal,
    /// bit for bit, the first S positions of a forward on all T (the per-row arithmetic
    /// does not depend on later positions or on the batch length).
    @Test(arguments: [Architecture.tutorial, .gpt, .gpt2])
    func prefixForwardMatchesFullForward(_ arch: Architecture) {
        let config = ModelConfig(arch: arch, vocabSize: 10, dModel: 16, nHeads: 4, dFF: 32, nLayers: 2, context: 12)
        let model = Model(config: config, maxBatchSize: 2)
        var rng = PythonRandom(seed: 5)
        model.initializeWeights(rng: &rng)
        EngineFixtures.randomizeParameters(model, &rng)
        let full = EngineFixtures.randomBatch(&rng, config: config, batchSize: 1, seqLen: 12)
        _ = model.forward(full)
        let fullLogits = (0..<12).map { Array(model.logits(batch: 0, position: $0)) }
        for s in [1, 5] {
            let prefix = Batch(tokens: Array(full.tokens[0..<s]), targets: Array(full.targets[0..<s]), batchSize: 1, seqLen: s)
            _ = model.forward(prefix)
            for t in 0..<s { #expect(Array(model.logits(batch: 0, position: t)) == fullLogits[t]) }
        }
    }

    /// The activation count is exact for a small config and saturates instead of
    /// overflowing for an absurd (but `validate()`-passing) one.
    @Test func activationCountIsCheckedArithmetic() throws {
        // gpt, V 3, D 4, H 2, F 8, L 1, T 2, B 1: per layer ln1 8+2+2, qkv 24, atty 8,
        // att 8, attproj 8, res2 8, ln2 8+2+2, fch 16, fchGelu 16, fchExp 16, fcproj 8, res3 8
        // = 144; global encoded 8, ln_f 8+2+2, logits 6, probs 6, losses 2, wqkvT 48; backward
        // dres, dln, dmh, datty 8 each, dqkv 24, dfch 16, dfchGelu 16, dlogits 6,
        // dwqkvT 48 → 144 + 82 + 142 = 368 (a multiple of 16 floats, so no alignment
        // padding); one packed B operand: max(3C, F) = 12 columns rounded up to 16, by
        // max(C, F, BT) = 8 deep = 128 → 496.
        let small = ModelConfig(arch: .gpt, vocabSize: 3, dModel: 4, nHeads: 2, dFF: 8, nLayers: 1, context: 2)
        #expect(Model.activationCount(config: small, maxBatchSize: 1) == 496)
        #expect(ActivationLayout(config: small, maxBatchSize: 1).keepsGeluExps)
        // GELU's exps of every layer, B·T·F·L floats, are kept up to 64 MiB: 2^24 floats.
        let wide = ModelConfig(arch: .gpt, vocabSize: 3, dModel: 4, nHeads: 2, dFF: 1 << 12, nLayers: 2, context: 1 << 10)
        #expect(ActivationLayout(config: wide, maxBatchSize: 2).keepsGeluExps)
        #expect(!ActivationLayout(config: wide, maxBatchSize: 3).keepsGeluExps)
        let huge = ModelConfig(arch: .gpt, vocabSize: 2, dModel: 1024, nHeads: 1024, dFF: 1, nLayers: 1, context: 1 << 16)
        try huge.validate()
        // att alone is B·H·T² = 2^10·2^32 floats for one sequence
        #expect(Model.activationCount(config: huge, maxBatchSize: 1) > 1 << 42)
        // 2^24·2^42 overflows Int64
        #expect(Model.activationCount(config: huge, maxBatchSize: 1 << 24) == Int.max)
    }

    /// All targets ignored: loss 0 and all-zero gradients.
    @Test func allIgnoredTargetsGiveZeroLossAndGradient() {
        let config = ModelConfig(arch: .gpt, vocabSize: 6, dModel: 8, nHeads: 2, dFF: 8, nLayers: 1, context: 4)
        let model = Model(config: config)
        var rng = PythonRandom(seed: 1)
        model.initializeWeights(rng: &rng)
        let batch = Batch(tokens: [1, 2, 3, 4], targets: [Batch.ignore, Batch.ignore, Batch.ignore, Batch.ignore],
                          batchSize: 1, seqLen: 4)
        #expect(model.forward(batch) == 0)
        model.backward()
        #expect(model.gradients.allSatisfy { $0 == 0 })
    }

    /// Two runs of 20 steps from the same seed give bit-identical parameters and moments.
    @Test func trainingIsDeterministic() {
        let config = ModelConfig(arch: .gpt, vocabSize: 13, dModel: 16, nHeads: 2, dFF: 40, nLayers: 2, context: 8)
        func run() -> ([Float], [Float], [Float]) {
            let model = Model(config: config, maxBatchSize: 3)
            var rng = PythonRandom(seed: 7)
            model.initializeWeights(rng: &rng)
            var opt = AdamWConfig()
            opt.gradClip = 1
            opt.schedule = .cosine
            opt.warmupSteps = 3
            opt.decaySteps = 20
            for step in 1...20 {
                let batch = EngineFixtures.randomBatch(&rng, config: config, batchSize: 3, seqLen: 8)
                _ = model.trainStep(batch, optimizer: opt, step: step)
            }
            return (Array(model.parameters), Array(model.adamM), Array(model.adamV))
        }
        let a = run(), b = run()
        #expect(a.0.map(\.bitPattern) == b.0.map(\.bitPattern))
        #expect(a.1.map(\.bitPattern) == b.1.map(\.bitPattern))
        #expect(a.2.map(\.bitPattern) == b.2.map(\.bitPattern))
    }
}

@Suite struct GELUTests {
    /// The Float kernel against the tanh formula in Double, over ordinary and extreme
    /// inputs. Forward: |err| ≤ 2e-7·|x| + 1e-12, a few Float roundings relative to the
    /// size of gelu(x) ≤ |x|. Derivative (true derivative of the tanh form; the series'
    /// tanh-CDF/erf-PDF mix differs from it by up to 8.3e-4 near x ≈ −1.94): |err| ≤ 1e-6,
    /// the derivative being O(1). Also: no NaN or infinity for |x| up to 1e4.
    @Test func geluAndItsDerivativeMatchTheTanhForm() {
        let c = (2 / Double.pi).squareRoot()
        var xs: [Float] = [0, 1e-3, -1e-3, 100, -100, 1e4, -1e4]
        for i in -80...80 { xs.append(Float(i) * 0.37) }
        let n = xs.count
        var out = [Float](repeating: 0, count: n), dinp = [Float](repeating: 0, count: n)
        let ones = [Float](repeating: 1, count: n)
        geluForward(&out, xs, n)
        geluBackward(&dinp, xs, ones, n)
        for i in 0..<n {
            let x = Double(xs[i])
            let u = c * (x + 0.044715 * x * x * x)
            let th = tanh(u)
            let f = 0.5 * x * (1 + th)
            let df = 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * c * (1 + 3 * 0.044715 * x * x)
            #expect(out[i].isFinite && dinp[i].isFinite, "x = \(x)")
            #expect(abs(Double(out[i]) - f) <= 2e-7 * abs(x) + 1e-12, "gelu(\(x)) = \(out[i]), expected \(f)")
            #expect(abs(Double(dinp[i]) - df) <= 1e-6, "gelu′(\(x)) = \(dinp[i]), expected \(df)")
        }
    }
}
