import Foundation
import Testing
@testable import TTCore
@testable import TTEngine
@testable import TTFormat
@testable import TTTokenizer
@testable import TTTraining

/// A small model of each arch with generic weights, its batch, and its trace.
private struct TraceCase: CustomTestStringConvertible, Sendable {
    var config: ModelConfig
    var batchSize: Int
    var seqLen: Int
    var seed: UInt64
    var testDescription: String { "\(config.arch) D\(config.dModel) H\(config.nHeads) F\(config.dFF) L\(config.nLayers) B\(batchSize) S\(seqLen)" }

    static let all: [TraceCase] = [
        TraceCase(config: ModelConfig(arch: .tutorial, vocabSize: 7, dModel: 8, nHeads: 2, dFF: 12, nLayers: 2, context: 6),
                  batchSize: 2, seqLen: 5, seed: 11),
        TraceCase(config: ModelConfig(arch: .gpt, vocabSize: 7, dModel: 8, nHeads: 2, dFF: 12, nLayers: 2, context: 6),
                  batchSize: 2, seqLen: 5, seed: 12),
        TraceCase(config: ModelConfig(arch: .gpt2, vocabSize: 7, dModel: 8, nHeads: 2, dFF: 12, nLayers: 2, context: 6),
                  batchSize: 2, seqLen: 5, seed: 13),
    ]

    func model() -> (Model, Batch) {
        let model = Model(config: config, maxBatchSize: batchSize)
        var rng = PythonRandom(seed: seed)
        model.initializeWeights(rng: &rng)
        EngineFixtures.randomizeParameters(model, &rng)
        let batch = EngineFixtures.randomBatch(&rng, config: config, batchSize: batchSize, seqLen: seqLen)
        return (model, batch)
    }
}

