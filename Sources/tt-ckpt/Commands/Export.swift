import ArgumentParser
import Foundation
import TTCkpt

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
                and seed, so `tt-ckpt import` can rebuild the checkpoint.

                The output is written atomically: on any error nothing is left at OUT.

                Example:
                  tt-ckpt export run.ttc run.safetensors --include-optimizer
                  python3 -c "from safetensors.numpy import load_file; print(load_file('run.safetensors')['tok_emb'].shape)"
                """)

        @Argument(help: "The .ttc checkpoint to read.", completion: .file(extensions: ["ttc"]))
        var checkpoint: String

        @Argument(help: "The .safetensors file to write.", completion: .file(extensions: ["safetensors"]))
        var output: String

        @Flag(help: "Also write the AdamW moments (adam_m.<name>, adam_v.<name>).")
        var includeOptimizer = false

        func run() throws {
            try interopReportingErrors {
                let ckpt = try CheckpointReader(path: checkpoint).readCheckpoint()
                try SafetensorsCheckpoint.export(ckpt, to: output, includeOptimizer: includeOptimizer)
            }
        }
    }
}

/// Runs `body`; a library error becomes one stderr line `tt-ckpt: <file>: <problem>` (control
/// characters escaped, first line only) and exit status 2.
func interopReportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as ExitCode {
        throw e
    } catch {
        let text = String(describing: error)
        var line = ""
        for scalar in (text.split(whereSeparator: \.isNewline).first.map(String.init) ?? "").unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value) {
                let hex = String(scalar.value, radix: 16)
                line += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                line.unicodeScalars.append(scalar)
            }
        }
        FileHandle.standardError.write(Data("tt-ckpt: \(line)\n".utf8))
        throw ExitCode(2)
    }
}
