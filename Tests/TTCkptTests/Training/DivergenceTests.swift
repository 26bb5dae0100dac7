import Foundation
import Testing
@testable import TTCore
@testable import TTEngine
@testable import TTFormat
@testable import TTTokenizer
@testable import TTTraining

/// Issue 11 #1 in process: a step whose loss or gradient is not finite is not applied, and
/// everything it touched (generator, data cursor, weights, moments) is as before it.
@Suite struct DivergenceTests {
    /// A small gpt model on a char corpus with random windows (so steps draw from the
    /// generator), B = 2.
    func makeSession() throws -> (TrainingSession, TrainingData) {
        let text = Array("the cat sat on the mat and the dog sat on the log".utf8)
        let vocabulary = try Vocabulary(building: .char, from: text, source: "c")
        let data = try TrainingData(corpus: text, path: "c.txt", vocabulary: vocabulary)
        let config = ModelConfig(arch: .gpt, vocabSize: vocabulary.tokens.count, dModel: 8, nHeads: 2, dFF: 16,
                                 nLayers: 1, context: 6)
        let initial = try TrainingSession.initialCheckpoint(config: config, vocabulary: vocabulary, seed: 5, data: data.identity)
        let session = try TrainingSession(checkpoint: initial, maxBatchSize: 2, source: "t")
        session.beginRun(optimizer: AdamWConfig(), batchSize: 2, data: data.identity)
        return (session, data)
    }

    @Test func stepWithANonFiniteLossIsNotAppliedAndLeavesTheStateAsItWas() throws {
        let (session, data) = try makeSession()
        let sampler = session.sampler(for: data)
        for _ in 0..<3 { #expect(session.step(sampler).applied) }
        // Poison one weight every forward pass uses (LayerNorm γ of the final norm).
        let slot = session.model.layout.slots.first { $0.name == "ln_f.gamma" }!
        session.model.view(session.model.parameters, slot)[0] = .infinity
        let before = session.snapshot()
        let rngBefore = session.rng.state
        let result = session.step(sampler)
        #expect(!result.applied)
        #expect(result.step == 4)
        #expect(!result.loss.isFinite || !result.gradNorm.isFinite)
        let after = session.snapshot()
        #expect(after.training == before.training)  // step, cursor, tokens, history, generator
        #expect(session.rng.state == rngBefore)
        for (a, b) in zip(after.tensors, before.tensors) {
            #expect(a.values.map(\.bitPattern) == b.values.map(\.bitPattern), "\(a.name)")
        }
    }

    /// Makes the next step's loss finite and its gradient not: unit 0 of the first FFN gets
    /// the bias 1e20, so its pre-activation is ≈ 1e20 at every position, and its output
    /// weights (column 0 of ffn.w2) are zeroed, so the forward adds 0 · GELU(1e20) = 0 and
    /// the loss is what it was. The backward's GELU′ at 1e20 is 2x·σ·(1 − σ)·(1 + 3k·x²)
    /// with 1 − σ = 0 and x² = inf in float32: 0 · inf = NaN, which reaches ffn.w1 and b1.
    /// Every weight stays finite.
    func poisonTheBackwardOnly(_ model: Model) {
        let F = model.layout.config.dFF
        let b1 = model.view(model.parameters, model.layout.slots.first { $0.name == "layers.0.ffn.b1" }!)
        let w2 = model.view(model.parameters, model.layout.slots.first { $0.name == "layers.0.ffn.w2" }!)  // (D, F)
        b1[0] = 1e20
        for c in 0..<model.layout.config.dModel { w2[c * F] = 0 }
    }

    /// Issue 11 #1: a finite loss with a non-finite gradient is a divergence too; the step
    /// is not applied and the state is as before it.
    @Test func stepWithAFiniteLossButANonFiniteGradientIsNotApplied() throws {
        let (session, data) = try makeSession()
        let sampler = session.sampler(for: data)
        for _ in 0..<3 { #expect(session.step(sampler).applied) }
        poisonTheBackwardOnly(session.model)
        let before = session.snapshot()
        let rngBefore = session.rng.state
        let result = session.step(sampler)
        #expect(!result.applied)
        #expect(result.step == 4)
        #expect(result.loss.isFinite)
        #expect(!result.gradNorm.isFinite)
        let after = session.snapshot()
        #expect(after.training == before.training)
        #expect(session.rng.state == rngBefore)
        for (a, b) in zip(after.tensors, before.tensors) {
            #expect(a.values.map(\.bitPattern) == b.values.map(\.bitPattern), "\(a.name)")
        }
    }

    /// Through the training loop: the run stops at that step and saves the step before it,
    /// exactly the state the last good step left (finite, so it is written).
    @Test func trainerSavesTheLastGoodStateWhenOnlyTheGradientIsNotFinite() throws {
        let dir = try TemporaryDirectory("diverge-grad")
        let (session, data) = try makeSession()
        var options = TrainerOptions(steps: 10, outputPath: dir.path("m.ttc"))
        options.backgroundSaves = false
        var lastGood: Checkpoint? = nil
        let outcome = try Trainer.run(session, data: data, options: options, onStep: {
            if $0.step == 2 {
                self.poisonTheBackwardOnly(session.model)
                lastGood = session.snapshot()
            }
        })
        guard case .diverged(let d) = outcome else { Issue.record("outcome \(outcome)"); return }
        #expect(d.step == 3 && d.savedStep == 2)
        #expect(d.loss.isFinite && !d.gradNorm.isFinite)
        #expect(d.message.hasPrefix("training diverged at step 3: the loss is \(d.loss) and the gradient norm nan, so that step was not applied; saved step 2."),
                "\(d.message)")
        #expect(try dir.listing() == ["m.ttc"])
        let saved = try CheckpointReader(path: dir.path("m.ttc")).readCheckpoint()
        #expect(saved.training.step == 2)
        let expected = try #require(lastGood)
        #expect(saved.training == expected.training)
        for (a, b) in zip(saved.tensors, expected.tensors) {
            #expect(a.values.map(\.bitPattern) == b.values.map(\.bitPattern), "\(a.name)")
        }
    }

    /// Once the weight is repaired, the next step draws exactly the windows the failed one
    /// drew: the failed step left no trace.
    @Test func theStepAfterAFailedOneDrawsTheSameBatch() throws {
        let (a, data) = try makeSession()
        let (b, _) = try makeSession()
        let sampler = a.sampler(for: data)
        for _ in 0..<2 { a.step(sampler); b.step(b.sampler(for: data)) }
        let slot = a.model.layout.slots.first { $0.name == "ln_f.gamma" }!
        let view = a.model.view(a.model.parameters, slot)
        let saved = view[0]
        view[0] = .nan
        #expect(!a.step(sampler).applied)
        view[0] = saved
        #expect(a.step(sampler).applied)
        b.step(b.sampler(for: data))
        #expect(a.batch == b.batch)
        #expect(a.snapshot() == b.snapshot())
    }

    /// The training loop stops at the first non-finite step. A state holding a non-finite
    /// weight is never written: here the weight is broken between steps (as an overflowing
    /// update would), so the last save is refused and no file appears.
    @Test func trainerStopsAndNeverWritesANonFiniteState() throws {
        let dir = try TemporaryDirectory("diverge-lib")
        let (session, data) = try makeSession()
        var options = TrainerOptions(steps: 10, outputPath: dir.path("m.ttc"))
        options.backgroundSaves = false
        let slot = session.model.layout.slots.first { $0.name == "ln_f.gamma" }!
        #expect(throws: InputError.self) {
            try Trainer.run(session, data: data, options: options,
                            onStep: { if $0.step == 2 { session.model.view(session.model.parameters, slot)[0] = .nan } })
        }
        #expect(session.state.step == 2)
        #expect(try dir.listing() == [])
        // A divergence at the first step of a run saves nothing.
        let (fresh, _) = try makeSession()
        fresh.model.view(fresh.model.parameters, slot)[0] = .nan
        let outcome = try Trainer.run(fresh, data: data, options: options)
        guard case .diverged(let d) = outcome else { Issue.record("outcome \(outcome)"); return }
        #expect(d.step == 1 && d.savedStep == nil)
        #expect(d.message.hasPrefix("training diverged at step 1: the loss is nan"))
        #expect(d.message.contains("no step of this run had finished, so nothing was saved"))
        #expect(try dir.listing() == [])
    }

