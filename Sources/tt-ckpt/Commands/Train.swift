import ArgumentParser
import TTCore
import TTFormat
import TTTraining

extension TTCkpt {
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train a checkpoint for N more steps, recording the hyperparameters given.",
            discussion: """
                Hyperparameter flags not given keep the values the checkpoint
                records (for a new one: lr 1e-3, beta1 0.9, beta2 0.999, eps
                1e-8, weight decay 0.01, B 1). The ones given are recorded, and
                `resume` continues with them. A cosine schedule decays over this
                run (to step + N) unless --decay-steps is given; give it to
                split a cosine run with `resume` and still get identical bytes.

                Data: the tutorial checkpoint trains on its built-in sentence;
                one whose vocabulary came from a corpus needs --data, and it
                must be the corpus recorded (--new-data allows another, for
                fine-tuning). A batch is B windows of T+1 tokens at offsets
                drawn by the checkpoint's seeded generator; a corpus shorter
                than T+1 tokens is used whole, padded with <PAD>.

                Saving is atomic (temporary file, fsync, rename): at the end,
                every K steps with --save-every (plus step-numbered copies such
                as model.step000500.ttc, see --keep), and on SIGINT, SIGTERM or
                SIGHUP (the terminal closed), which finish the current step,
                save, and exit 130, 143 or 129. Periodic saves are written in
                the background from a snapshot while training continues; the
                final save is synchronous. With TTCKPT_EXIT_WITH_PARENT=1 the
                run also gets SIGHUP when the process that started it ends.

                Nothing finished is lost: every path the run will write is
                checked before the first step; CKPT is replaced in place by
                default, any other existing file at -o only with --force; a
                second process writing the same file is refused at once,
                naming this one (lock file .OUT.lock beside it). A step whose
                loss or gradient is not finite (NaN, infinity: the run
                diverged) is not applied: training stops, saves the step
                before, and exits 2 with one line naming the step and the
                likely cause. A closed stdout (a pipe whose reader exited,
                `| head -1`) only stops the progress output: training goes on
                to the end, saves, and exits 0.

                Threads: --threads N for training and compression (default:
                the TTCKPT_THREADS environment variable, else the CPU count).
                Results are bit-identical for any thread count. Between
                operations the worker threads spin briefly before they sleep
                (TTCKPT_SPIN pause hints, default 2000); on a machine busy
                with other jobs, TTCKPT_SPIN=0 makes them sleep at once.

                Examples:
                  tt-ckpt init model.ttc
                  tt-ckpt train model.ttc --steps 1000 --lr 1e-3
                  tt-ckpt train small.ttc --data input.txt --steps 2000 \\
                      --batch-size 16 --schedule cosine --warmup 100 \\
                      --save-every 500 --keep 2
                """
        )

        @Argument(help: ArgumentHelp("The checkpoint to train.", valueName: "ckpt"))
        var checkpoint: String
        @Option(help: "Optimizer steps to take.")
        var steps: Int
        @Option(help: ArgumentHelp("Corpus to train on (required unless the checkpoint uses built-in data).", valueName: "file"))
        var data: String?
        @Flag(name: .customLong("new-data"), help: "Allow data other than the checkpoint records (fine-tuning).")
        var newData = false
        @OptionGroup(title: "Hyperparameters") var hyper: HyperparameterOptions
        @OptionGroup(title: "Saving") var save: SaveOptions
        @OptionGroup(title: "Output") var progress: ProgressOptions
        @OptionGroup(title: "Performance") var threading: ThreadOptions

        func validate() throws {
            try validateSteps(steps)
            if let data, data.isEmpty { throw InputError("--data", "empty path") }
            // Values that are bad whatever the checkpoint records fail here, before any file is read.
            _ = try hyper.apply(to: AdamWConfig(), step: 0, steps: steps)
            if let b = hyper.batchSize { try TrainingLimits.checkBatchSize(b, subject: "--batch-size") }
        }

        func run() throws {
            let stop = StopFlag()
            let output = try claimTrainingOutput(checkpoint: checkpoint, save: save, stop: stop)
            let stored = try loadCheckpoint(checkpoint, includeOther: true, threads: threading.count)
            let optimizer = try hyper.apply(to: stored.training.optimizer, step: stored.training.step, steps: steps)
            let batchSize = hyper.batchSize ?? stored.training.batchSize
            try TrainingLimits.checkBatchSize(batchSize, config: stored.config,
                                              subject: hyper.batchSize != nil ? "--batch-size" : checkpoint)
            let session = try TrainingSession(checkpoint: stored, maxBatchSize: batchSize, source: checkpoint)
            try session.requireFiniteMoments(source: checkpoint)
            let corpus = try session.resolveData(path: data, checkpointPath: checkpoint)
            if !newData {
                try session.verifyData(corpus, subject: data ?? "built-in data", checkpointPath: checkpoint)
            }
            session.beginRun(optimizer: optimizer, batchSize: batchSize, data: corpus.identity)
            try runTraining(session, data: corpus, steps: steps, output: output, save: save, progress: progress, threads: threading.count,
                            stop: stop)
        }
    }
}
