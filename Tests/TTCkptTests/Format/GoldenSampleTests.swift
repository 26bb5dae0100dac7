import Foundation
import Testing
@testable import TTCore
@testable import TTEngine
@testable import TTFormat
@testable import TTTokenizer
@testable import TTTraining

/// The committed version-1 files in samples/ must keep reading, with the contents they were
/// made with (samples/README.md lists the commands). A later version that cannot read them
/// fails here.
@Suite struct GoldenSampleTests {
    static let samples = TestPaths.packageRoot.appendingPathComponent("samples")

    static func open(_ name: String) throws -> CheckpointReader {
        try CheckpointReader(path: samples.appendingPathComponent(name).path)
    }

    @Test func tutorialInitIsTheSeriesInitialModel() throws {
        let reader = try Self.open("tutorial-init.ttc")
        #expect(reader.formatVersion.major == 1 && reader.formatVersion.minor == 0)
        #expect(reader.config == .tutorial)
        #expect(reader.vocabulary == .tutorial)
        #expect(reader.training.step == 0 && reader.training.lossHistory.isEmpty && reader.training.seed == 42)
        let stored = try reader.readCheckpoint()

        // A fresh seed-42 tutorial checkpoint made now must equal the golden one: same
        // weights bit for bit, zero moments, the generator state right after the draws.
        let fresh = try TrainingSession.initialCheckpoint(config: .tutorial, vocabulary: .tutorial, seed: 42,
                                                          data: stored.training.data)
        #expect(stored == fresh)
        // The series' published first weight (6 decimals).
        let tokEmb = try #require(stored.tensors.first { $0.name == "tok_emb" })
        #expect(abs(Double(tokEmb.values[16]) - 0.024634) <= 5e-7)
        #expect(stored.tensors.filter { $0.role != .parameter }.allSatisfy { $0.values.allSatisfy { $0 == 0 } })
    }

    @Test func tutorialTrainedCompletesTheSentence() throws {
        let reader = try Self.open("tutorial-trained.ttc")
        let checkpoint = try reader.readCheckpoint()
        #expect(checkpoint.training.step == 1000)
        #expect(checkpoint.training.lossHistory.count == 1000)
        let last = try #require(checkpoint.training.lossHistory.last)
        #expect(last < 0.01)

        let session = try TrainingSession(checkpoint: checkpoint, maxBatchSize: 1, source: "tutorial-trained.ttc")
        // The stored weights themselves give a loss below 0.01 on the series' sequence
        // (the recorded loss was measured before the last update).
        let data = TrainingData.tutorial()
        let batch = Batch(tokens: Array(data.tokens), targets: Array(data.tokens.dropFirst()) + [Batch.ignore],
                          batchSize: 1, seqLen: data.tokens.count)
        #expect(session.model.forward(batch) < 0.01)
        var options = GenerationOptions()
        options.temperature = 0
        let out = Sampler.generate(model: session.model, vocabulary: checkpoint.vocabulary, prompt: [1], options: options)
        #expect(checkpoint.vocabulary.decode(out) == "I like transformers <EOS>")
    }

    @Test func gptTinyWasTrainedOnTheCommittedCorpus() throws {
        let path = Self.samples.appendingPathComponent("gpt-tiny.ttc").path
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(size <= 1_000_000)
        let reader = try Self.open("gpt-tiny.ttc")
        #expect(reader.config == ModelConfig(arch: .gpt, vocabSize: 29, dModel: 48, nHeads: 4, dFF: 192, nLayers: 2, context: 32))
        #expect(reader.vocabulary.kind == .char)

        // The vocabulary and data identity are those of samples/corpus.txt as committed.
        let corpus = try TrainingData.readCorpus(Self.samples.appendingPathComponent("corpus.txt").path)
        #expect(reader.vocabulary.tokens == Set(String(decoding: corpus, as: UTF8.self).unicodeScalars).map { String($0) }.sorted {
            $0.unicodeScalars.first!.value < $1.unicodeScalars.first!.value
        })
        let identity = try #require(reader.training.data)
        #expect(identity.byteCount == corpus.count && identity.sha256 == SHA256.hexDigest(corpus))

        let t = reader.training
        #expect(t.step == 800 && t.lossHistory.count == 800 && t.batchSize == 8)
        #expect(t.optimizer.schedule == .cosine && t.optimizer.warmupSteps == 40 && t.optimizer.decaySteps == 800)
        // Training really happened: the last 50 steps average well below the first loss,
        // which starts near ln(29) ≈ 3.37 for a fresh model.
        let tail = t.lossHistory.suffix(50).reduce(0, +) / 50
        #expect(abs(Double(t.lossHistory[0]) - Foundation.log(29.0)) < 0.2)
        #expect(tail < t.lossHistory[0] / 2)
        // Every blob inflates and verifies.
        for entry in reader.entries { _ = try reader.loadTensor(entry) }
    }
}