@Suite struct TraceEngineTests {
    /// Every catalog entry that is not a parameter gradient or update is produced, with
    /// the catalog's element count; names are unique.
    @Test(arguments: TraceCase.all)
    fileprivate func traceHoldsEveryCatalogEntry(_ c: TraceCase) {
        let (model, batch) = c.model()
        let (_, values) = model.traceForwardBackward(batch)
        let entries = TraceCatalog.entries(config: c.config, batchSize: c.batchSize, seqLen: c.seqLen)
        #expect(Set(entries.map(\.name)).count == entries.count)
        for e in entries where e.role == .activation || e.role == .activationGrad {
            #expect(values[e.name]?.count == e.elementCount, "\(e.name)")
        }
        let expectedCount = entries.filter { $0.role == .activation || $0.role == .activationGrad }.count
        #expect(values.count == expectedCount, "extra names: \(Set(values.keys).subtracting(entries.map(\.name)))")
        #expect(TraceCatalog.elementCount(config: c.config, batchSize: c.batchSize, seqLen: c.seqLen)
                == entries.reduce(2 * c.batchSize * c.seqLen) { $0 + $1.elementCount })
    }

    /// The trace's gradients are `backward()`'s: a plain forward + backward on a second model
    /// with the same weights gives the same bits (the observer changes nothing).
    @Test(arguments: TraceCase.all)
    fileprivate func tracingLeavesTheGradientsBitForBit(_ c: TraceCase) {
        let (traced, batch) = c.model()
        let (plain, _) = c.model()
        let lossTraced = traced.traceForwardBackward(batch).loss
        let lossPlain = plain.forward(batch)
        plain.backward()
        #expect(lossTraced.bitPattern == lossPlain.bitPattern)
        #expect(Array(traced.gradients).map(\.bitPattern) == Array(plain.gradients).map(\.bitPattern))
    }

    /// Float engine vs the Double reference, stage by stage: every activation and every
    /// activation gradient within 1e-4 relative ℓ2 (the bound `ModelMatchesReferenceTests`
    /// uses for parameter gradients, for the same reason: Float32 rounding over a few hundred
    /// operations stays near 1e-6, a wrong term gives O(1)). The reference's own parameter
    /// gradients from this staged pass equal those of `run` (a second, independent backward)
    /// to 1e-12 relative (Double, summation order only).
    @Test(arguments: TraceCase.all)
    fileprivate func traceMatchesTheDoubleReference(_ c: TraceCase) throws {
        let (model, batch) = c.model()
        let reference = ReferenceModel(copying: model)
        let (_, values) = model.traceForwardBackward(batch)
        let tokens = EngineFixtures.rows(batch, batch.tokens), targets = EngineFixtures.rows(batch, batch.targets)
        let expected = reference.trace(tokens: tokens, targets: targets)
        for (name, v) in values {
            let ref = try #require(name.hasPrefix("act.") ? expected.acts[name] : expected.grads[name], "\(name) missing in the reference")
            #expect(ref.count == v.count, "\(name)")
            let norm = ref.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(norm > 0 || name.hasSuffix(".mean"), "\(name): reference is zero, the comparison would be empty")
            let err = EngineFixtures.relativeL2(v.map(Double.init), ref)
            #expect(err < 1e-4, "\(name): relative ℓ2 error \(err)")
        }
        let run = reference.run(tokens: tokens, targets: targets, gradients: true)
        for (name, g) in run.grads {
            #expect(EngineFixtures.relativeL2(try #require(expected.paramGrads[name]), g) < 1e-12, "\(name)")
        }
    }

    /// Central differences in Double on the reference, with respect to the activations: for
    /// sampled elements of every `grad.*` tensor (the largest, two spread through it, and one
    /// above the causal diagonal for the attention matrices), the staged backward's gradient
    /// equals (L(a + h) − L(a − h))/2h. Step and tolerance as in
    /// `ReferenceFiniteDifferenceTests`: h = 1e-5, |fd − g| ≤ 1e-6·max(|fd|, |g|) + 1e-10.
    @Test(arguments: TraceCase.all)
    fileprivate func activationGradientsPassFiniteDifferences(_ c: TraceCase) throws {
        let (model, batch) = c.model()
        let reference = ReferenceModel(copying: model)
        let tokens = EngineFixtures.rows(batch, batch.tokens), targets = EngineFixtures.rows(batch, batch.targets)
        let analytic = reference.trace(tokens: tokens, targets: targets)
        let h = 1e-5
        var checked = 0
        for e in TraceCatalog.entries(config: c.config, batchSize: c.batchSize, seqLen: c.seqLen) where e.role == .activationGrad {
            let g = try #require(analytic.grads[e.name])
            let stage = "act." + e.name.dropFirst("grad.".count)
            let n = g.count
            let largest = g.indices.max { abs(g[$0]) < abs(g[$1]) }!
            var picks = [largest, n / 3, (2 * n) / 3 + 1]
            if e.shape.count == 4 { picks.append(1) }   // (b 0, h 0, t 0, t2 1): above the diagonal
            for i in Set(picks.map { $0 % n }) {
                let plus = reference.trace(tokens: tokens, targets: targets, perturb: (stage, i, h), gradients: false).loss
                let minus = reference.trace(tokens: tokens, targets: targets, perturb: (stage, i, -h), gradients: false).loss
                let fd = (plus - minus) / (2 * h)
                #expect(abs(fd - g[i]) <= 1e-6 * max(abs(fd), abs(g[i])) + 1e-10, "\(e.name)[\(i)]: fd \(fd) vs analytic \(g[i])")
                checked += 1
            }
            #expect(abs(g[largest]) > 1e-5, "\(e.name): largest gradient \(g[largest]) too small to test")
        }
        #expect(checked >= 60)
    }
}

@Suite struct StepTracerTests {
    /// A checkpoint of each arch with B > 1 (gpt) or the tutorial's built-in data.
    static func session(_ config: ModelConfig, batchSize: Int, data: TrainingData, vocabulary: Vocabulary) throws -> (Checkpoint, TrainingData) {
        var initial = try TrainingSession.initialCheckpoint(config: config, vocabulary: vocabulary, seed: 5, data: data.identity)
        initial.training.batchSize = batchSize
        // Two steps first, so moments, generator and cursor are not fresh.
        let s = try TrainingSession(checkpoint: initial, maxBatchSize: batchSize, source: "test")
        s.step(s.sampler(for: data))
        s.step(s.sampler(for: data))
        return (s.snapshot(), data)
    }