    /// The generator's undo: any number of draws after a mark, across several twists (a
    /// twist every 624 words), roll back to exactly the marked state.
    @Test func generatorRollsBackExactlyAcrossTwists() {
        var rng = PythonRandom(seed: 7)
        for _ in 0..<100 { _ = rng.nextUInt32() }
        for draws in [0, 1, 523, 524, 525, 2000] {
            let reference = rng
            rng.mark()
            for _ in 0..<draws { _ = rng.gauss() }
            rng.rollBack()
            #expect(rng == reference, "\(draws) draws")
            #expect(rng.state == reference.state)
            var a = rng, b = reference
            #expect((0..<1500).map { _ in a.nextUInt32() } == (0..<1500).map { _ in b.nextUInt32() })
            _ = rng.random()  // move on between cases
        }
    }

    @Test func likelyCausesComeFromTheHyperparameters() {
        var o = AdamWConfig()
        func causes(_ o: AdamWConfig, saved: Int? = 10) -> [String] {
            Divergence(step: 11, loss: .nan, gradNorm: .infinity, learningRate: o.learningRate, optimizer: o, savedStep: saved).likelyCauses
        }
        o.learningRate = 10
        o.beta2 = 0
        #expect(causes(o) == ["the learning rate 10 is too high (1e-4 to 1e-2 is usual)", "beta2 0 is too low (0.95 to 0.999 is usual)"])
        o = AdamWConfig()
        o.learningRate = 0.05
        #expect(causes(o) == ["the learning rate 0.05 may be too high (1e-4 to 1e-2 is usual)"])
        o = AdamWConfig()
        o.epsilon = 1e-30
        #expect(causes(o) == ["eps 1e-30 is tiny (1e-8 is usual)"])
        #expect(causes(AdamWConfig()) == ["the learning rate may be too high for this model; a lower one or gradient clipping (grad clip 1) may help"])
        // At the first step of a run the weights are the checkpoint's: its hyperparameters are not the cause.
        o.learningRate = 10
        #expect(causes(o, saved: nil).count == 1)
        #expect(causes(o, saved: nil)[0].hasPrefix("the checkpoint's own weights already give a non-finite loss"))
    }
}
