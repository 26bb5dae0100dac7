import ArgumentParser
import TTCore
import TTFormat
import TTTraining

extension TTCkpt {
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a checkpoint with freshly initialized weights.",
            discussion: """
                Presets:
                  tutorial    the series' model: arch tutorial, V 6, D 16, H 2,
                              F 64, L 1, T 5, vocabulary <PAD> <BOS> <EOS> I
                              like transformers. With seed 42 it has the
                              series' own initial weights. Built-in data.
                  gpt-small   char-level GPT: D 128, H 4, F 512, L 4, T 64;
                              the vocabulary comes from --data.
                  gpt-medium  GPT: D 256, H 8, F 1024, L 6, T 128; 256 byte
                              tokens, or the corpus's own vocabulary with
                              --data and --tokenizer char|word.
                --arch --vocab-size --d-model --heads --d-ff --layers --context
                override the preset's values.

                With --data the vocabulary is built from the corpus (word:
                <PAD> <BOS> <EOS>, then the distinct whitespace-separated words
                in UTF-8 byte order; char: the distinct Unicode scalars in code
                point order) and the corpus's name, size and SHA-256 are
                recorded, so training on other data is caught later.
                An existing file is never replaced without --force.

                Examples:
                  tt-ckpt init model.ttc
                  tt-ckpt init small.ttc --preset gpt-small --data input.txt
                  tt-ckpt init tiny.ttc --preset gpt-small --data input.txt \\
                      --d-model 32 --layers 1 --context 16
                """
        )

        @Argument(help: ArgumentHelp("The checkpoint to create.", valueName: "out.ttc"))
        var out: String
        @Option(help: "tutorial, gpt-small or gpt-medium.")
        var preset: Preset = .tutorial
        @OptionGroup(title: "Config (each overrides the preset's)")
        var config: ConfigOptions
        @Option(help: ArgumentHelp("Corpus to build the vocabulary from.", valueName: "corpus.txt"))
        var data: String?
        @Option(help: "char, word or byte (default: the preset's: word, char, byte).")
        var tokenizer: TokenizerKind?
        @Option(help: "Seed of the CPython-compatible generator that draws the weights and later the batches.")
        var seed: UInt64 = 42
        @Flag(help: "Replace OUT if it exists.")
        var force = false

        func validate() throws {
            guard !out.isEmpty else { throw InputError("out.ttc", "empty path") }
            if let data, data.isEmpty { throw InputError("--data", "empty path") }
        }

        func run() throws {
            try OutputPath.check(out, overwrite: force)
            var request = InitRequest()
            request.preset = preset
            request.overrides = config.overrides
            request.corpusPath = data
            request.tokenizer = tokenizer
            request.seed = seed
            let checkpoint = try request.makeCheckpoint()
            // Temporary files of an init or save of the same path that was killed.
            AtomicWrite.removeStaleTemporaryFiles(for: out)
            try CheckpointWriter.write(checkpoint, to: out, options: try FaultInjection.writeOptions())
            let c = checkpoint.config
            print("created \(out): arch \(c.arch.rawValue), V \(c.vocabSize), D \(c.dModel), H \(c.nHeads), F \(c.dFF), "
                  + "L \(c.nLayers), T \(c.context), \(ParameterLayout.parameterCount(c)) parameters, "
                  + "\(checkpoint.vocabulary.kind.rawValue) tokenizer, seed \(seed)")
        }
    }
}
