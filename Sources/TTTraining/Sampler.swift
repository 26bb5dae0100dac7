import TTCore
import TTEngine
import Foundation

/// How `Sampler.generate` picks tokens.
public struct GenerationOptions: Sendable {
    /// Tokens to generate at most.
    public var maxTokens: Int = 100
    /// 0: greedy (argmax, lowest id on ties); otherwise softmax(logits / temperature).
    public var temperature: Double = 1.0
    /// Sample only among the k most likely tokens (ties broken by lower id); 0: all.
    public var topK: Int = 0
    /// Seed of the `PythonRandom` that draws the samples.
    public var seed: UInt64 = 42
    /// Stop after generating `<EOS>`, when the vocabulary has it.
    public var stopAtEOS: Bool = true
    public init() {}
}

/// Text generation from a model.
public enum Sampler {
    /// Continues `prompt` by up to `options.maxTokens` tokens and returns only the new ones.
    /// Each step runs the model on the last min(n, T) tokens (the context window slides once
    /// the sequence is longer than T) and picks from the logits at the last position.
    /// Deterministic for a given model, prompt and options.
    /// - Precondition: prompt non-empty, ids in 0..<V, model.maxBatchSize ≥ 1.
    public static func generate(model: Model, vocabulary: Vocabulary, prompt: [Int32], options: GenerationOptions,
                                onToken: (Int32) -> Void = { _ in }) -> [Int32] {
        precondition(!prompt.isEmpty)
        let T = model.config.context, V = model.config.vocabSize
        var rng = PythonRandom(seed: options.seed)
        var sequence = prompt
        var generated: [Int32] = []
        let eos = options.stopAtEOS ? vocabulary.eosID.map { Int32($0) } : nil
        var order = [Int](repeating: 0, count: V)
        var weights = [Double](repeating: 0, count: V)
        for _ in 0..<options.maxTokens {
            let window = Array(sequence.suffix(T))
            let batch = Batch(tokens: window, targets: [Int32](repeating: Batch.ignore, count: window.count),
                              batchSize: 1, seqLen: window.count)
            _ = model.forward(batch)
            let logits = model.logits(batch: 0, position: window.count - 1)
            let next: Int
            if options.temperature == 0 {
                var best = 0
                for i in 1..<V where logits[i] > logits[best] { best = i }
                next = best
            } else {
                for i in 0..<V { order[i] = i }
                order.sort { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }
                let k = options.topK > 0 ? min(options.topK, V) : V
                let top = Double(logits[order[0]])
                var total = 0.0
                for j in 0..<k {
                    weights[j] = ((Double(logits[order[j]]) - top) / options.temperature).exp
                    total += weights[j]
                }
                let u = rng.random() * total
                var acc = 0.0
                var pick = order[k - 1]
                for j in 0..<k {
                    acc += weights[j]
                    if u < acc { pick = order[j]; break }
                }
                next = pick
            }
            let id = Int32(next)
            sequence.append(id)
            generated.append(id)
            onToken(id)
            if id == eos { break }
        }
        return generated
    }
}

extension Double {
    fileprivate var exp: Double { Foundation.exp(self) }
}
