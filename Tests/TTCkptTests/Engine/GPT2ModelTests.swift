import Testing
@testable import TTCore
@testable import TTEngine

@Suite struct GPT2LayoutTests {
    /// The canonical gpt2 tensors of DECISIONS.md / spec §5, written out here by hand: names,
    /// shapes and order; no lm_head (tied).
    @Test func canonicalNamesShapesAndOrder() {
        let (V, D, F, T) = (7, 12, 20, 5)
        let config = ModelConfig(arch: .gpt2, vocabSize: V, dModel: D, nHeads: 3, dFF: F, nLayers: 2, context: T)
        var expected: [(String, [Int])] = [("tok_emb", [V, D]), ("pos_emb", [T, D])]
        for i in 0..<2 {
            let p = "layers.\(i)."
            expected += [(p + "ln1.gamma", [D]), (p + "ln1.beta", [D]),
                         (p + "attn.wqkv", [3 * D, D]), (p + "attn.bqkv", [3 * D]),
                         (p + "attn.wo", [D, D]), (p + "attn.bo", [D]),
                         (p + "ln2.gamma", [D]), (p + "ln2.beta", [D]),
                         (p + "ffn.w1", [F, D]), (p + "ffn.b1", [F]), (p + "ffn.w2", [D, F]), (p + "ffn.b2", [D])]
        }
        expected += [("ln_f.gamma", [D]), ("ln_f.beta", [D])]
        let layout = ParameterLayout(config: config)
        #expect(layout.slots.map(\.name) == expected.map(\.0))
        #expect(layout.slots.map(\.shape) == expected.map(\.1))
        #expect(layout.totalCount == expected.reduce(0) { $0 + $1.1.reduce(1, *) })
        #expect(ParameterLayout.parameterCount(config) == layout.totalCount)
        // biases and LayerNorm parameters are exactly the 1-D tensors
        #expect(layout.slots.allSatisfy { $0.isNormOrBias == ($0.shape.count == 1) })
    }

    /// GPT-2 124M has 124,439,808 parameters (transformers' GPT2LMHeadModel, the tied head
    /// counted once).
    @Test func gpt2Small124MParameterCount() {
        let c = ModelConfig.gpt2Small124M()
        #expect(ParameterLayout.parameterCount(c) == 124_439_808)
        #expect(ParameterLayout(config: c).totalCount == 124_439_808)
        #expect(c.vocabSize == 50257 && c.dModel == 768 && c.nHeads == 12 && c.nLayers == 12 && c.context == 1024 && c.dFF == 3072)
    }
}

@Suite struct GPT2InitTests {
    /// GPT-2 / nanoGPT initialization, seeded: gauss(0, 0.02) per element of every weight in
    /// layout order, gauss(0, 0.02/√(2L)) for attn.wo and ffn.w2, biases 0, γ 1, β 0. The
    /// draw order is written out here by hand.
    @Test func drawsInCanonicalOrderWithScaledResidualProjections() {
        let L = 3
        let config = ModelConfig(arch: .gpt2, vocabSize: 5, dModel: 8, nHeads: 2, dFF: 16, nLayers: L, context: 4)
        let model = Model(config: config)
        model.adamM.update(repeating: 3)
        var rng = PythonRandom(seed: 42)
        model.initializeWeights(rng: &rng)
        var expected = PythonRandom(seed: 42)
        let residual = 0.02 / (2.0 * Double(L)).squareRoot()
        var draws: [(String, Double)] = [("tok_emb", 0.02), ("pos_emb", 0.02)]
        for i in 0..<L {
            draws += [("layers.\(i).attn.wqkv", 0.02), ("layers.\(i).attn.wo", residual),
                      ("layers.\(i).ffn.w1", 0.02), ("layers.\(i).ffn.w2", residual)]
        }
        for (name, sigma) in draws {
            let slot = model.layout.slot(named: name)!
            let w = model.view(model.parameters, slot)
            var same = true
            for i in 0..<slot.count where w[i] != Float(expected.gauss(mu: 0, sigma: sigma)) { same = false }
            #expect(same, "\(name)")
        }
        for slot in model.layout.slots where slot.kind != .weight {
            let w = model.view(model.parameters, slot)
            #expect(w.allSatisfy { $0 == (slot.kind == .normGain ? 1 : 0) }, "\(slot.name)")
        }
        #expect(model.adamM.allSatisfy { $0 == 0 })
        #expect(rng.random() == expected.random())
    }
}

