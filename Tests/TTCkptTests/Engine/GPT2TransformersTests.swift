import Foundation
import Testing
@testable import TTCore
@testable import TTEngine
@testable import TTInterop

/// The gpt2 arch against Hugging Face transformers' `GPT2LMHeadModel` itself: logits, loss,
/// every parameter gradient and one `torch.optim.AdamW` step, on the five fixture configs
/// (L 1–4, T 8–64, V 97–512, B 2–3; random weights with non-trivial biases and LayerNorm
/// parameters and peaked attention). Set TTCKPT_PRINT_AGREEMENT=1 to print the measured
/// figures.
@Suite struct GPT2TransformersTests {
    static let printing = ProcessInfo.processInfo.environment["TTCKPT_PRINT_AGREEMENT"] == "1"

    static func maxAbs(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0) { max($0, abs(Double($1.0) - Double($1.1))) }
    }

    static func relativeL2(_ a: [Float], _ b: [Float]) -> Double {
        EngineFixtures.relativeL2(a.map(Double.init), b.map(Double.init))
    }

    /// Logits and loss within 1e-5 relative ℓ2 of transformers'. Both sides compute in
    /// float32 with different summation orders; a relative difference near 1e-7 is float32
    /// rounding, while any modelling difference (a missing bias, the head untied, erf GELU
    /// instead of tanh, the label shift off by one) is above 1e-3.
    @Test(arguments: HFFixtures.configs)
    func logitsAndLossMatch(_ c: HFFixtures.Config) throws {
        let model = try HFFixtures.model(c)
        let io = try HFFixtures.read(c.directory + "/io.safetensors")
        let batch = HFFixtures.batch(c, io)
        #expect(batch.targetCount == c.n_targets)
        let loss = model.forward(batch)
        var logits: [Float] = []
        for b in 0..<c.B { for t in 0..<c.T { logits += model.logits(batch: b, position: t) } }
        let expected = try #require(io["logits"]).floats
        #expect(expected.count == logits.count)
        let logitsError = Self.relativeL2(logits, expected)
        let hfLoss = try #require(io["loss"]).floats[0]
        let lossError = abs(Double(loss) - Double(hfLoss)) / Double(hfLoss)
        if Self.printing {
            print("AGREEMENT \(c.name) logits rel-l2 \(logitsError) max|d| \(Self.maxAbs(logits, expected)) loss \(loss) vs \(hfLoss) rel \(lossError)")
        }
        #expect(logitsError < 1e-5, "logits relative ℓ2 \(logitsError)")
        #expect(lossError < 1e-5, "loss \(loss) vs transformers \(hfLoss)")
    }

    /// Every parameter gradient against transformers' (grads.safetensors, its (in, out)
    /// layout): within 1e-5 relative ℓ2 per tensor, float32 rounding through the backward
    /// (measured about 1e-7). The key third of `attn.c_attn.bias` is analytically zero (a bias
    /// on every key adds q·b to a whole row of scores, which softmax ignores): both sides
    /// hold float32 noise of the size 1e-8 there, so it is compared with an absolute 1e-6
    /// and left out of the relative figure. Row T−1 of wpe is exactly zero on both sides
    /// (no target at the last position, no later position sees it).
    @Test(arguments: HFFixtures.configs)
    func gradientsMatch(_ c: HFFixtures.Config) throws {
        let model = try HFFixtures.model(c)
        let io = try HFFixtures.read(c.directory + "/io.safetensors")
        _ = model.forward(HFFixtures.batch(c, io))
        model.backward()
        let grads = try HFFixtures.read(c.directory + "/grads.safetensors")
        #expect(grads.count == model.layout.slots.count)
        var worst = 0.0
        for slot in model.layout.slots {
            let name = HFFixtures.hfName(slot.name).name
            let expected = try #require(grads[name], "\(name)").floats
            let ours = HFFixtures.inHFLayout(model.view(model.gradients, slot), slot: slot)
            var a = ours, b = expected
            if slot.name.hasSuffix("attn.bqkv") {
                let D = c.D
                let keyBias = Self.maxAbs(Array(ours[D..<(2 * D)]), Array(expected[D..<(2 * D)]))
                #expect(keyBias < 1e-6, "\(slot.name) key third: max |Δ| \(keyBias)")
                a = Array(ours[0..<D]) + Array(ours[(2 * D)...])
                b = Array(expected[0..<D]) + Array(expected[(2 * D)...])
            }
            if slot.name == "pos_emb" {
                let last = (c.T - 1) * c.D
                #expect(ours[last...].allSatisfy { $0 == 0 } && expected[last...].allSatisfy { $0 == 0 })
            }
            let error = Self.relativeL2(a, b)
            worst = max(worst, error)
            #expect(error < 1e-5, "\(slot.name): relative ℓ2 \(error)")
        }
        if Self.printing { print("AGREEMENT \(c.name) gradients worst rel-l2 \(worst)") }
    }

    /// nanoGPT's grouping (weight decay for `p.dim() >= 2`, none for the rest), as the
    /// fixture's adamw.json lists it by name, is exactly `exemptNormAndBias`: every gpt2
    /// tensor that is not a bias or a LayerNorm parameter is 2-D.
    @Test(arguments: HFFixtures.configs)
    func nanoGPTWeightDecayGroupsAreExemptNormAndBias(_ c: HFFixtures.Config) throws {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: c.directory + "/adamw.json")))
        let groups = try #require((json as? [String: Any])?["param_groups"] as? [[String: Any]])
        var decayed: [String: Bool] = [:]
        for g in groups {
            let wd = try #require(g["weight_decay"] as? Double)
            for n in try #require(g["params"] as? [String]) { decayed[n] = wd > 0 }
        }
        let layout = ParameterLayout(config: c.modelConfig)
        #expect(decayed.count == layout.slots.count)
        for slot in layout.slots {
            let name = HFFixtures.hfName(slot.name).name
            #expect(decayed[name] == !slot.isNormOrBias, "\(slot.name) (\(name))")
        }
    }

    static func optimizer() -> AdamWConfig {
        // adamw.json: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.1 on the 2-D
        // tensors only.
        var o = AdamWConfig()
        o.learningRate = 1e-3
        o.beta1 = 0.9
        o.beta2 = 0.999
        o.epsilon = 1e-8
        o.weightDecay = 0.1
        o.exemptNormAndBias = true
        return o
    }

    /// One AdamW step from transformers' weights and gradients (grads.safetensors fed into
    /// our optimizer, so the key-bias elements whose gradient is float32 noise of the size of
    /// ε, where the t = 1 update lr·g/(|g| + ε) is noise-determined, get the same g on both
    /// sides): every parameter within 1e-6 max |Δ| of torch's AdamW. The update is about
    /// lr = 1e-3 per element; float32 rounding of it and of p·(1 − lr·wd) is below 1e-9, so
    /// 1e-6 is 1/1000 of a step while a wrong rule (decay on a bias, ε inside the square
    /// root, no bias correction) moves elements by about 1e-4 or more. The moments torch
    /// wrote (adamw_state.safetensors) match to 1e-6 relative.
    @Test(arguments: HFFixtures.configs)
    func adamWStepFromTransformersGradientsMatchesTorch(_ c: HFFixtures.Config) throws {
        let model = try HFFixtures.model(c)
        try HFFixtures.fill(model.gradients, of: model, from: try HFFixtures.read(c.directory + "/grads.safetensors"))
        _ = model.applyAdamW(Self.optimizer(), step: 1)
        let after = try HFFixtures.read(c.directory + "/after_adamw.safetensors")
        var worst = 0.0
        for slot in model.layout.slots {
            let name = HFFixtures.hfName(slot.name).name
            let expected = try #require(after[name]).floats
            let d = Self.maxAbs(HFFixtures.inHFLayout(model.view(model.parameters, slot), slot: slot), expected)
            worst = max(worst, d)
            #expect(d <= 1e-6, "\(slot.name): max |Δ| \(d)")
        }
        let state = try HFFixtures.read(c.directory + "/adamw_state.safetensors")
        #expect(!state.isEmpty)
        for slot in model.layout.slots {
            let name = HFFixtures.hfName(slot.name).name
            for (suffix, buffer) in [(".exp_avg", model.adamM), (".exp_avg_sq", model.adamV)] {
                guard let expected = state[name + suffix]?.floats else { continue }
                let ours = HFFixtures.inHFLayout(model.view(buffer, slot), slot: slot)
                for i in 0..<ours.count {
                    #expect(abs(ours[i] - expected[i]) <= 1e-6 * abs(expected[i]), "\(name + suffix)[\(i)]")
                }
            }
        }
        if Self.printing { print("AGREEMENT \(c.name) adamw (fixture grads) max|d| \(worst)") }
    }

    /// The same step end to end, from our own gradients: within 1e-6 max |Δ| on every element
    /// whose transformers gradient is at least 1e-6 (the others' t = 1 update depends on the
    /// last digits of a gradient near ε; see the README of the fixtures).
    @Test(arguments: HFFixtures.configs)
    func adamWStepEndToEndMatchesTorch(_ c: HFFixtures.Config) throws {
        let model = try HFFixtures.model(c)
        let io = try HFFixtures.read(c.directory + "/io.safetensors")
        _ = model.trainStep(HFFixtures.batch(c, io), optimizer: Self.optimizer(), step: 1)
        let after = try HFFixtures.read(c.directory + "/after_adamw.safetensors")
        let grads = try HFFixtures.read(c.directory + "/grads.safetensors")
        var worst = 0.0, compared = 0
        for slot in model.layout.slots {
            let name = HFFixtures.hfName(slot.name).name
            let expected = try #require(after[name]).floats, g = try #require(grads[name]).floats
            let ours = HFFixtures.inHFLayout(model.view(model.parameters, slot), slot: slot)
            for i in 0..<ours.count where abs(g[i]) >= 1e-6 {
                worst = max(worst, abs(Double(ours[i]) - Double(expected[i])))
                compared += 1
            }
        }
        #expect(compared > model.layout.totalCount * 9 / 10)
        #expect(worst <= 1e-6, "max |Δ| \(worst)")
        if Self.printing { print("AGREEMENT \(c.name) adamw (own grads, \(compared) of \(model.layout.totalCount)) max|d| \(worst)") }
    }

    /// nanoGPT's state dict of the first config (nn.Linear weights, (out, in), and
    /// `lm_head.weight` written beside `transformer.wte.weight` with the same values) maps to
    /// our tensors without transposes and gives the transformers weights bit for bit.
    @Test func nanoGPTStateDictMapsWithoutTransposes() throws {
        let c = try #require(HFFixtures.configs.first { $0.name == "l1-t8-v97" })
        let nano = try HFFixtures.read(c.directory + "/nanogpt.safetensors")
        #expect(nano["lm_head.weight"]?.floats == nano["transformer.wte.weight"]?.floats)
        let a = try HFFixtures.model(c)
        let b = Model(config: c.modelConfig, maxBatchSize: c.B)
        try HFFixtures.fill(b.parameters, of: b, from: nano, conv1D: false, ignoring: ["lm_head.weight"])
        #expect(Array(a.parameters).map(\.bitPattern) == Array(b.parameters).map(\.bitPattern))
    }
}
