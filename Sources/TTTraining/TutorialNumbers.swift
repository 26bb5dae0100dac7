import TTCore
import TTEngine
import Foundation

/// The quantities the tutorial series publishes for its seed-42 model, so a reader can set
/// the series' numbers beside the engine's.
public struct TutorialNumbers: Equatable, Sendable {
    /// tok_emb[1][0] after initialization.
    public var tokEmb10: Double
    /// softmax(logits) at position 0 (input `<BOS>`), over the 6 tokens.
    public var position0Probabilities: [Double]
    /// Cross-entropy at positions 0...3 of [1, 3, 4, 5, 2] (targets 3, 4, 5, 2).
    public var positionLosses: [Double]
    /// Their mean: the loss `train` reports for step 1.
    public var averageLoss: Double
    /// tok_emb[1][0] after one AdamW step with the defaults.
    public var tokEmb10AfterOneStep: Double

    /// The values the series prints (rounded as it prints them: 6 decimals for weights,
    /// 4 for probabilities and losses).
    public static let published = TutorialNumbers(
        tokEmb10: 0.024634,
        position0Probabilities: [0.2098, 0.1353, 0.1424, 0.1491, 0.2004, 0.1631],
        positionLosses: [1.9033, 1.6123, 1.8479, 1.9560],
        averageLoss: 1.8299,
        tokEmb10AfterOneStep: 0.025634)

    /// The same quantities computed by this engine on a fresh seed-42 tutorial model.
    public static func computed() -> TutorialNumbers {
        let model = Model(config: .tutorial, maxBatchSize: 1)
        var rng = PythonRandom(seed: 42)
        model.initializeWeights(rng: &rng)
        let V = model.config.vocabSize, D = model.config.dModel
        let tokEmb = model.layout.slot(named: "tok_emb")!.offset
        let initial = Double(model.parameters[tokEmb + 1 * D + 0])

        let tokens = TrainingData.tutorial().tokens
        let batch = Batch(tokens: tokens, targets: Array(tokens.dropFirst()) + [Batch.ignore],
                          batchSize: 1, seqLen: tokens.count)
        let loss = model.forward(batch)
        func probabilities(_ position: Int) -> [Double] {
            let logits = model.logits(batch: 0, position: position)
            let top = logits.max()!
            let e = (0..<V).map { Foundation.exp(Double(logits[$0] - top)) }
            let sum = e.reduce(0, +)
            return e.map { $0 / sum }
        }
        let losses = (0..<(tokens.count - 1)).map { -Foundation.log(probabilities($0)[Int(tokens[$0 + 1])]) }
        model.backward()
        _ = model.applyAdamW(AdamWConfig(), step: 1)
        return TutorialNumbers(tokEmb10: initial, position0Probabilities: probabilities(0), positionLosses: losses,
                               averageLoss: Double(loss), tokEmb10AfterOneStep: Double(model.parameters[tokEmb + 1 * D]))
    }
}
