import ArgumentParser
import Foundation
import TTCore
import TTFormat
import TTTraining

/// How a run trains: `Trainer.run`, or a stand-in in tests that check what it is given.
typealias TrainerRun = (TrainingSession, TrainingData, TrainerOptions, StopFlag?,
                        (TrainProgress) -> Void, (String) -> Void) throws -> TrainOutcome

/// The part of `train` and `resume` after the session is ready: signals, the loop,
/// progress output, the summary, and the exit status for an interruption.
func runTraining(_ session: TrainingSession, data: TrainingData, steps: Int, output: String,
                 save: SaveOptions, progress: ProgressOptions, threads: Int? = nil, stop: StopFlag? = nil) throws {
    try runTraining(session, data: data, steps: steps, output: output, saveEvery: save.saveEvery, keep: save.keep,
                    progress: progress, threads: threads, compression: save.compression.encoding, stop: stop)
}

/// `threads`: training and compression threads (nil: the model's default). `stop`: nil
/// routes SIGINT and SIGTERM to a new flag; tests pass their own.
func runTraining(_ session: TrainingSession, data: TrainingData, steps: Int, output: String,
                 saveEvery: Int, keep: Int?, progress: ProgressOptions, threads: Int? = nil,
                 compression: BlobEncoding = .fast,
                 stop: StopFlag? = nil, trainer: TrainerRun = Trainer.run) throws {
    var options = TrainerOptions(steps: steps, outputPath: output)
    options.writeOptions = try FaultInjection.writeOptions()
    if let threads { session.model.threadCount = threads }
    // The same count compresses the final and interrupted saves (background saves use one
    // thread, see Trainer); set after the fault-injecting options, which replace the struct.
    options.writeOptions.threads = session.model.threadCount
    options.writeOptions.compression = compression
    options.saveEvery = saveEvery
    options.keep = keep
    let stop = stop ?? {
        let flag = StopFlag()
        flag.installSignalHandlers()
        return flag
    }()
    let printer = ProgressPrinter(options: progress, steps: steps)
    let outcome = try trainer(session, data, options, stop, { printer.step($0) }, { _ in })
    printer.finish()
    let state = session.state
    switch outcome {
    case .interrupted(let signal):
        CommandLineErrors.writeError("\(output): interrupted by \(StopFlag.name(of: signal)); saved step \(state.step)")
        throw ExitCode(StopFlag.exitStatus(for: signal))
    case .diverged(let divergence):
        CommandLineErrors.writeError("\(output): " + divergence.message)
        throw ExitCode(CommandLineErrors.troubleStatus)
    case .completed:
        break
    }
    if !progress.quiet && !progress.json {
        let loss = state.lossHistory.last.map { formatLoss($0) } ?? "-"
        print("saved \(TerminalText.escaped(output)): step \(state.step), loss \(loss)")
    }
}

/// What every command does first with a path it will write, before any other work: the
/// checks of `OutputPath.check` (an existing file is replaced only with `overwrite`: in-place
/// training or --force), then the path's write lock (`OutputLock`), held until the process
/// exits, so a second writer of the same file is refused naming this process.
func claimOutput(_ path: String, overwrite: Bool) throws {
    try OutputPath.check(path, overwrite: overwrite)
    try OutputLock.acquire(path)
}

/// The output of `train`/`resume`: `-o OUT` or the checkpoint itself. Replacing the
/// checkpoint in place is the default; any other existing file needs --force. Catches
/// SIGINT, SIGTERM and SIGHUP from here on (`stop`), so a signal while the checkpoint is
/// read still ends in an orderly exit that releases the lock.
func claimTrainingOutput(checkpoint: String, save: SaveOptions, stop: StopFlag) throws -> String {
    stop.installSignalHandlers()
    let output = save.output ?? checkpoint
    try claimOutput(output, overwrite: save.force || OutputPath.isSameFile(output, checkpoint))
    return output
}

func formatLoss(_ loss: Float) -> String { String(format: "%.6f", Double(loss)) }

/// Progress lines: a live `\r` line on a terminal, plain lines otherwise, or JSON objects.
final class ProgressPrinter {
    enum Mode { case live, plain, json, quiet }
    let mode: Mode
    let logEvery: Int
    let steps: Int
    private var lastDraw = -1.0
    private var drewLive = false

    init(options: ProgressOptions, steps: Int) {
        self.steps = steps
        if options.quiet {
            mode = .quiet
        } else if options.json {
            mode = .json
        } else {
            mode = isatty(STDOUT_FILENO) == 1 ? .live : .plain
        }
        logEvery = options.logEvery ?? max(1, steps / 10)
    }

    func step(_ p: TrainProgress) {
        let last = p.stepsDone == steps
        let tokensPerSecond = p.elapsed > 0 ? Double(p.runTokens) / p.elapsed : 0
        let eta = p.stepsDone > 0 ? p.elapsed / Double(p.stepsDone) * Double(steps - p.stepsDone) : 0
        switch mode {
        case .quiet:
            return
        case .json:
            guard last || p.stepsDone % logEvery == 0 else { return }
            let record: JSONValue = .object([
                ("step", .int(p.step)),
                ("last_step", .int(p.lastStep)),
                ("loss", .double(Double(p.loss))),
                ("lr", .double(p.learningRate)),
                ("grad_norm", .double(Double(p.gradNorm))),
                ("tokens_seen", .int(p.tokensSeen)),
                ("tokens_per_sec", .double((tokensPerSecond * 10).rounded() / 10)),
                ("elapsed_sec", .double((p.elapsed * 1000).rounded() / 1000)),
            ])
            print(record.serialized(pretty: false))
        case .plain:
            guard last || p.stepsDone % logEvery == 0 else { return }
            print(line(p, tokensPerSecond, eta))
        case .live:
            guard last || p.elapsed - lastDraw >= 0.1 else { return }
            lastDraw = p.elapsed
            print("\r" + line(p, tokensPerSecond, eta) + "\u{1B}[K", terminator: "")
            fflush(stdout)
            drewLive = true
        }
    }

    func finish() {
        if drewLive { print("") }
        fflush(stdout)
    }

    private func line(_ p: TrainProgress, _ tokensPerSecond: Double, _ eta: Double) -> String {
        "step \(p.step)/\(p.lastStep)  loss \(formatLoss(p.loss))  lr \(String(format: "%.3e", p.learningRate))  "
            + "\(Int(tokensPerSecond.rounded())) tok/s  ETA \(duration(eta))"
    }

    private func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}

/// Reads a checkpoint's header, refuses one beyond `CheckpointBounds` before inflating
/// anything, then loads the tensors a session uses (with `includeOther`, training, also
/// the `other` tensors it carries through) on `threads` threads; errors name the file.
func loadCheckpoint(_ path: String, includeOther: Bool = false, threads: Int = 1) throws -> Checkpoint {
    try TrainingSession.loadCheckpoint(path: path, includeOther: includeOther, threads: threads)
}
