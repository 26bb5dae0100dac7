import Foundation
import Testing
@testable import TTCore
@testable import TTFormat
@testable import TTTokenizer
@testable import TTTraining

/// The training library in process: snapshots, the split-run contract, and the stop flag.
@Suite struct TrainerTests {
    func tutorialSession(batchSize: Int = 1) throws -> TrainingSession {
        let checkpoint = try TrainingSession.initialCheckpoint(config: .tutorial, vocabulary: .tutorial, seed: 42,
                                                               data: TrainingData.tutorial().identity)
        let session = try TrainingSession(checkpoint: checkpoint, maxBatchSize: batchSize, source: "t")
        session.beginRun(optimizer: AdamWConfig(), batchSize: batchSize, data: TrainingData.tutorial().identity)
        return session
    }

    @Test func snapshotRoundTripsThroughASession() throws {
        let session = try tutorialSession()
        let sampler = session.sampler(for: .tutorial())
        for _ in 0..<3 { session.step(sampler) }
        let snapshot = session.snapshot()
        let reloaded = try TrainingSession(checkpoint: snapshot, maxBatchSize: 1, source: "t")
        #expect(reloaded.snapshot() == snapshot)
    }

    @Test func splitRunEqualsOneRunOnRandomWindows() throws {
        // Char corpus longer than T+1, B = 3: windows come from the generator, so the split
        // run must carry the generator state across the snapshot.
        let text = Array("the cat sat on the mat and the dog sat on the log".utf8)
        let vocabulary = try Vocabulary(building: .char, from: text, source: "c")
        let data = try TrainingData(corpus: text, path: "c.txt", vocabulary: vocabulary)
        let config = ModelConfig(arch: .gpt, vocabSize: vocabulary.tokens.count, dModel: 8, nHeads: 2, dFF: 16,
                                 nLayers: 1, context: 6)
        let initial = try TrainingSession.initialCheckpoint(config: config, vocabulary: vocabulary, seed: 5, data: data.identity)
        func session(_ checkpoint: Checkpoint) throws -> TrainingSession {
            try TrainingSession(checkpoint: checkpoint, maxBatchSize: 3, source: "t")
        }
        let one = try session(initial)
        one.beginRun(optimizer: AdamWConfig(), batchSize: 3, data: data.identity)
        for _ in 0..<8 { one.step(one.sampler(for: data)) }
        let first = try session(initial)
        first.beginRun(optimizer: AdamWConfig(), batchSize: 3, data: data.identity)
        for _ in 0..<5 { first.step(first.sampler(for: data)) }
        let second = try session(first.snapshot())
        for _ in 0..<3 { second.step(second.sampler(for: data)) }
        #expect(second.snapshot() == one.snapshot())
        #expect(one.state.windowsDrawn == 24)
        #expect(one.rng.state != initial.training.rng)  // windows were drawn
    }

    @Test func stopFlagEndsTheRunBetweenStepsAndSaves() throws {
        let dir = try TemporaryDirectory("trainer")
        let session = try tutorialSession()
        let stop = StopFlag()
        var options = TrainerOptions(steps: 100, outputPath: dir.path("m.ttc"))
        options.saveEvery = 0
        let outcome = try Trainer.run(session, data: .tutorial(), options: options, stop: stop,
                                      onStep: { if $0.step == 3 { stop.raise(SIGTERM); stop.raise(SIGINT) } })
        #expect(outcome == .interrupted(signal: SIGTERM))  // the first signal wins
        #expect(session.state.step == 3)
        let saved = try CheckpointReader(path: dir.path("m.ttc")).readCheckpoint()
        #expect(saved == session.snapshot())
        #expect(StopFlag.exitStatus(for: SIGINT) == 130 && StopFlag.exitStatus(for: SIGTERM) == 143)
    }

