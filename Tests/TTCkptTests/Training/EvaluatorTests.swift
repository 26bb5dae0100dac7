import Foundation
import Testing
@testable import TTCore
@testable import TTEngine
@testable import TTTraining

@Suite struct EvaluatorTests {
    @Test func windowsHaveStrideTAndCoverEveryTargetOnce() {
        #expect(Evaluator.windows(tokenCount: 10, context: 4) == [0..<4, 4..<8, 8..<9])
        #expect(Evaluator.windows(tokenCount: 9, context: 4) == [0..<4, 4..<8])
        #expect(Evaluator.windows(tokenCount: 2, context: 4) == [0..<1])
        #expect(Evaluator.windows(tokenCount: 5, context: 1) == [0..<1, 1..<2, 2..<3, 3..<4])
    }

    /// The mean loss over a stream against the Double reference model run window by window
    /// (inputs t[s..<e], targets t[s+1...e]), on each arch: within 1e-6 relative. The
    /// per-token Float losses carry float32 rounding of about 1e-7 relative; averaged, the
    /// figure stays there, while a window or target off by one changes it by ~1e-2.
    /// Batching the windows (B 1 or 3) and threads (1 or 3) change nothing, bit for bit.
    @Test(arguments: Architecture.allCases)
    func meanLossMatchesTheReferenceAndDoesNotDependOnBatching(_ arch: Architecture) throws {
        let config = ModelConfig(arch: arch, vocabSize: 9, dModel: 12, nHeads: 3, dFF: 24, nLayers: 2, context: 8)
        let model = Model(config: config, maxBatchSize: 3)
        var rng = PythonRandom(seed: 8)
        model.initializeWeights(rng: &rng)
        EngineFixtures.randomizeParameters(model, &rng)
        let tokens = (0..<(3 * 8 + 5)).map { _ in Int32(rng.randbelow(9)) }   // 29 tokens: windows 8, 8, 8, 4
        let one = Evaluator.evaluate(model: model, tokens: tokens, padID: nil, batchSize: 1)
        #expect(one.windows == 4 && one.targets == 28 && one.textTokens == 29)

        let reference = ReferenceModel(copying: model)
        var sum = 0.0, count = 0
        for w in Evaluator.windows(tokenCount: tokens.count, context: 8) {
            let inputs = tokens[w].map(Int.init), targets = tokens[(w.lowerBound + 1)...w.upperBound].map(Int.init)
            let out = reference.run(tokens: [inputs], targets: [targets], gradients: false)
            sum += out.losses[0].reduce(0, +)
            count += targets.count
        }
        let expected = sum / Double(count)
        #expect(abs(one.loss - expected) <= 1e-6 * expected, "\(one.loss) vs reference \(expected)")
        #expect(abs(one.perplexity - exp(expected)) <= 1e-5 * exp(expected))

        let batched = Evaluator.evaluate(model: model, tokens: tokens, padID: nil, batchSize: 3)
        #expect(batched.lossSum.bitPattern == one.lossSum.bitPattern && batched == one)
        model.threadCount = 3
        model.parallelThreshold = 0
        let threaded = Evaluator.evaluate(model: model, tokens: tokens, padID: nil, batchSize: 2)
        #expect(threaded == one)
    }

    /// `<PAD>` targets are not scored (as in training); the other targets are.
    @Test func padTargetsAreNotScored() {
        let config = ModelConfig(arch: .gpt2, vocabSize: 6, dModel: 8, nHeads: 2, dFF: 8, nLayers: 1, context: 4)
        let model = Model(config: config)
        var rng = PythonRandom(seed: 2)
        model.initializeWeights(rng: &rng)
        let tokens: [Int32] = [1, 3, 0, 4, 5, 0, 2]
        let withPad = Evaluator.evaluate(model: model, tokens: tokens, padID: 0, batchSize: 1)
        let without = Evaluator.evaluate(model: model, tokens: tokens, padID: nil, batchSize: 1)
        #expect(withPad.targets == 4 && without.targets == 6)
        #expect(withPad.lossSum < without.lossSum)
    }
}
