import Foundation
import Testing
@testable import TTCore
@testable import TTEngine
@testable import TTTokenizer
@testable import TTTraining

/// `Sampler.generate` with its KV cache against generation by full recompute.
@Suite struct SamplerTests {
    /// Generation as TRAINING.md states it, with no cache: every step a forward on the last
    /// min(n, T) tokens, the pick from its last logits (the same picking rule as the sampler).
    static func fullRecompute(model: Model, prompt: [Int32], options: GenerationOptions) -> [Int32] {
        let T = model.config.context, V = model.config.vocabSize
        var rng = PythonRandom(seed: options.seed)
        var sequence = prompt, generated: [Int32] = []
        for _ in 0..<options.maxTokens {
            let window = Array(sequence.suffix(T))
            _ = model.forward(Batch(tokens: window, targets: [Int32](repeating: Batch.ignore, count: window.count),
                                    batchSize: 1, seqLen: window.count))
            let logits = Array(model.logits(batch: 0, position: window.count - 1))
            var next = 0
            if options.temperature == 0 {
                for i in 1..<V where logits[i] > logits[next] { next = i }
            } else {
                let order = (0..<V).sorted { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }
                let k = options.topK > 0 ? min(options.topK, V) : V
                let weights = order.prefix(k).map { exp((Double(logits[$0]) - Double(logits[order[0]])) / options.temperature) }
                let u = rng.random() * weights.reduce(0, +)
                var acc = 0.0
                next = order[k - 1]
                for j in 0..<k {
                    acc += weights[j]
                    if u < acc { next = order[j]; break }
                }
            }
            sequence.append(Int32(next))
            generated.append(Int32(next))
        }
        return generated
    }

    /// Same tokens as full recompute for each arch, greedy and sampled (temperature 0.9,
    /// top-k 5), from a 2-token prompt past T = 24 (so the cache is used, rebuilt at 16
    /// positions, and then the window slides). The logits are bit-identical (KVCacheTests),
    /// so the tokens must be identical too.
    @Test(arguments: Architecture.allCases)
    func cachedGenerationEqualsFullRecompute(_ arch: Architecture) {
        let config = ModelConfig(arch: arch, vocabSize: 13, dModel: 16, nHeads: 2, dFF: 32, nLayers: 2, context: 24)
        let model = Model(config: config)
        var rng = PythonRandom(seed: 21)
        model.initializeWeights(rng: &rng)
        EngineFixtures.randomizeParameters(model, &rng)
        let vocabulary = Vocabulary(kind: .char, tokens: (0..<13).map { String(UnicodeScalar(UInt8(97 + $0))) })
        for (temperature, topK) in [(0.0, 0), (0.9, 5), (1.0, 0)] {
            var options = GenerationOptions()
            options.maxTokens = 40
            options.temperature = temperature
            options.topK = topK
            options.seed = 5
            var streamed: [Int32] = []
            let cached = Sampler.generate(model: model, vocabulary: vocabulary, prompt: [3, 7], options: options,
                                          onToken: { streamed.append($0) })
            let expected = Self.fullRecompute(model: model, prompt: [3, 7], options: options)
            #expect(cached == expected, "temperature \(temperature), top-k \(topK)")
            #expect(streamed == cached)
            #expect(cached.count == 40)
        }
    }
}

