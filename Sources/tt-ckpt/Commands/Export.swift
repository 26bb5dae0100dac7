import ArgumentParser
import Foundation
import TTCore
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
                exported (the line printed says how many were left out).

                Tensors are read, checked and written one at a time, so memory stays bounded \
                by the largest tensor; a model above init's parameter limit is refused before \
                anything is inflated, and so is a model holding a NaN or infinite parameter \
                (training diverged). An existing OUT is replaced only with --force, and never \
                when it is the checkpoint itself. The output is written atomically: on any \
                error nothing is left at OUT.

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

        @Flag(help: "Replace OUT if it exists.")
        var force = false

        func run() throws {
            try OutputPath.refuseOverwritingInput(output, inputs: [checkpoint])
            try claimOutput(output, overwrite: force)
            let reader = try CheckpointReader(path: checkpoint)
            let count = try SafetensorsCheckpoint.export(from: reader, to: output, includeOptimizer: includeOptimizer,
                                                         io: try FaultInjection.writeOptions().io)
            let skipped = reader.trace != nil ? 0 : reader.entries.filter { $0.role == .other }.count
            print("wrote \(TerminalText.escaped(output)): \(count) tensors (f32), step \(reader.training.step)"
                  + (skipped > 0 ? "; \(skipped) tensor\(skipped == 1 ? "" : "s") of role other not exported" : ""))
        }
    }
}

/// Refuses to write `output` when it is one of the `inputs` (same device and inode), so
/// `export run.ttc run.ttc` or `plot run.ttc -o run.ttc` cannot replace a checkpoint.
