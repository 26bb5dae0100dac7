import ArgumentParser
import Foundation
import TTCore
import TTFormat
import TTInterop
import TTTokenizer

extension TTCkpt {
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a .ttc checkpoint from a safetensors file.",
            discussion: """
                Reads a safetensors file, validated like the reference implementation \
                (header at most 100 MB, offsets contiguous and inside the file, byte \
                lengths equal to shape × dtype size). Tensors may be F32, F16, BF16 or F64; \
                all become F32.

                Each config field comes from its option below, else from __metadata__ (as \
                `tt-ckpt export` writes it), else from the tensor shapes: tok_emb gives \
                vocab_size and d_model, pos_emb context, layers.0.attn.wq n_heads, \
                layers.0.ffn.w1 d_ff, the layers.N names n_layers, ln_f.gamma the gpt arch. \
                The vocabulary comes from --tokenizer and --vocab-file (--tokenizer byte \
                alone gives the 256 byte tokens), else from __metadata__. Every tensor of \
                the layout must be present with its exact shape, and nothing else; \
                otherwise the error names the tensor.

                The AdamW moments (adam_m.*, adam_v.*) are loaded when present, else zero. \
                The training state is fresh (generator seeded with --seed, else the \
                metadata seed, else 42; no data identity; default optimizer settings), \
                except that a file from `export --include-optimizer` also restores step, \
                tokens_seen, loss history and session starts, so AdamW's bias correction \
                continues. Otherwise the step is 0.

                Examples:
                  $ tt-ckpt export run.ttc run.safetensors --include-optimizer
                  $ tt-ckpt import run.safetensors copy.ttc
                  $ tt-ckpt diff run.ttc copy.ttc | grep -o '[0-9]* equal'
                  39 equal

                  $ python3 -c 'import numpy as np; from safetensors.numpy import save_file
                  > save_file({"tok_emb": np.ones((6, 16), np.float32)}, "w.safetensors")'
                  $ tt-ckpt import w.safetensors w.ttc --arch tutorial \\
                        --tokenizer word --vocab-file vocab.txt
                  tt-ckpt: w.safetensors: cannot tell n_heads: not in __metadata__ and \
                no tensor to infer it from; pass --heads
                  $ tt-ckpt import w.safetensors w.ttc --arch tutorial \\
                        --tokenizer word --vocab-file vocab.txt --heads 2 --d-ff 64 \\
                        --layers 1 --context 5
                  tt-ckpt: w.safetensors: tensor 'pos_emb' is missing
                """)

        @Argument(help: "The .safetensors file to read.", completion: .file(extensions: ["safetensors"]))
        var input: String

        @Argument(help: "The .ttc checkpoint to write.", completion: .file(extensions: ["ttc"]))
        var output: String

        @OptionGroup(title: "Config (each overrides the metadata and the shapes)")
        var config: ConfigOptions
        @Option(help: "Tokenizer of --vocab-file: word, char or byte (byte needs no file: its 256 tokens are fixed).")
        var tokenizer: TokenizerKind?
        @Option(help: "Token list: one token per line, or a JSON list of strings; id = index.", completion: .file())
        var vocabFile: String?
        @Option(help: "Seed of the fresh training state's generator.")
        var seed: UInt64?
        @Flag(help: "Replace OUT if it exists.")
        var force = false

        func validate() throws {
            if vocabFile != nil && tokenizer == nil {
                throw InputError("--vocab-file", "needs --tokenizer to say how its tokens are used")
            }
            if let tokenizer, tokenizer != .byte, vocabFile == nil {
                throw InputError("--tokenizer", "\(tokenizer.rawValue) needs --vocab-file with its tokens")
            }
        }

        func run() throws {
            try OutputPath.refuseOverwritingInput(output, inputs: [input] + (vocabFile.map { [$0] } ?? []))
            try OutputPath.check(output, overwrite: force)
            var options = SafetensorsCheckpoint.ImportOptions()
            options.config = config.overrides
            options.seed = seed
            if tokenizer == .byte && vocabFile == nil {
                options.vocabulary = .bytes
            } else if let vocabFile, let kind = tokenizer {
                options.vocabulary = try VocabularyFile.read(path: vocabFile, kind: kind)
            }
            let file = try SafetensorsFile(path: input)
            let ckpt = try SafetensorsCheckpoint.importCheckpoint(file, options: options)
            try CheckpointWriter.write(ckpt, to: output, options: try FaultInjection.writeOptions())
            let c = ckpt.config
            print("created \(output): arch \(c.arch.rawValue), V \(c.vocabSize), D \(c.dModel), L \(c.nLayers), "
                  + "step \(ckpt.training.step), \(ckpt.tensors.count) tensors")
        }
    }
}
