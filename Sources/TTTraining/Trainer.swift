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
    /// Stopped at a step whose loss or gradient was not finite; that step was not applied
    /// and the state after the step before it was saved (see `Divergence`).
    case diverged(Divergence)
}

/// A step whose loss or gradient norm was not finite: training stops there, does not apply
/// it, and saves the last good state, so no finished step is lost and NaN never reaches a
/// file (spec/TRAINING.md, "Divergence").
public struct Divergence: Equatable, Sendable {
    /// The step that was not applied (AdamW t).
    public var step: Int
    public var loss: Float
    /// The global gradient norm (not finite when any gradient is not).
    public var gradNorm: Double
    public var learningRate: Double
    /// The hyperparameters in use, for the likely cause.
    public var optimizer: AdamWConfig
    /// The step saved, the one before `step`; nil when no step of this run had finished, so
    /// nothing was written (the output keeps what it had).
    public var savedStep: Int?

    /// What most likely made training diverge, from the hyperparameters alone, most likely
    /// first, in words (the setting names the spec uses: learning rate, beta2, eps).
    public var likelyCauses: [String] {
        // The first step of a run computes its loss and gradient from the checkpoint's own
        // weights: this run's hyperparameters have not acted yet.
        guard savedStep != nil else {
            return ["the checkpoint's own weights already give a non-finite loss or gradient "
                    + "(values too large for float32); go back to an earlier checkpoint"]
        }
        let o = optimizer
        let number = Divergence.number
        var causes: [String] = []
        if o.learningRate > 0.1 {
            causes.append("the learning rate \(number(o.learningRate)) is too high (1e-4 to 1e-2 is usual)")
        } else if o.learningRate > 0.01 {
            causes.append("the learning rate \(number(o.learningRate)) may be too high (1e-4 to 1e-2 is usual)")
        }
        if o.beta2 < 0.9 {
            causes.append("beta2 \(number(o.beta2)) is too low (0.95 to 0.999 is usual)")
        }
        if o.epsilon < 1e-12 {
            causes.append("eps \(number(o.epsilon)) is tiny (1e-8 is usual)")
        }
        if causes.isEmpty {
            causes.append(o.gradClip == 0 ? "the learning rate may be too high for this model; a lower one or gradient clipping (grad clip 1) may help"
                                          : "the learning rate may be too high for this model")
        }
        return causes
    }

    /// A value as the message shows it: "nan", "inf", "10", "0.999", "1e-30".
    static func number(_ x: Double) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x > 0 ? "inf" : "-inf" }
        if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        return "\(x)"
    }

    /// One line, without the file name: what happened, what was saved, the likely cause.
    public var message: String {
        let saved = savedStep.map { "saved step \($0)" } ?? "no step of this run had finished, so nothing was saved"
        return "training diverged at step \(step): the loss is \(loss.isFinite ? "\(loss)" : Self.number(Double(loss))) and the gradient norm \(Self.number(gradNorm)), "
            + "so that step was not applied; \(saved). Likely cause: " + likelyCauses.joined(separator: "; ")
    }
}

