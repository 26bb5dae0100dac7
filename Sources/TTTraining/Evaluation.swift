import TTCore
import TTEngine
import Foundation

/// What `Evaluator.evaluate` measured.
public struct EvaluationResult: Equatable, Sendable {
    /// Σ −log p(target) over the scored targets, each term a Float loss added in Double in
    /// text order.
    public var lossSum: Double
    /// Targets scored: every token after the first, less `<PAD>` targets.
    public var targets: Int
    /// Windows the text was cut into.
    public var windows: Int
    /// Tokens in the text.
    public var textTokens: Int

    /// Mean cross-entropy per scored target, in nats (NaN when none was scored).
    public var loss: Double { targets > 0 ? lossSum / Double(targets) : .nan }
    /// exp(loss).
    public var perplexity: Double { exp(loss) }
}

/// How far an evaluation has got, for progress output.
public struct EvaluationProgress: Sendable {
    public var windowsDone: Int
    public var windows: Int
    public var targetsDone: Int
    /// Mean loss over the targets done so far.
    public var loss: Double
}

/// Cross-entropy of a model over a whole token stream.
///
/// The stream t[0..<n] is cut into consecutive windows with stride T (the model's context):
/// window w has inputs t[s..<e] and targets t[s+1...e] with s = w·T, e = min(s + T, n − 1),
/// so every token but the first is a target exactly once and the last window may be shorter.
/// Each window is a fresh sequence starting at position 0 (no state carries over). Targets
/// equal to `padID` are not scored, as in training. Full windows run `batchSize` at a time;
/// the result does not depend on `batchSize` or the thread count (per-position losses are
/// added in text order).
public enum Evaluator {
    /// The input ranges of the windows over n tokens with context T.
    public static func windows(tokenCount n: Int, context T: Int) -> [Range<Int>] {
        precondition(T >= 1)
        var ranges: [Range<Int>] = []
        var s = 0
        while s < n - 1 {
            ranges.append(s..<min(s + T, n - 1))
            s += T
        }
        return ranges
    }

    /// - Precondition: tokens.count ≥ 2, ids in 0..<V, 1 ≤ batchSize ≤ model.maxBatchSize.
    public static func evaluate(model: Model, tokens: [Int32], padID: Int32?, batchSize: Int,
                                onProgress: (EvaluationProgress) -> Void = { _ in }) -> EvaluationResult {
        precondition(tokens.count >= 2, "evaluation needs at least 2 tokens")
        precondition(batchSize >= 1 && batchSize <= model.maxBatchSize)
        let T = model.config.context
        let ranges = windows(tokenCount: tokens.count, context: T)
        var result = EvaluationResult(lossSum: 0, targets: 0, windows: ranges.count, textTokens: tokens.count)
        var batch = Batch(tokens: [], targets: [], batchSize: 0, seqLen: 0)
        var w = 0
        while w < ranges.count {
            // Windows of one length go together (all but possibly the last are T long).
            let S = ranges[w].count
            var B = 1
            while B < batchSize && w + B < ranges.count && ranges[w + B].count == S { B += 1 }
            if batch.tokens.count != B * S {
                batch.tokens = [Int32](repeating: 0, count: B * S)
                batch.targets = [Int32](repeating: 0, count: B * S)
            }
            batch.batchSize = B
            batch.seqLen = S
            for b in 0..<B {
                let start = ranges[w + b].lowerBound
                for i in 0..<S {
                    batch.tokens[b * S + i] = tokens[start + i]
                    let y = tokens[start + i + 1]
                    batch.targets[b * S + i] = y == padID ? Batch.ignore : y
                }
            }
            _ = model.forward(batch)
            let losses = model.lastLosses
            for i in 0..<(B * S) where batch.targets[i] != Batch.ignore {
                result.lossSum += Double(losses[i])
                result.targets += 1
            }
            w += B
            onProgress(EvaluationProgress(windowsDone: w, windows: ranges.count, targetsDone: result.targets,
                                          loss: result.loss))
        }
        return result
    }
}
