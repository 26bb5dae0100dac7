import Foundation
import Testing
@testable import TTCore
@testable import TTEngine
@testable import TTFormat
@testable import TTTokenizer
@testable import TTTraining

/// The committed files must keep reading, with the contents they were made with: samples/
/// (format 1.1, written by the current writer; samples/README.md lists the commands) and
/// the files they replaced, kept as compatibility fixtures: format 1.0 in
/// Tests/Fixtures/compat/format-1.0/, and format 1.1 as the zlib-deflate writer wrote it
/// before the byte-plane encoder in Tests/Fixtures/compat/format-1.1-zlib/. A later
/// version that cannot read any of them fails here.
@Suite struct GoldenSampleTests {
    static let samples = TestPaths.packageRoot.appendingPathComponent("samples")
    static let compat = TestPaths.packageRoot.appendingPathComponent("Tests/Fixtures/compat/format-1.0")
    static let compatZlib = TestPaths.packageRoot.appendingPathComponent("Tests/Fixtures/compat/format-1.1-zlib")
    /// Every set, with the minor version each was written with.
    static let sets: [(directory: URL, minor: UInt16)] = [(samples, 1), (compat, 0), (compatZlib, 1)]

    static func open(_ name: String, in directory: URL = samples) throws -> CheckpointReader {
        try CheckpointReader(path: directory.appendingPathComponent(name).path)
    }

    @Test(arguments: sets.indices)
    func tutorialInitIsTheSeriesInitialModel(_ set: Int) throws {
        let (directory, minor) = Self.sets[set]
        let reader = try Self.open("tutorial-init.ttc", in: directory)
        #expect(reader.formatVersion.major == 1 && reader.formatVersion.minor == minor)
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

    @Test(arguments: sets.indices)
    func tutorialTrainedCompletesTheSentence(_ set: Int) throws {
        let reader = try Self.open("tutorial-trained.ttc", in: Self.sets[set].directory)
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

    @Test(arguments: sets.indices)
    func gptTinyWasTrainedOnTheCommittedCorpus(_ set: Int) throws {
        let path = Self.sets[set].directory.appendingPathComponent("gpt-tiny.ttc").path
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(size <= 1_000_000)
        let reader = try Self.open("gpt-tiny.ttc", in: Self.sets[set].directory)
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

    /// Issue 11 #14: every file of both sets reads and verifies: each tensor's CRCs and, in
    /// the 1.1 samples, its SHA-256; the 1.0 fixtures have no `hash` section and their
    /// model digest is computed from the data.
    @Test func everyCommittedFileReadsAndVerifies() throws {
        for (directory, minor) in Self.sets {
            for name in ["tutorial-init.ttc", "tutorial-trained.ttc", "gpt-tiny.ttc"] {
                let reader = try Self.open(name, in: directory)
                #expect(reader.formatVersion == (1, minor), "\(name)")
                #expect((reader.storedTensorDigests != nil) == (minor >= 1), "\(directory.lastPathComponent)/\(name)")
                for entry in reader.entries { _ = try reader.loadTensor(entry, checkingDigest: true) }
                if let stored = reader.storedModelDigest { #expect(try reader.computedModelDigest() == stored) }
            }
        }
        // The 1.0 and 1.1 tutorial-init files hold the same checkpoint in other bytes.
        let old = try Self.open("tutorial-init.ttc", in: Self.compat), new = try Self.open("tutorial-init.ttc")
        #expect(old.fileSize != new.fileSize)
        #expect(FormatFixtures.bitExactlyEqual(try old.readCheckpoint(), try new.readCheckpoint()))
        #expect(try old.modelDigest() == new.storedModelDigest)
    }

    /// Issue 11 #14: samples/README.md says re-running its `init` command reproduces
    /// samples/tutorial-init.ttc byte for byte, with any zlib: the default `fast` encoding
    /// writes its deflate blocks itself (spec/FORMAT.md §8).
    @Test
    func tutorialInitIsReproducedByteForByte() throws {
        let dir = try TemporaryDirectory("golden")
        let r = try CLIRunner.run(["init", dir.path("t.ttc"), "--preset", "tutorial", "--seed", "42"])
        #expect(r.status == 0, "\(r.stderr)")
        let made = try dir.read("t.ttc")
        let committed = try Data(contentsOf: Self.samples.appendingPathComponent("tutorial-init.ttc"))
        #expect(made == committed, "made \(made.count) bytes, committed \(committed.count)")
        let readme = try String(contentsOf: Self.samples.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains("byte for byte") && readme.contains("tt-ckpt init samples/tutorial-init.ttc --preset tutorial --seed 42"))
    }
}
