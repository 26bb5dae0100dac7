import Testing
@testable import TTCore
@testable import TTEngine

/// AdamW checked by hand on single elements. Expected values come from the notebook-10
/// formulas evaluated by hand (in Double) from the numbers below, not from the engine:
///
/// Every parameter starts at 0.5. lr 1e-3 with 4 warmup steps, cosine to step 12, floor
/// 0.1: lr(1) = 2.5e-4, lr(2) = 5e-4. wd 0.01, β1 0.9, β2 0.999, ε 1e-8, clip 0.25,
/// biases and LayerNorm exempt from decay.
///
/// Step 1: g(tok_emb[0]) = 0.3, g(b1[0]) = 0.4, all else 0; the global norm is 0.5 > 0.25,
/// so both are scaled by 0.5 → 0.15 and 0.2.
///   tok: m = 0.015, v = 2.25e-5, m̂ = 0.15, v̂ = 0.0225,
///        θ = 0.5·(1 − 2.5e-4·0.01) − 2.5e-4·0.15/(0.15 + 1e-8) = 0.49974875001666663
///   b1:  θ = 0.5 − 2.5e-4·0.2/(0.2 + 1e-8) = 0.4997500000125 (no decay)
/// Step 2: g(tok_emb[0]) = 0.1, all else 0; norm 0.1 < 0.25, no clipping.
///   tok: m = 0.0235, v = 3.24775e-5, m̂ = 0.0235/0.19, v̂ = 3.24775e-5/0.001999,
///        θ = 0.4992610752469324
///   b1:  m = 0.018, v = 3.996e-5, m̂ = 0.018/0.19, v̂ = 3.996e-5/0.001999,
///        θ = 0.4997500000125 − 5e-4·m̂/(√v̂ + 1e-8) = 0.4994149709091278 (exempt)
///   a weight with zero gradient only decays: 0.5·(1 − 2.5e-6)·(1 − 5e-6) = 0.49999625000625
///   LayerNorm γ with zero gradient and exempt: exactly 0.5.
/// For contrast, without the step-1 clip tok would end at 0.4993107 and a non-exempt b1 at
/// 0.4994112, both far outside the tolerance.
///
/// Tolerance 1e-7: θ ≈ 0.5 is stored in Float (spacing 3e-8 below 0.5), and the Float
/// moments and update add relative errors of ~1e-7 to a ~5e-4 step (~1e-10).
@Suite struct ModelAdamWTests {
    static let config = ModelConfig(arch: .tutorial, vocabSize: 2, dModel: 2, nHeads: 1, dFF: 1, nLayers: 1, context: 1)

    static var optimizer: AdamWConfig {
        var o = AdamWConfig()
        o.learningRate = 1e-3
        o.weightDecay = 0.01
        o.gradClip = 0.25
        o.exemptNormAndBias = true
        o.schedule = .cosine
        o.warmupSteps = 4
        o.decaySteps = 12
        o.minLRRatio = 0.1
        return o
    }

    @Test func handComputedTwoSteps() {
        let model = Model(config: Self.config)
        let layout = model.layout
        let tok = layout.slot(named: "tok_emb")!.offset
        let b1 = layout.slot(named: "layers.0.ffn.b1")!.offset
        let w1 = layout.slot(named: "layers.0.ffn.w1")!.offset
        let gamma = layout.slot(named: "layers.0.ln.gamma")!.offset
        model.parameters.update(repeating: 0.5)

        model.gradients.update(repeating: 0)
        model.gradients[tok] = 0.3
        model.gradients[b1] = 0.4
        let (lr1, norm1) = model.applyAdamW(Self.optimizer, step: 1)
        #expect(lr1 == 2.5e-4)
        #expect(abs(norm1 - 0.5) <= 1e-7)
        #expect(abs(Double(model.parameters[tok]) - 0.49974875001666663) <= 1e-7)
        #expect(abs(Double(model.parameters[b1]) - 0.4997500000125) <= 1e-7)
        // the gradient buffer itself is not rescaled by clipping
        #expect(model.gradients[tok] == 0.3)

        model.gradients.update(repeating: 0)
        model.gradients[tok] = 0.1
        let (lr2, norm2) = model.applyAdamW(Self.optimizer, step: 2)
        #expect(lr2 == 5e-4)
        #expect(abs(norm2 - 0.1) <= 1e-8)
        #expect(abs(Double(model.parameters[tok]) - 0.4992610752469324) <= 1e-7)
        #expect(abs(Double(model.parameters[b1]) - 0.4994149709091278) <= 1e-7)
        #expect(abs(Double(model.parameters[w1]) - 0.49999625000625) <= 1e-7)
        #expect(model.parameters[gamma] == 0.5)
    }

    /// Without the exemption the bias decays like any weight.
    @Test func biasDecaysWhenNotExempt() {
        let model = Model(config: Self.config)
        let b1 = model.layout.slot(named: "layers.0.ffn.b1")!.offset
        var opt = Self.optimizer
        opt.exemptNormAndBias = false
        model.parameters.update(repeating: 0.5)
        model.gradients.update(repeating: 0)
        model.gradients[model.layout.slot(named: "tok_emb")!.offset] = 0.3
        model.gradients[b1] = 0.4
        _ = model.applyAdamW(opt, step: 1)
        model.gradients.update(repeating: 0)
        model.gradients[model.layout.slot(named: "tok_emb")!.offset] = 0.1
        _ = model.applyAdamW(opt, step: 2)
        #expect(abs(Double(model.parameters[b1]) - 0.4994112221653777) <= 1e-7)
    }

    /// Warmup then cosine: lr 1e-3, warmup 4, decay to step 12, floor 0.1·lr.
    /// lr(t ≤ 4) = 1e-3·t/4; lr(8) = 1e-4 + 9e-4·0.5·(1 + cos(π/2)) = 5.5e-4; lr(12) and after = 1e-4.
    @Test func warmupCosineLearningRates() {
        let o = Self.optimizer
        #expect(o.learningRate(atStep: 1) == 2.5e-4)
        #expect(o.learningRate(atStep: 4) == 1e-3)
        #expect(abs(o.learningRate(atStep: 8) - 5.5e-4) <= 1e-15)
        #expect(abs(o.learningRate(atStep: 12) - 1e-4) <= 1e-15)
        #expect(abs(o.learningRate(atStep: 20) - 1e-4) <= 1e-15)
    }
}
