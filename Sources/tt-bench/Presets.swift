import TTCore
import TTEngine

/// The benchmark presets of issue 5 (model shape and batch size).
struct BenchPreset {
    var name: String
    var config: ModelConfig
    var batchSize: Int

    static let all: [BenchPreset] = [
        BenchPreset(name: "tutorial", config: .tutorial, batchSize: 1),
        BenchPreset(name: "small", config: .gptSmall(vocabSize: 65), batchSize: 16),
        BenchPreset(name: "medium", config: .gptMedium(vocabSize: 256), batchSize: 8),
        // GPT-2 124M's shape trained at B 4, T 256 (context 256, so activations are sized
        // for the sequences trained; the matmul FLOPs do not depend on it).
        BenchPreset(name: "gpt2-124m", config: ModelConfig(arch: .gpt2, vocabSize: 50257, dModel: 768, nHeads: 12,
                                                          dFF: 3072, nLayers: 12, context: 256), batchSize: 4),
    ]

    /// N: parameter count.
    var parameterCount: Int { ParameterLayout.parameterCount(config) }

    /// Tokens per step: B·T (every preset trains on full-length sequences).
    var tokensPerStep: Int { batchSize * config.context }

    /// Weights that take part in a matrix product: per layer Wq, Wk, Wv, Wo (D·D each), W1
    /// and W2 (D·F each), and the LM head (V·D; gpt2's is tok_emb, counted once here).
    /// Embedding lookups, biases and LayerNorm parameters do no multiply-adds worth counting.
    var matmulWeights: Int {
        let (V, D, F, L) = (config.vocabSize, config.dModel, config.dFF, config.nLayers)
        return L * (4 * D * D + 2 * D * F) + V * D
    }

    /// FLOPs per token of a training step as issue 15 counts them:
    /// 6·(matmul weights) + 6·L·D·(T + 1), causal attention counted once (the products
    /// q·kᵀ and att·v over the t + 1 visible positions, 2·D·(t + 1) each forward, averaged
    /// over t, times 3 for forward and backward).
    var flopsPerToken: Double {
        let (D, L, T) = (Double(config.dModel), Double(config.nLayers), Double(config.context))
        return 6 * Double(matmulWeights) + 6 * L * D * (T + 1)
    }

    /// FLOPs per training step: flopsPerToken · B·T.
    var flopsPerStep: Double { flopsPerToken * Double(tokensPerStep) }

    /// The batch every implementation trains on: B sequences of T tokens from the same
    /// 64-bit LCG as Benchmarks/peers/common.py `batch()`, targets shifted by one.
    func batch(seed: UInt64 = 1234) -> Batch {
        let (B, T, V) = (batchSize, config.context, UInt64(config.vocabSize))
        var state = seed
        var seq: [Int32] = []
        for _ in 0..<(B * (T + 1)) {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            seq.append(Int32((state >> 33) % V))
        }
        var tokens: [Int32] = [], targets: [Int32] = []
        for b in 0..<B {
            for t in 0..<T {
                tokens.append(seq[b * (T + 1) + t])
                targets.append(seq[b * (T + 1) + t + 1])
            }
        }
        return Batch(tokens: tokens, targets: targets, batchSize: B, seqLen: T)
    }
}

extension Vocabulary {
    /// A vocabulary of `size` tokens that a checkpoint may hold (spec/FORMAT.md §3.3): the
    /// byte vocabulary for 256, otherwise a word vocabulary (its three specials, then
    /// `w3`, `w4`, …).
    static func bench(size: Int) -> Vocabulary {
        if size == 256 { return .bytes }
        let specials = ["<PAD>", "<BOS>", "<EOS>"]
        return Vocabulary(kind: .word, tokens: specials + (specials.count..<size).map { "w\($0)" })
    }
}