/// The training loop.
public enum Trainer {
    /// Takes `options.steps` steps (or fewer, if `stop` is raised: it is checked between
    /// steps), saving through `CheckpointWriter` (atomic) every `saveEvery` steps and at the
    /// end. Saving never interrupts a step and a stop never interrupts a save.
    ///
    /// Before the first step it checks every path the run will write (`checkOutputs`) and
    /// removes temporary files a killed writer left beside the output
    /// (`AtomicWrite.removeStaleTemporaryFiles`). It returns (or throws) only after the
    /// replaced files its saves unlink in the background are gone
    /// (`AtomicWrite.finishRemovals`), so the directory then holds only what the run keeps.
    /// A step whose loss or gradient is not
    /// finite ends the run (`TrainOutcome.diverged`): it is not applied, and the state after
    /// the last good step is saved (nothing is written when no step of the run finished).
    /// With `keep`, step copies are pruned after every save that wrote one, also when
    /// writing the output then failed.
    /// - Throws: the writer's error if a save fails (the previous file stays intact), an
    ///   error from `checkOutputs`, or `InputError(output, ...)` when a state to be saved
    ///   holds a parameter that is not finite (it is not written).
    public static func run(_ session: TrainingSession, data: TrainingData, options: TrainerOptions,
                           stop: StopFlag? = nil,
                           onStep: (TrainProgress) -> Void = { _ in },
                           onSave: (String) -> Void = { _ in }) throws -> TrainOutcome {
        let firstStep = session.state.step
        let lastStep = firstStep + options.steps
        try checkOutputs(options: options, firstStep: firstStep)
        let sampler = session.sampler(for: data)
        AtomicWrite.removeStaleTemporaryFiles(for: options.outputPath)
        StepFiles.removeStaleTemporaryFiles(output: options.outputPath)
        let start = ContinuousClock.now
        var runTokens = 0
        var stoppedBy: Int32? = nil
        var diverged: SessionStepResult? = nil
        let background = options.backgroundSaves ? BackgroundSaver() : nil
        // A background save that fails is reported (thrown) at the next save or at the end;
        // the file it was replacing stays intact. (Defers run last first: the saver is
        // waited for before the removals it may have queued.)
        defer { AtomicWrite.finishRemovals() }
        defer { _ = try? background?.wait() }
        for _ in 0..<options.steps {
            if let signal = stop?.signal { stoppedBy = signal; break }
            let result = session.step(sampler)
            guard result.applied else { diverged = result; break }
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
        let step = session.state.step
        let stepFile = options.saveEvery > 0 && step % options.saveEvery == 0 && step > firstStep
        if let diverged {
            // The session is at the last good step; save it unless this run made none.
            let saved = step > firstStep
            if saved { try save(session, options: options, stepFile: stepFile, onSave: onSave) }
            return .diverged(Divergence(step: diverged.step, loss: diverged.loss, gradNorm: Double(diverged.gradNorm),
                                        learningRate: diverged.learningRate, optimizer: session.state.optimizer,
                                        savedStep: saved ? step : nil))
        }
        // A signal that arrived during the last step still reports as an interruption.
        if stoppedBy == nil { stoppedBy = stop?.signal }
        try save(session, options: options, stepFile: stepFile, onSave: onSave)
        return stoppedBy.map { .interrupted(signal: $0) } ?? .completed
    }

    /// Checks every path a run of `options` starting after `firstStep` will write, before
    /// the first step (`AtomicWrite.probe`: the target, its name length, a temporary file
    /// created and removed beside it): the output and, with `saveEvery` and copies kept, the
    /// step copy with the longest name, so a name too long for the file system or an
    /// unwritable directory fails now rather than after the training.
    /// - Throws: `FormatError` of kind `.writeFailed` naming the path.
    public static func checkOutputs(options: TrainerOptions, firstStep: Int) throws {
        try AtomicWrite.probe(options.outputPath, io: options.writeOptions.io)
        guard options.saveEvery > 0, options.keep != 0 else { return }
        let lastStep = firstStep + options.steps
        let lastCopy = lastStep - lastStep % options.saveEvery
        guard lastCopy > firstStep else { return }
        // Step numbers only grow, and so do their digits: the last copy's name is the longest.
        let path = StepFiles.path(output: options.outputPath, step: lastCopy)
        do {
            try AtomicWrite.probe(path, io: options.writeOptions.io)
        } catch let e as FormatError {
            throw FormatError(path: options.outputPath, kind: e.kind,
                              message: "cannot write its step copy \(AtomicWrite.splitPath(path).1): \(e.message)")
        }
    }

    private static func save(_ session: TrainingSession, options: TrainerOptions, stepFile: Bool,
                             onSave: (String) -> Void) throws {
        for path in try write(session.snapshot(), options: options, stepFile: stepFile) { onSave(path) }
    }

    /// Writes `checkpoint` (its step file first, when asked) and returns the paths written.
    /// Refuses a state holding a non-finite parameter (a step whose finite gradient still
    /// overflowed a weight): it is not written, and the files keep their previous contents.
    private static func write(_ checkpoint: Checkpoint, options: TrainerOptions, stepFile: Bool) throws -> [String] {
        let step = checkpoint.training.step
        do {
            try FiniteValues.requireFiniteParameters(checkpoint.tensors, source: options.outputPath)
        } catch let e as InputError {
            throw InputError(options.outputPath, "not saved: after step \(step) " + e.message
                             + "; the file keeps its previous contents")
        }
        // The step file and the output hold the same bytes: compress once, write both.
        let withStepFile = stepFile && options.keep != 0
        let stepPath = StepFiles.path(output: options.outputPath, step: step)
        let paths = (withStepFile ? [stepPath] : []) + [options.outputPath]
        // Prune after any save that may have written a copy, even if the output then failed.
        defer { if withStepFile, let keep = options.keep { StepFiles.prune(output: options.outputPath, keep: keep, upTo: step) } }
        var written: [String] = []
        do {
            try CheckpointWriter.write(checkpoint, to: paths, options: options.writeOptions, written: { written.append($0) })
        } catch let e as FormatError where written.contains(stepPath) {
            throw FormatError(path: e.path, kind: e.kind,
                              message: e.message + "; the state of step \(step) is in the step copy \(stepPath)")
        }
        return written
    }
}
