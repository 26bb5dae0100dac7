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
    /// Each step picks from the logits at the last position of the model run on the last
    /// min(n, T) tokens (the context window slides once the sequence is longer than T).
    /// Those logits come from the KV cache while the sequence fits in T: the prompt runs
    /// once (`Model.prefill`), then each new token is one `Model.decode` (on the weights'
    /// decode layout, `Model.prepareDecoding`), whose logits equal a full recompute bit for
    /// bit; a greedy decode step (temperature 0) takes `Model.decodeGreedy`, which finds the
    /// same argmax while reading the head through its half-precision screen. Once the
    /// window slides every position moves, so each
    /// later step recomputes the whole window. `onToken` is called with each new token as it
    /// is chosen; returning false stops generation there (a reader that went away:
    /// `sample | head`). Deterministic for a given model, prompt and options.
    /// - Precondition: prompt non-empty, ids in 0..<V, model.maxBatchSize ≥ 1.
    @discardableResult
    public static func generate(model: Model, vocabulary: Vocabulary, prompt: [Int32], options: GenerationOptions,
                                onToken: (Int32) -> Bool = { _ in true }) -> [Int32] {
        precondition(!prompt.isEmpty)
        let T = model.config.context, V = model.config.vocabSize
        var rng = PythonRandom(seed: options.seed)
        var sequence = prompt
        var generated: [Int32] = []
        let eos = options.stopAtEOS ? vocabulary.eosID.map { Int32($0) } : nil
        var order = [Int](repeating: 0, count: V)
        var weights = [Double](repeating: 0, count: V)
        // Positions 0..<cached of `sequence` are in the model's KV cache (0: nothing usable).
        var cached = 0
        let greedy = options.temperature == 0
        if options.maxTokens > 1 { model.prepareDecoding(greedy: greedy) }
        for _ in 0..<options.maxTokens {
            let extend = sequence.count <= T && cached == sequence.count - 1 && cached == model.cachedPositions && cached > 0
            let next: Int
            if extend && greedy {
                next = model.decodeGreedy(sequence[sequence.count - 1])
                cached += 1
            } else {
                let logits: UnsafeBufferPointer<Float>
                if extend {
                    logits = model.decode(sequence[sequence.count - 1])
                    cached += 1
                } else {
                    logits = model.prefill(Array(sequence.suffix(T)))
                    // A slid window starts past position 0: its cache cannot be extended.
                    cached = sequence.count <= T ? sequence.count : 0
                }
                next = greedy ? Model.argmax(logits) : draw(logits, options: options, rng: &rng, order: &order, weights: &weights)
            }
            let id = Int32(next)
            sequence.append(id)
            generated.append(id)
            if !onToken(id) || id == eos { break }
        }
        return generated
    }

    /// Draws from softmax(logits / temperature) over the top k (all with topK 0), ids
    /// ordered by logit then id; `order` and `weights` are scratch of V entries.
    private static func draw(_ logits: UnsafeBufferPointer<Float>, options: GenerationOptions, rng: inout PythonRandom,
                             order: inout [Int], weights: inout [Double]) -> Int {
        let V = logits.count
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
        for j in 0..<k {
            acc += weights[j]
            if u < acc { return order[j] }
        }
        return order[k - 1]
    }
}

extension Double {
    fileprivate var exp: Double { Foundation.exp(self) }
}
