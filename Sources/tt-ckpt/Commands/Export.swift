import ArgumentParser
import Foundation
import TTFormat
import TTInterop

extension TTCkpt {
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a checkpoint's tensors as a safetensors file.",
            discussion: """
                Writes the public safetensors layout: an 8-byte little-endian header length, a \
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
                """)

        @Argument(help: "The .ttc checkpoint to read.", completion: .file(extensions: ["ttc"]))
        var checkpoint: String

        @Argument(help: "The .safetensors file to write.", completion: .file(extensions: ["safetensors"]))
        var output: String

        @Flag(help: "Also write the AdamW moments (adam_m.<name>, adam_v.<name>).")
        var includeOptimizer = false

        func run() throws {
            try OutputPath.refuseOverwritingInput(output, inputs: [checkpoint])
            try OutputPath.check(output, overwrite: true)
            let ckpt = try CheckpointReader(path: checkpoint).readCheckpoint()
            try SafetensorsCheckpoint.export(ckpt, to: output, includeOptimizer: includeOptimizer,
                                             io: try FaultInjection.writeOptions().io)
            let count = ckpt.tensors.filter { includeOptimizer || $0.role == .parameter }.count
            print("wrote \(output): \(count) tensors (f32), step \(ckpt.training.step)")
        }
    }
}

/// Refuses to write `output` when it is one of the `inputs` (same device and inode), so
/// `export run.ttc run.ttc` or `plot run.ttc -o run.ttc` cannot replace a checkpoint.
