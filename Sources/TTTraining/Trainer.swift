import TTCore
import TTFormat
import Foundation

/// How a training run saves.
public struct TrainerOptions: Sendable {
    /// Optimizer steps to take in this run.
    public var steps: Int
    /// The checkpoint written at the end, at every `saveEvery` steps, and on a stop.
    public var outputPath: String
    /// Save every K global steps (step % K == 0); 0: only at the end.
    public var saveEvery: Int = 0
    /// Step-numbered copies to keep beside the output on each periodic save: nil keeps all,
    /// 0 writes none (only `outputPath` is updated), N keeps the N newest (see `StepFiles`).
    public var keep: Int? = nil
    public var writeOptions = WriteOptions()
    /// Periodic (`saveEvery`) saves snapshot the state (a copy of the parameters, moments
    /// and training state) and write it on a background thread while training continues;
    /// a save that is still running when the next one is due is waited for. The final save
    /// and the save on a stop are synchronous and wait for any background save first.
    /// The files are the same either way.
    public var backgroundSaves = true

    public init(steps: Int, outputPath: String) {
        self.steps = steps
        self.outputPath = outputPath
    }
}

/// What one step did, for progress output.
public struct TrainProgress: Sendable {
    /// The global step just finished (1-based).
    public var step: Int
    /// The global step this run will end at.
    public var lastStep: Int
    /// Steps finished in this run.
    public var stepsDone: Int
    public var loss: Float
    public var learningRate: Double
    public var gradNorm: Float
    /// Cumulative target tokens, over all runs.
    public var tokensSeen: Int
    /// Input tokens processed in this run (B·S per step), for tokens/s.
    public var runTokens: Int
    /// Seconds since the run started.
    public var elapsed: Double
}

/// How a run ended.
public enum TrainOutcome: Equatable, Sendable {
    case completed
    /// Stopped between steps by this signal; the state was saved.
    case interrupted(signal: Int32)
}

/// The training loop.
public enum Trainer {
    /// Takes `options.steps` steps (or fewer, if `stop` is raised: it is checked between
    /// steps), saving through `CheckpointWriter` (atomic) every `saveEvery` steps and at the
    /// end. Saving never interrupts a step and a stop never interrupts a save.
    /// Before the first step it removes temporary files a killed writer left beside the
    /// output (`AtomicWrite.removeStaleTemporaryFiles`).
    /// - Throws: the writer's error if a save fails (the previous file stays intact).
    public static func run(_ session: TrainingSession, data: TrainingData, options: TrainerOptions,
                           stop: StopFlag? = nil,
                           onStep: (TrainProgress) -> Void = { _ in },
                           onSave: (String) -> Void = { _ in }) throws -> TrainOutcome {
        let sampler = session.sampler(for: data)
        AtomicWrite.removeStaleTemporaryFiles(for: options.outputPath)
        StepFiles.removeStaleTemporaryFiles(output: options.outputPath)
        let start = ContinuousClock.now
        let firstStep = session.state.step
        let lastStep = firstStep + options.steps
        var runTokens = 0
        var stoppedBy: Int32? = nil
        let background = options.backgroundSaves ? BackgroundSaver() : nil
        // A background save that fails is reported (thrown) at the next save or at the end;
        // the file it was replacing stays intact.
        defer { _ = try? background?.wait() }
        for _ in 0..<options.steps {
            if let signal = stop?.signal { stoppedBy = signal; break }
            let result = session.step(sampler)
            runTokens += session.batch.batchSize * session.batch.seqLen
            let elapsed = start.duration(to: .now)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            onStep(TrainProgress(step: session.state.step, lastStep: lastStep, stepsDone: session.state.step - firstStep,
                                 loss: result.loss, learningRate: result.learningRate, gradNorm: result.gradNorm,
                                 tokensSeen: session.state.tokensSeen, runTokens: runTokens, elapsed: seconds))
            let step = session.state.step
            if options.saveEvery > 0 && step % options.saveEvery == 0 && step != lastStep {
                if let background {
                    for path in try background.wait() { onSave(path) }
                    let checkpoint = session.snapshot()
                    // One compression thread: all of it runs on the saver's low-priority
                    // thread (the bytes are the same for any thread count).
                    let backgroundOptions = { var o = options; o.writeOptions.threads = 1; return o }()
                    background.start { try write(checkpoint, options: backgroundOptions, stepFile: true) }
                } else {
                    try save(session, options: options, stepFile: true, onSave: onSave)
                }
            }
        }
        if let background { for path in try background.wait() { onSave(path) } }
        // A signal that arrived during the last step still reports as an interruption.
        if stoppedBy == nil { stoppedBy = stop?.signal }
        let step = session.state.step
        try save(session, options: options, stepFile: options.saveEvery > 0 && step % options.saveEvery == 0 && step > firstStep,
                 onSave: onSave)
        return stoppedBy.map { .interrupted(signal: $0) } ?? .completed
    }

    private static func save(_ session: TrainingSession, options: TrainerOptions, stepFile: Bool,
                             onSave: (String) -> Void) throws {
        for path in try write(session.snapshot(), options: options, stepFile: stepFile) { onSave(path) }
    }

    /// Writes `checkpoint` (its step file first, when asked) and returns the paths written.
    private static func write(_ checkpoint: Checkpoint, options: TrainerOptions, stepFile: Bool) throws -> [String] {
        // The step file and the output hold the same bytes: compress once, write both.
        let step = checkpoint.training.step
        let withStepFile = stepFile && options.keep != 0
        let written = (withStepFile ? [StepFiles.path(output: options.outputPath, step: step)] : []) + [options.outputPath]
        try CheckpointWriter.write(checkpoint, to: written, options: options.writeOptions)
        if withStepFile, let keep = options.keep { StepFiles.prune(output: options.outputPath, keep: keep, upTo: step) }
        return written
    }
}