    @Test func greedySamplingEqualsTopKOne() throws {
        let session = try tutorialSession()
        let sampler = session.sampler(for: .tutorial())
        for _ in 0..<30 { session.step(sampler) }
        var greedy = GenerationOptions()
        greedy.temperature = 0
        greedy.maxTokens = 12
        greedy.stopAtEOS = false
        var topOne = greedy
        topOne.temperature = 2
        topOne.topK = 1
        let a = Sampler.generate(model: session.model, vocabulary: .tutorial, prompt: [1], options: greedy)
        let b = Sampler.generate(model: session.model, vocabulary: .tutorial, prompt: [1], options: topOne)
        #expect(a.count == 12)  // longer than T = 5: the window slid
        #expect(a == b)
    }

    @Test func generationStopsAtEOS() throws {
        let session = try tutorialSession()
        let sampler = session.sampler(for: .tutorial())
        for _ in 0..<400 { session.step(sampler) }
        var options = GenerationOptions()
        options.temperature = 0
        #expect(Sampler.generate(model: session.model, vocabulary: .tutorial, prompt: [1], options: options) == [3, 4, 5, 2])
    }

    /// Every save over an existing file leaves the old one under a temporary name that is
    /// removed in the background; the run returns only after those removals, so what it
    /// leaves in the directory can be listed at once (removes here take 0.2 s each).
    @Test(arguments: [true, false]) func runReturnsAfterTheReplacedFilesAreRemoved(background: Bool) throws {
        let dir = try TemporaryDirectory("trainer-retired")
        let session = try tutorialSession()
        var options = TrainerOptions(steps: 6, outputPath: dir.path("m.ttc"))
        options.saveEvery = 2
        options.keep = 0
        options.backgroundSaves = background
        options.writeOptions.io = RecordingIO(removeDelay: 0.2)
        #expect(try Trainer.run(session, data: .tutorial(), options: options) == .completed)
        #expect(try dir.listing() == ["m.ttc"])
    }
}

/// Background saves (issue 5): the periodic saves are written from a snapshot on another
/// thread while training continues; every file must be byte-identical to a run that
/// saves in the foreground, and the training itself must not change.
@Suite struct BackgroundSaveTests {
    func run(background: Bool, in dir: TemporaryDirectory, stopAt: Int? = nil) throws -> (TrainOutcome, [String: [UInt8]], Checkpoint) {
        let checkpoint = try TrainingSession.initialCheckpoint(config: .tutorial, vocabulary: .tutorial, seed: 42,
                                                               data: TrainingData.tutorial().identity)
        let session = try TrainingSession(checkpoint: checkpoint, maxBatchSize: 2, source: "t")
        session.beginRun(optimizer: AdamWConfig(), batchSize: 2, data: TrainingData.tutorial().identity)
        var options = TrainerOptions(steps: 23, outputPath: dir.path("m.ttc"))
        options.saveEvery = 4
        options.keep = 3
        options.backgroundSaves = background
        let stop = StopFlag()
        var saved: [String] = []
        let outcome = try Trainer.run(session, data: .tutorial(), options: options, stop: stop,
                                      onStep: { if $0.step == stopAt { stop.raise(SIGINT) } },
                                      onSave: { saved.append($0) })
        // The final save is synchronous and last.
        #expect(saved.last == dir.path("m.ttc"))
        var files: [String: [UInt8]] = [:]
        for name in try dir.listing() {
            files[name] = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.path(name))))
        }
        return (outcome, files, session.snapshot())
    }

    @Test func backgroundSavesWriteTheSameFilesAsForegroundSaves() throws {
        for stopAt in [nil, 9] as [Int?] {
            let a = try TemporaryDirectory("bg-on"), b = try TemporaryDirectory("bg-off")
            let (outcomeOn, on, stateOn) = try run(background: true, in: a, stopAt: stopAt)
            let (outcomeOff, off, stateOff) = try run(background: false, in: b, stopAt: stopAt)
            #expect(outcomeOn == outcomeOff)
            #expect(stateOn == stateOff)
            #expect(on.keys.sorted() == off.keys.sorted())
            #expect(on == off)
            // Step files of the periodic saves exist (keep 3), plus the output.
            #expect(on.count == (stopAt == nil ? 4 : 3))
            let final = try CheckpointReader(path: a.path("m.ttc")).readCheckpoint()
            #expect(final == stateOn)
            #expect(final.training.step == (stopAt ?? 23))
        }
    }
}