    static func cases() throws -> [(Checkpoint, TrainingData)] {
        let text = Array("the quick brown fox jumps over the lazy dog, again and again and again.".utf8)
        let chars = Array(Set(String(decoding: text, as: UTF8.self).map { String($0) })).sorted()
        let vocabulary = Vocabulary(kind: .char, tokens: chars)
        let corpus = try TrainingData(corpus: text, path: "corpus.txt", vocabulary: vocabulary)
        let gpt = ModelConfig(arch: .gpt, vocabSize: chars.count, dModel: 8, nHeads: 2, dFF: 16, nLayers: 2, context: 8)
        var gpt2 = gpt
        gpt2.arch = .gpt2
        return [try session(.tutorial, batchSize: 1, data: .tutorial(), vocabulary: .tutorial),
                try session(gpt, batchSize: 3, data: corpus, vocabulary: vocabulary),
                try session(gpt2, batchSize: 2, data: corpus, vocabulary: vocabulary)]
    }

    /// The trace's gradients and updates are those of the real training step on the same
    /// checkpoint, bit for bit; the batch is the one that step draws; the checkpoint's
    /// session is not advanced by tracing.
    @Test func gradientsAndUpdatesAreTheTrainingStepsBitForBit() throws {
        for (checkpoint, data) in try Self.cases() {
            let tracer = try TrainingSession(checkpoint: checkpoint, maxBatchSize: checkpoint.training.batchSize, source: "t")
            let batch = StepTracer.nextBatch(session: tracer, data: data)
            let trace = StepTracer.trace(session: tracer, batch: batch)
            #expect(tracer.rng.state == checkpoint.training.rng, "tracing advanced the generator")
            #expect(tracer.state.windowsDrawn == checkpoint.training.windowsDrawn)

            let trainer = try TrainingSession(checkpoint: checkpoint, maxBatchSize: checkpoint.training.batchSize, source: "t")
            let before = Array(trainer.model.parameters)
            let result = trainer.step(trainer.sampler(for: data))
            #expect(trainer.batch == batch, "the trace's batch is not the one training draws")
            let info = try #require(trace.trace)
            #expect(info.step == checkpoint.training.step + 1)
            #expect(Float(info.loss).bitPattern == result.loss.bitPattern)
            #expect(Float(info.gradNorm).bitPattern == result.gradNorm.bitPattern)
            var byName: [String: NamedTensor] = [:]
            for t in trace.tensors { byName[t.name] = t }
            for slot in trainer.model.layout.slots {
                let g = try #require(byName[slot.name])
                #expect(g.role == .gradient)
                #expect(g.values.map(\.bitPattern) == trainer.model.view(trainer.model.gradients, slot).map(\.bitPattern), "\(slot.name)")
                let u = try #require(byName["update." + slot.name])
                let after = trainer.model.view(trainer.model.parameters, slot)
                let expected = (0..<slot.count).map { after[$0] - before[slot.offset + $0] }
                #expect(u.values.map(\.bitPattern) == expected.map(\.bitPattern), "update.\(slot.name)")
            }
            #expect(byName[TraceInfo.tokensName]?.values == batch.tokens.map(Float.init))
            #expect(byName[TraceInfo.targetsName]?.values == batch.targets.map(Float.init))
        }
    }

    /// A trace round-trips through the .ttc writer and reader: metadata, roles and values.
    @Test func traceRoundTripsThroughTTC() throws {
        for (checkpoint, data) in try Self.cases() {
            let s = try TrainingSession(checkpoint: checkpoint, maxBatchSize: checkpoint.training.batchSize, source: "t")
            let trace = StepTracer.trace(session: s, batch: StepTracer.nextBatch(session: s, data: data))
            let bytes = try CheckpointWriter.encodedBytes(trace)
            let reader = try CheckpointReader(bytes: bytes, name: "trace.ttc")
            #expect(reader.trace == trace.trace)
            #expect(reader.training == checkpoint.training)
            let back = try reader.readCheckpoint()
            #expect(back.tensors.map(\.name) == trace.tensors.map(\.name))
            #expect(back.tensors.map(\.role) == trace.tensors.map(\.role))
            #expect(back.tensors.map { $0.values.map(\.bitPattern) } == trace.tensors.map { $0.values.map(\.bitPattern) })
        }
    }
}
