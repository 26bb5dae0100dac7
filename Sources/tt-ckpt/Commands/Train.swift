import ArgumentParser
import TTCkpt

extension TTCkpt {
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train a checkpoint for N more steps, recording the hyperparameters given.",
            discussion: """
                Hyperparameter flags not given keep the values the checkpoint records (the
                defaults lr 1e-3, β1 0.9, β2 0.999, ε 1e-8, weight decay 0.01, B 1 for a new
                checkpoint); the ones given are recorded, so `resume` continues with them.
                A cosine schedule decays over this run (to step + N) unless --decay-steps is
                given; to split such a run with `resume` and get identical bytes, give
                --decay-steps.

                Data: the tutorial checkpoint trains on its built-in sentence; a checkpoint
                whose vocabulary came from a corpus needs --data, and the corpus must be the
                one recorded (use --new-data to fine-tune on another). Each batch is B windows
                of T+1 tokens at offsets drawn by the checkpoint's seeded generator; a corpus
                shorter than T+1 tokens is used whole (padded with <PAD>) in every sequence.

                Saving is atomic (temporary file, fsync, rename): at the end, every K steps with
                --save-every (plus step-numbered copies, see --keep), and on SIGINT/SIGTERM,
                which finish the current step, save, and exit 130/143.

                Example:
                  tt-ckpt init model.ttc
                  tt-ckpt train model.ttc --steps 1000 --lr 1e-3
                  tt-ckpt train small.ttc --data input.txt --steps 2000 --batch-size 16 \\
                      --schedule cosine --warmup 100 --save-every 500 --keep 2
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

        func validate() throws {
            try validateSteps(steps)
            try save.validateValues()
            try progress.validateValues()
            if let data, data.isEmpty { throw InputError("--data", "empty path") }
            // Values that are bad whatever the checkpoint records fail here, before any file is read.
            _ = try hyper.apply(to: AdamWConfig(), step: 0, steps: steps)
            if let b = hyper.batchSize { try TrainingLimits.checkBatchSize(b, context: 1, subject: "--batch-size") }
        }

        func run() throws {
            let output = save.output ?? checkpoint
            try OutputPath.check(output, overwrite: true)
            let stored = try loadCheckpoint(checkpoint)
            let optimizer = try hyper.apply(to: stored.training.optimizer, step: stored.training.step, steps: steps)
            let batchSize = hyper.batchSize ?? stored.training.batchSize
            try TrainingLimits.checkBatchSize(batchSize, context: stored.config.context,
                                              subject: hyper.batchSize != nil ? "--batch-size" : checkpoint)
            let session = try TrainingSession(checkpoint: stored, maxBatchSize: batchSize, source: checkpoint)
            let corpus = try session.resolveData(path: data, checkpointPath: checkpoint)
            if !newData {
                try session.verifyData(corpus, subject: data ?? "built-in data", checkpointPath: checkpoint)
            }
            session.beginRun(optimizer: optimizer, batchSize: batchSize, data: corpus.identity)
            try runTraining(session, data: corpus, steps: steps, output: output, save: save, progress: progress)
        }
    }
}
