import ArgumentParser
import Foundation
import TTCore
import TTFormat
import TTInterop

/// What `export` writes.
enum ExportTarget: String, ExpressibleByArgument, CaseIterable {
    case safetensors, hf
}

extension TTCkpt {
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a checkpoint's tensors as a safetensors file, or a gpt2 checkpoint as a transformers directory.",
            discussion: """
                --to safetensors (the default) writes the public safetensors layout: an 8-byte little-endian header length, a \
                JSON header giving each tensor's dtype (F32), shape and data_offsets, then the \
                data. Tensors keep their canonical names (tok_emb, layers.0.attn.wq, ...); with \
                --include-optimizer the AdamW moments follow as adam_m.<name> and adam_v.<name>. \
                The __metadata__ map holds the config (arch, vocab_size, d_model, n_heads, d_ff, \
                n_layers, context), the tokenizer and vocabulary (a JSON list), step, tokens_seen \
                and seed, and the loss history and session starts as JSON lists, so \
                `tt-ckpt import` can rebuild the checkpoint. Tensors of role `other` are not \
                exported.

                The output is written atomically: on any error nothing is left at OUT.

                Example (the tutorial model):
                  $ tt-ckpt export run.ttc run.safetensors --include-optimizer
                  $ python3 -c 'from safetensors.numpy import load_file
                  > w = load_file("run.safetensors"); print(len(w), w["tok_emb"].shape)'
                  39 (6, 16)

                --to hf writes a gpt2 checkpoint as a Hugging Face transformers directory \
                OUT (created if missing; existing files in it are replaced only with \
                --force): config.json (GPT2Config as transformers 5 writes it, dropout 0), \
                model.safetensors (transformer.* names, the Conv1D weights transposed to \
                (in, out), no lm_head.weight: tied), and the tokenizer as vocab.json, \
                merges.txt, tokenizer.json and tokenizer_config.json, so that \
                GPT2LMHeadModel.from_pretrained(OUT) and GPT2TokenizerFast.from_pretrained(OUT) \
                load it. A byte vocabulary is written as a BPE without merges (the same ids); \
                word and char vocabularies, other archs and --include-optimizer are refused.

                Example:
                  $ tt-ckpt export tuned.ttc tuned-hf --to hf
                  $ python3 -c 'from transformers import GPT2LMHeadModel
                  > print(GPT2LMHeadModel.from_pretrained("tuned-hf").num_parameters())'
                """)

        @Argument(help: "The .ttc checkpoint to read.", completion: .file(extensions: ["ttc"]))
        var checkpoint: String

        @Argument(help: "The .safetensors file (with --to hf, the directory) to write.", completion: .file())
        var output: String

        @Option(help: "safetensors (tt-ckpt's layout, the default) or hf (a transformers directory).")
        var to: ExportTarget = .safetensors

        @Flag(help: "Also write the AdamW moments (adam_m.<name>, adam_v.<name>); safetensors only.")
        var includeOptimizer = false

        @Flag(help: "With --to hf: replace files of the same names in an existing directory.")
        var force = false

        func validate() throws {
            if to == .hf && includeOptimizer {
                throw InputError("--include-optimizer", "a transformers directory holds no optimizer state; use --to safetensors")
            }
        }

        func run() throws {
            if to == .hf {
                let ckpt = try CheckpointReader(path: checkpoint).readCheckpoint()
                try GPT2Export.write(ckpt, to: output, overwrite: force, source: checkpoint, io: try FaultInjection.writeOptions().io)
                let c = ckpt.config
                print("wrote \(output): config.json, model.safetensors (\(ParameterLayout.parameterCount(c)) parameters), "
                      + "vocab.json, merges.txt, tokenizer.json, tokenizer_config.json; step \(ckpt.training.step)")
                return
            }
            try OutputPath.refuseOverwritingInput(output, inputs: [checkpoint])
            try OutputPath.check(output, overwrite: true)
            let ckpt = try CheckpointReader(path: checkpoint).readCheckpoint()
            try SafetensorsCheckpoint.export(ckpt, to: output, includeOptimizer: includeOptimizer,
                                             io: try FaultInjection.writeOptions().io)
            let count = ckpt.trace != nil ? ckpt.tensors.count : ckpt.tensors.filter { includeOptimizer || $0.role == .parameter }.count
            print("wrote \(output): \(count) tensors (f32), step \(ckpt.training.step)")
        }
    }
}

/// Refuses to write `output` when it is one of the `inputs` (same device and inode), so
/// `export run.ttc run.ttc` or `plot run.ttc -o run.ttc` cannot replace a checkpoint.
