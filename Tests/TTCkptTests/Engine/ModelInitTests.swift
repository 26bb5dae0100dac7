import Testing
@testable import TTCore
@testable import TTEngine

@Suite struct ModelInitTests {
    /// The tutorial draws gauss(0, 0.1) per element in the series' order (written out here
    /// from the series, not taken from ParameterLayout); LayerNorm γ = 1, β = 0 draw nothing.
    @Test func tutorialDrawsInTheSeriesOrder() {
        let model = Model(config: .tutorial)
        var rng = PythonRandom(seed: 42)
        model.initializeWeights(rng: &rng)
        var expected = PythonRandom(seed: 42)
        let order: [(String, Int)] = [
            ("tok_emb", 6 * 16), ("pos_emb", 5 * 16),
            ("layers.0.attn.wq", 2 * 16 * 8), ("layers.0.attn.wk", 2 * 16 * 8), ("layers.0.attn.wv", 2 * 16 * 8),
            ("layers.0.attn.wo", 16 * 16), ("layers.0.ffn.w1", 64 * 16), ("layers.0.ffn.b1", 64),
            ("layers.0.ffn.w2", 16 * 64), ("layers.0.ffn.b2", 16), ("lm_head", 6 * 16),
        ]
        for (name, count) in order {
            let slot = model.layout.slot(named: name)!
            #expect(slot.count == count)
            let w = model.view(model.parameters, slot)
            var same = true
            for i in 0..<count where w[i] != Float(expected.gauss(mu: 0, sigma: 0.1)) { same = false }
            #expect(same, "\(name)")
        }
        #expect(model.view(model.parameters, model.layout.slot(named: "layers.0.ln.gamma")!).allSatisfy { $0 == 1 })
        #expect(model.view(model.parameters, model.layout.slot(named: "layers.0.ln.beta")!).allSatisfy { $0 == 0 })
        // the generator is left exactly where the series leaves it
        #expect(rng.random() == expected.random())
    }

    /// gpt: weights gauss(0, 0.02) in layout order, biases 0, γ 1, β 0, moments 0.
    @Test func gptInitialization() {
        let config = ModelConfig(arch: .gpt, vocabSize: 5, dModel: 8, nHeads: 2, dFF: 16, nLayers: 2, context: 4)
        let model = Model(config: config)
        model.adamM.update(repeating: 3)
        model.adamV.update(repeating: 3)
        var rng = PythonRandom(seed: 42)
        model.initializeWeights(rng: &rng)
        // CPython: random.seed(42); random.gauss(0, 0.02) = 0.2 · (−0.014409032957792837 / 0.1)
        #expect(model.parameters[0] == Float(-0.0028818065915585674))
        var expected = PythonRandom(seed: 42)
        for slot in model.layout.slots {
            let w = model.view(model.parameters, slot)
            switch slot.kind {
            case .weight:
                var same = true
                for i in 0..<slot.count where w[i] != Float(expected.gauss(mu: 0, sigma: 0.02)) { same = false }
                #expect(same, "\(slot.name)")
            case .bias, .normBias: #expect(w.allSatisfy { $0 == 0 }, "\(slot.name)")
            case .normGain: #expect(w.allSatisfy { $0 == 1 }, "\(slot.name)")
            }
        }
        #expect(model.adamM.allSatisfy { $0 == 0 } && model.adamV.allSatisfy { $0 == 0 })
    }
}
