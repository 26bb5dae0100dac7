import Testing
@testable import TTEngine
@testable import TTTraining
@testable import tt_ckpt

/// What `train` and `resume` hand the trainer. `--threads` must reach the save options as
/// well as the model: the bytes are the same for any count, so only the options show it.
@Suite struct TrainingRunTests {
    /// Runs `runTraining` with a stand-in trainer and returns the options it received.
    func optionsReceived(threads: Int?) throws -> (TrainerOptions, TrainingSession) {
        let checkpoint = try TrainingSession.initialCheckpoint(config: .tutorial, vocabulary: .tutorial, seed: 42, data: nil)
        let session = try TrainingSession(checkpoint: checkpoint, maxBatchSize: 1, source: "t.ttc")
        var received: TrainerOptions?
        try runTraining(session, data: .tutorial(), steps: 3, output: "t.ttc", saveEvery: 2, keep: 1,
                        progress: try ProgressOptions.parse(["--quiet"]), threads: threads, stop: StopFlag(),
                        trainer: { _, _, options, _, _, _ in
                            received = options
                            return .completed
                        })
        return (try #require(received), session)
    }

    @Test func threadsReachTheModelAndTheSaves() throws {
        let (options, session) = try optionsReceived(threads: 3)
        #expect(session.model.threadCount == 3)
        #expect(options.writeOptions.threads == 3)
        #expect(options.steps == 3 && options.outputPath == "t.ttc" && options.saveEvery == 2 && options.keep == 1)
    }

    /// Without --threads, saves compress on as many threads as training runs on.
    @Test func defaultThreadCountIsTheModels() throws {
        let (options, session) = try optionsReceived(threads: nil)
        #expect(options.writeOptions.threads == session.model.threadCount)
        #expect(options.writeOptions.threads == ThreadPool.defaultThreadCount)
    }
}
