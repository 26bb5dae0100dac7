import ArgumentParser
import Foundation
import TTCore
import TTFormat
import TTInterop
import TTTokenizer

/// What `import` reads.
enum ImportSource: String, ExpressibleByArgument, CaseIterable {
    case safetensors, hf, nanogpt
}

extension TTCkpt {
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a .ttc checkpoint from a safetensors file, a transformers directory or a nanoGPT state dict.",
            discussion: """
                --from safetensors (the default for a file; a directory is read as --from hf):

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

                --from hf: a Hugging Face transformers GPT-2 directory (what \
                GPT2LMHeadModel.save_pretrained writes, or a GPT2Model's): config.json, \
                model.safetensors or model.safetensors.index.json with its shards, and \
                tokenizer.json or vocab.json + merges.txt (or --tokenizer-file, or \
                --tokenizer with --vocab-file). The result is arch gpt2. config.json gives \
                the shape (n_embd, n_head, n_layer, n_positions, vocab_size, n_inner) and \
                must describe what tt-ckpt's gpt2 computes (gelu_new, LayerNorm eps 1e-5, \
                tied embeddings, scaled attention). Names are mapped (transformer.h.N.attn. \
                c_attn.weight -> layers.N.attn.wqkv, ...) and the four Conv1D weights per \
                block transposed from (in, out); lm_head.weight, if stored, must equal \
                transformer.wte.weight; the mask buffers attn.bias and attn.masked_bias are \
                skipped; any other tensor is an error naming it.

                --from nanogpt: a nanoGPT GPT state dict saved as safetensors (e.g. \
                safetensors.torch.save_file(ckpt['model'], 'model.safetensors')). Shapes \
                give everything but the number of heads: pass --heads, or --model-args with \
                nanoGPT's model_args dict as JSON (checked against the shapes). \
                _orig_mod. prefixes are dropped; with bias=False the biases are zero. \
                nanoGPT computes the exact (erf) GELU, tt-ckpt's gpt2 GPT-2's tanh GELU, \
                so the logits differ slightly from nanoGPT's. The tokenizer is not in the \
                file: give --tokenizer-file (GPT-2's vocab.json + --merges-file for \
                nanoGPT's GPT-2 runs) or --tokenizer and --vocab-file.

                With --from hf or nanogpt the training state is fresh (step 0, zero AdamW \
                moments, the generator seeded with --seed, else 42).

                Examples:
                  $ python3 -c 'from transformers import GPT2LMHeadModel
                  > GPT2LMHeadModel.from_pretrained("gpt2").save_pretrained("gpt2-hf")'
                  $ tt-ckpt import gpt2-hf gpt2.ttc --from hf
                  $ tt-ckpt import ckpt.safetensors shakespeare.ttc --from nanogpt \\
                        --model-args model_args.json --tokenizer char --vocab-file chars.txt
                """)

        @Argument(help: "The .safetensors file (or, with --from hf, the directory) to read.", completion: .file())
        var input: String

        @Argument(help: "The .ttc checkpoint to write.", completion: .file(extensions: ["ttc"]))
        var output: String

        @Option(help: "What INPUT is: safetensors (tt-ckpt's layout), hf (a transformers directory) or nanogpt (default: hf for a directory, else safetensors).")
        var from: ImportSource?
        @Option(help: ArgumentHelp("nanoGPT's model_args as JSON (n_head, n_layer, n_embd, block_size, bias, vocab_size).", valueName: "file"))
        var modelArgs: String?
        @OptionGroup(title: "Config (each overrides the metadata and the shapes; with --from nanogpt only --heads)")
        var config: ConfigOptions
        @Option(help: "Tokenizer of --vocab-file: word, char or byte (byte needs no file: its 256 tokens are fixed).")
        var tokenizer: TokenizerKind?
        @Option(help: "Token list: one token per line, or a JSON list of strings; id = index.", completion: .file())
        var vocabFile: String?
        @Option(help: ArgumentHelp("A BPE tokenizer: tokenizer.json, or vocab.json with --merges-file.", valueName: "file"))
        var tokenizerFile: String?
        @Option(help: ArgumentHelp("The merges.txt that goes with a vocab.json given as --tokenizer-file.", valueName: "merges.txt"))
        var mergesFile: String?
        @Option(help: "Seed of the fresh training state's generator.")
        var seed: UInt64?
        @Flag(help: "Replace OUT if it exists.")
        var force = false

        func validate() throws {
            if let from, from != .safetensors {
                let c = config
                for (name, given) in [("--arch", c.arch != nil), ("--vocab-size", c.vocabSize != nil), ("--d-model", c.dModel != nil),
                                      ("--d-ff", c.dFF != nil), ("--layers", c.layers != nil), ("--context", c.context != nil),
                                      ("--heads", c.heads != nil && from == .hf)] where given {
                    throw InputError(name, "the config comes from \(from == .hf ? "config.json" : "the state dict") with --from \(from.rawValue)")
                }
            }
            if modelArgs != nil && from != .nanogpt {
                throw InputError("--model-args", "goes with --from nanogpt")
            }
            if mergesFile != nil && tokenizerFile == nil {
                throw InputError("--merges-file", "goes with --tokenizer-file vocab.json")
            }
            if tokenizerFile != nil && (vocabFile != nil || (tokenizer != nil && tokenizer != .bpe)) {
                throw InputError("--tokenizer-file", "gives a bpe tokenizer; it cannot be used with --vocab-file or another --tokenizer")
            }
            if tokenizer == .bpe && tokenizerFile == nil {
                throw InputError("--tokenizer", "bpe is read from tokenizer files: give --tokenizer-file")
            }
            if vocabFile != nil && tokenizer == nil {
                throw InputError("--vocab-file", "needs --tokenizer to say how its tokens are used")
            }
            if let tokenizer, tokenizer != .byte, tokenizer != .bpe, vocabFile == nil {
                throw InputError("--tokenizer", "\(tokenizer.rawValue) needs --vocab-file with its tokens")
            }
        }

        func run() throws {
            try OutputPath.refuseOverwritingInput(output, inputs: [input] + [vocabFile, tokenizerFile, mergesFile, modelArgs].compactMap { $0 })
            try OutputPath.check(output, overwrite: force)
            var vocabulary: Vocabulary?
            if let tokenizerFile {
                vocabulary = Vocabulary(try TokenizerFiles.read(tokenizerFile: tokenizerFile, merges: mergesFile))
            } else if tokenizer == .byte && vocabFile == nil {
                vocabulary = .bytes
            } else if let vocabFile, let kind = tokenizer {
                vocabulary = try VocabularyFile.read(path: vocabFile, kind: kind)
            }
            let source = from ?? (POSIXFileSystem().status(input) == .directory ? .hf : .safetensors)
            let ckpt: Checkpoint
            switch source {
            case .safetensors:
                var options = SafetensorsCheckpoint.ImportOptions()
                options.config = config.overrides
                options.seed = seed
                options.vocabulary = vocabulary
                ckpt = try SafetensorsCheckpoint.importCheckpoint(try SafetensorsFile(path: input), options: options)
            case .hf, .nanogpt:
                var options = GPT2Import.Options()
                options.vocabulary = vocabulary
                options.seed = seed ?? 42
                options.heads = config.heads
                if let modelArgs {
                    let bytes = try ReadableFile.readAll(modelArgs, limit: TransformersConfig.maxFileSize)
                    do {
                        options.modelArgs = (try HeaderJSON.parse(bytes, maxArrayLength: 1 << 12, maxObjectMembers: 1 << 12), modelArgs)
                    } catch {
                        throw FormatError(path: modelArgs, message: "\(error)")
                    }
                }
                ckpt = source == .hf ? try GPT2Import.readTransformers(directory: input, options: options)
                    : try GPT2Import.readNanoGPT(path: input, options: options)
            }
            try CheckpointWriter.write(ckpt, to: output, options: try FaultInjection.writeOptions())
            let c = ckpt.config
            print("created \(output): arch \(c.arch.rawValue), V \(c.vocabSize), D \(c.dModel), H \(c.nHeads), F \(c.dFF), "
                  + "L \(c.nLayers), T \(c.context), \(ParameterLayout.parameterCount(c)) parameters, "
                  + "\(ckpt.vocabulary.kind.rawValue) tokenizer, step \(ckpt.training.step), \(ckpt.tensors.count) tensors")
        }
    }
}