/// `Model.decode` (the KV cache) against a full forward.
@Suite struct KVCacheTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var config: ModelConfig
        var threads: Int
        /// How the decodes start: a `forward` on the weights in place, or with the decode
        /// layout (`prepareDecoding`) that a `prefill` writes as it runs or the first decode
        /// after a `forward` writes.
        enum Start: String, Sendable { case forward, prefillLayout = "prefill + decode layout", forwardLayout = "forward + decode layout" }
        var start = Start.forward
        /// Prompt length: 3, or 30 (a prefill longer than D 20, whose GEMMs split by rows).
        var prompt = 3
        var testDescription: String {
            "\(config.arch) D\(config.dModel) H\(config.nHeads) F\(config.dFF) V\(config.vocabSize) T\(config.context) threads \(threads), \(start.rawValue), prompt \(prompt)"
        }
    }

    // T 40: decoding crosses attentionGemmMinimum (16) and attentionBlock (32); head sizes
    // 4 and 8 (and D 24, not a multiple of 16, for the matmul tails). The decode layout's
    // panels are 32 outputs wide: V 37 and F 300 leave partial panels, and K 300 (ffn.w2)
    // spans two CK_KC blocks with a tail that is not a multiple of 8.
    static let cases: [Case] = Architecture.allCases.flatMap { arch -> [Case] in
        let plain = [
            Case(config: ModelConfig(arch: arch, vocabSize: 11, dModel: 16, nHeads: 4, dFF: 32, nLayers: 2, context: 40), threads: 1),
            Case(config: ModelConfig(arch: arch, vocabSize: 11, dModel: 24, nHeads: 3, dFF: 40, nLayers: 2, context: 40), threads: 3)]
        let odd = ModelConfig(arch: arch, vocabSize: 37, dModel: 20, nHeads: 5, dFF: 300, nLayers: 2, context: 40)
        let layout = [Case.Start.prefillLayout, .forwardLayout].flatMap { start in
            [Case(config: odd, threads: 1, start: start), Case(config: odd, threads: 3, start: start)]
        }
        return plain + layout + [Case(config: odd, threads: 3, start: .prefillLayout, prompt: 30)]
    }

    /// After a forward (or a prefill) on the prompt, each decode's logits equal bit for bit
    /// the last position's logits of a forward on the whole sequence so far (on a second
    /// model with the same weights), at every length up to T, with the weights in place or
    /// in the decode layout; also with 3 threads and threshold 0.
    @Test(arguments: cases)
    func decodeEqualsFullRecomputeBitForBit(_ c: Case) {
        let T = c.config.context
        let cached = Model(config: c.config), full = Model(config: c.config)
        for m in [cached, full] {
            m.threadCount = c.threads
            if c.threads > 1 { m.parallelThreshold = 0 }
        }
        var rng = PythonRandom(seed: 11)
        cached.initializeWeights(rng: &rng)
        EngineFixtures.randomizeParameters(cached, &rng)
        _ = full.parameters.update(from: cached.parameters)
        let tokens = (0..<T).map { _ in Int32(rng.randbelow(UInt64(c.config.vocabSize))) }
        func forward(_ m: Model, _ n: Int) -> [Float] {
            let batch = Batch(tokens: Array(tokens[0..<n]), targets: [Int32](repeating: Batch.ignore, count: n),
                              batchSize: 1, seqLen: n)
            _ = m.forward(batch)
            return Array(m.logits(batch: 0, position: n - 1))
        }
        switch c.start {
        case .prefillLayout:
            cached.prepareDecoding()
            let prefilled = Array(cached.prefill(Array(tokens[0..<c.prompt])))
            #expect(prefilled.map(\.bitPattern) == forward(full, c.prompt).map(\.bitPattern), "prefill")
        case .forwardLayout:
            cached.prepareDecoding()
            _ = forward(cached, c.prompt)
        case .forward:
            _ = forward(cached, c.prompt)
        }
        #expect(cached.cachedPositions == c.prompt)
        var mismatches: [Int] = []
        for n in (c.prompt + 1)...T {
            let decoded = Array(cached.decode(tokens[n - 1]))
            if decoded.map(\.bitPattern) != forward(full, n).map(\.bitPattern) { mismatches.append(n) }
        }
        #expect(mismatches.isEmpty, "lengths whose decoded logits differ: \(mismatches)")
        #expect(cached.cachedPositions == T)
        // every position's logits now equal the full forward's (a decode writes its own row;
        // after a prefill, only the positions from the one whose decode reran the sequence
        // past attentionGemmMinimum have logits)
        for t in (c.start == .prefillLayout ? max(15, c.prompt - 1) : 0)..<T {
            #expect(Array(cached.logits(batch: 0, position: t)).map(\.bitPattern)
                    == Array(full.logits(batch: 0, position: t)).map(\.bitPattern), "position \(t)")
        }
    }

    /// The decode layout is a copy of the weights: a prefill after the parameters changed
    /// refreshes it, so the next decode uses the new weights.
    @Test func decodeLayoutFollowsNewWeights() {
        let config = ModelConfig(arch: .gpt2, vocabSize: 40, dModel: 16, nHeads: 2, dFF: 48, nLayers: 1, context: 8)
        let model = Model(config: config), full = Model(config: config)
        var rng = PythonRandom(seed: 5)
        model.initializeWeights(rng: &rng)
        model.prepareDecoding()
        _ = model.prefill([1, 2, 3])
        _ = model.decode(4)
        EngineFixtures.randomizeParameters(model, &rng)
        _ = full.parameters.update(from: model.parameters)
        _ = model.prefill([1, 2, 3])
        let decoded = Array(model.decode(4)).map(\.bitPattern)
        _ = full.forward(Batch(tokens: [1, 2, 3, 4], targets: [Int32](repeating: Batch.ignore, count: 4), batchSize: 1, seqLen: 4))
        #expect(decoded == Array(full.logits(batch: 0, position: 3)).map(\.bitPattern))
    }

    /// A forward of several sequences leaves no usable cache; one of one sequence of length S
    /// leaves S positions.
    @Test func cachedPositionsFollowTheLastForward() {
        let config = ModelConfig(arch: .gpt2, vocabSize: 5, dModel: 8, nHeads: 2, dFF: 8, nLayers: 1, context: 6)
        let model = Model(config: config, maxBatchSize: 2)
        var rng = PythonRandom(seed: 1)
        model.initializeWeights(rng: &rng)
        _ = model.forward(Batch(tokens: [1, 2, 3, 4], targets: [2, 3, 4, 1], batchSize: 2, seqLen: 2))
        #expect(model.cachedPositions == 0)
        _ = model.forward(Batch(tokens: [1, 2, 3], targets: [2, 3, 4], batchSize: 1, seqLen: 3))
        #expect(model.cachedPositions == 3)
        _ = model.decode(4)
        #expect(model.cachedPositions == 4)
    }
}
