import ArgumentParser
import TTCore
import TTFormat
import TTInterop
import TTTokenizer
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
                  gpt2-tiny   GPT-2 (arch gpt2) for tests: D 64, H 4, F 256,
                              L 2, T 64; 256 byte tokens, or the corpus's
                              own vocabulary.
                  gpt2-124m   GPT-2 124M (arch gpt2): D 768, H 12, F 3072,
                              L 12, T 1024; V 50257 with GPT-2's tokenizer
                              (124,439,808 parameters), else the
                              vocabulary's size. About 2 GB to train (B 1).
                Arch gpt2 is GPT-2 as transformers computes it: fused QKV and
                output projections with biases, the LM head tied to tok_emb,
                weights N(0, 0.02) and attn.wo, ffn.w2 N(0, 0.02/sqrt(2L)).
                --arch --vocab-size --d-model --heads --d-ff --layers --context
                override the preset's values.

                With --data the vocabulary is built from the corpus (word:
                <PAD> <BOS> <EOS>, then the distinct whitespace-separated words
                in UTF-8 byte order; char: the distinct Unicode scalars in code
                point order) and the corpus's name, size and SHA-256 are
                recorded, so training on other data is caught later.

                --tokenizer bpe learns GPT-2's byte-level BPE from the corpus,
                as Hugging Face tokenizers' ByteLevelBPETokenizer trains it:
                the corpus is cut into lines, each line into pieces by GPT-2's
                pattern; ids are <|endoftext|> 0, the 256 byte tokens (in the
                order of their vocab.json characters), then each merge's
                token. Each step merges the most frequent adjacent pair; a tie
                goes to the smallest (left id, right id), left first; pairs
                seen once are never merged. --vocab-size N stops at N tokens
                (fewer if the corpus runs out of pairs). Deterministic: the
                same corpus and N give the same vocabulary and merges.
                --tokenizer-file loads one instead: a Hugging Face
                tokenizer.json, or a vocab.json with --merges-file merges.txt
                (<|endoftext|> becomes the special token when vocab.json has
                it). The vocabulary and merges are stored in the checkpoint.
                An existing file is never replaced without --force.

                Examples:
                  tt-ckpt init model.ttc
                  tt-ckpt init small.ttc --preset gpt-small --data input.txt
                  tt-ckpt init tiny.ttc --preset gpt-small --data input.txt \\
                      --d-model 32 --layers 1 --context 16
                  tt-ckpt init g.ttc --preset gpt2-tiny
                  tt-ckpt init b.ttc --preset gpt2-tiny --data input.txt \\
                      --tokenizer bpe --vocab-size 2000
                  tt-ckpt init g.ttc --preset gpt2-124m \\
                      --tokenizer-file gpt2/vocab.json --merges-file gpt2/merges.txt
                """
        )

        @Argument(help: ArgumentHelp("The checkpoint to create.", valueName: "out.ttc"))
        var out: String
        @Option(help: "tutorial, gpt-small, gpt-medium, gpt2-tiny or gpt2-124m.")
        var preset: Preset = .tutorial
        @OptionGroup(title: "Config (each overrides the preset's)")
        var config: ConfigOptions
        @Option(help: ArgumentHelp("Corpus to build the vocabulary from.", valueName: "corpus.txt"))
        var data: String?
        @Option(help: "char, word, byte or bpe (default: the preset's: word for tutorial, char for gpt-small, else byte).")
        var tokenizer: TokenizerKind?
        @Option(help: ArgumentHelp("A BPE tokenizer to use: tokenizer.json, or vocab.json with --merges-file.", valueName: "file"))
        var tokenizerFile: String?
        @Option(help: ArgumentHelp("The merges.txt that goes with a vocab.json given as --tokenizer-file.", valueName: "merges.txt"))
        var mergesFile: String?
        @Option(help: "Seed of the CPython-compatible generator that draws the weights and later the batches.")
        var seed: UInt64 = 42
        @Flag(help: "Replace OUT if it exists.")
        var force = false

        func validate() throws {
            guard !out.isEmpty else { throw InputError("out.ttc", "empty path") }
            if let data, data.isEmpty { throw InputError("--data", "empty path") }
            if mergesFile != nil && tokenizerFile == nil {
                throw InputError("--merges-file", "goes with --tokenizer-file vocab.json")
            }
            if tokenizerFile != nil, let tokenizer, tokenizer != .bpe {
                throw InputError("--tokenizer", "\(tokenizer.rawValue) cannot be used with --tokenizer-file (a bpe tokenizer)")
            }
        }

        func run() throws {
            try OutputPath.check(out, overwrite: force)
            var request = InitRequest()
            request.preset = preset
            request.overrides = config.overrides
            request.corpusPath = data
            request.tokenizer = tokenizer
            if let tokenizerFile {
                request.vocabulary = Vocabulary(try TokenizerFiles.read(tokenizerFile: tokenizerFile, merges: mergesFile))
            }
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
