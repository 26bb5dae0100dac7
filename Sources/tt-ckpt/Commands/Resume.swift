import ArgumentParser
import TTCore
import TTFormat
import TTTraining

extension TTCkpt {
    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Continue training exactly where a checkpoint left off.",
            discussion: """
                Continues from the stored weights, AdamW moments, step,
                hyperparameters, schedule, generator state and data cursor:
                `init; train --steps 20` and `init; train --steps 10;
                resume --steps 10` write byte-identical files. Hyperparameter
                flags are refused (train is for changing them), and so is data
                other than the checkpoint records. Saving, signals, divergence
                and a closed stdout work as for train (see train --help).

                Example:
                  tt-ckpt train small.ttc --data input.txt --steps 500 \\
                      --lr 3e-4 --batch-size 8
                  tt-ckpt resume small.ttc --data input.txt --steps 500
                """
        )

        @Argument(help: ArgumentHelp("The checkpoint to continue.", valueName: "ckpt"))
        var checkpoint: String
        @Option(help: "Optimizer steps to take.")
        var steps: Int
        @Option(help: ArgumentHelp("The corpus the checkpoint was trained on (not needed for built-in data).", valueName: "file"))
        var data: String?
        @OptionGroup(title: "Saving") var save: SaveOptions
        @OptionGroup(title: "Output") var progress: ProgressOptions
        @OptionGroup(title: "Performance") var threading: ThreadOptions
        /// Parsed only to refuse them with a clear message.
        @OptionGroup(visibility: .hidden) var hyper: HyperparameterOptions

        func validate() throws {
            if let flag = hyper.given.first {
                throw InputError(flag, "resume continues with the hyperparameters the checkpoint records; use train to change them")
            }
            try validateSteps(steps)
            if let data, data.isEmpty { throw InputError("--data", "empty path") }
        }

        func run() throws {
            let stop = StopFlag()
            let output = try claimTrainingOutput(checkpoint: checkpoint, save: save, stop: stop)
            let stored = try loadCheckpoint(checkpoint, includeOther: true, threads: threading.count)
            guard !stored.training.sessionStarts.isEmpty else {
                throw InputError(checkpoint, "has never been trained, so there is nothing to resume; use train")
            }
            try TrainingLimits.checkBatchSize(stored.training.batchSize, config: stored.config, subject: checkpoint)
            let session = try TrainingSession(checkpoint: stored, maxBatchSize: stored.training.batchSize, source: checkpoint)
            try session.requireFiniteMoments(source: checkpoint)
            let corpus = try session.resolveData(path: data, checkpointPath: checkpoint)
            try session.verifyData(corpus, subject: data ?? "built-in data", checkpointPath: checkpoint)
            try runTraining(session, data: corpus, steps: steps, output: output, save: save, progress: progress, threads: threading.count,
                            stop: stop)
        }
    }
}
