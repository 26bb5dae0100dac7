import ArgumentParser
import Foundation
import TTAnalysis
import TTCore
import TTEngine
import TTFormat
import TTInterop
import TTTokenizer
import TTTraining

extension TTCkpt {
    struct Trace: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every number of one training step: stored, printed as the series teaches it, diffable.",
            discussion: """
                Runs one forward and backward pass on the batch the run would draw next \
                (the checkpoint is not changed and its generator does not advance) and \
                keeps every intermediate under its canonical name (spec/TRACE.md): the \
                forward activations (act.*), the gradient of the mean loss with respect \
                to each of them (grad.*), the gradient of every parameter before clipping \
                (named after the parameter) and the update the AdamW step would apply \
                (update.*), plus the batch (batch.tokens, batch.targets). The gradients \
                are the ones `train` computes, bit for bit.

                -o writes a .ttc trace (roles activation, activation_grad, gradient, \
                update), or with --format safetensors the same tensors for numpy. A trace \
                larger than --max-size-mib (raw Float32 bytes) is refused before it is \
                computed.

                --print walks through the step in the series' order, one block per \
                stage: each quantity's formula, shape and values at 4 decimals (the row \
                of sequence 0 at --position). --json prints the same as one document.

                Check your own backprop: save your numbers with the canonical names (see \
                python/examples/backprop_tutorial.py) and run \
                `tt-ckpt diff mine.safetensors trace.ttc`.

                Examples:
                  tt-ckpt init model.ttc
                  tt-ckpt trace model.ttc --print
                  tt-ckpt trace model.ttc -o trace.ttc
                  tt-ckpt trace model.ttc -o trace.safetensors --format safetensors
                """)

        @Argument(help: ArgumentHelp("The checkpoint whose next step to trace.", valueName: "ckpt"),
                  completion: .file(extensions: ["ttc"]))
        var checkpoint: String

        @Option(help: ArgumentHelp("Corpus the checkpoint trains on (required unless it uses built-in data).", valueName: "file"))
        var data: String?

        @Option(name: [.short, .customLong("output")], help: ArgumentHelp("The trace file to write.", valueName: "file"))
        var output: String?

        @Option(help: ArgumentHelp("Output format: ttc or safetensors.", valueName: "ttc|safetensors"))
        var format: String = "ttc"

        @Flag(help: "Overwrite the output if it exists.")
        var force = false

        @Flag(name: .customLong("print"), help: "Print the walk through the step.")
        var printWalk = false

        @Option(help: "Position (of sequence 0) whose values --print shows.")
        var position: Int = 0

        @Flag(help: "Print the walk as JSON.")
        var json = false

        @Option(name: .customLong("max-size-mib"), help: "Refuse a trace larger than this many MiB (raw Float32).")
        var maxSizeMiB: Int = StepTracer.defaultMaxBytes >> 20

        func validate() throws {
            guard output != nil || printWalk || json else {
                throw InputError("trace", "nothing to do: give -o FILE, --print or --json")
            }
            guard format == "ttc" || format == "safetensors" else {
                throw InputError("--format", "must be ttc or safetensors, got \(TerminalText.quoted(format))")
            }
            guard position >= 0 else { throw InputError("--position", "must be ≥ 0, got \(position)") }
            guard (1...(1 << 20)).contains(maxSizeMiB) else {
                throw InputError("--max-size-mib", "must be in 1...1048576, got \(maxSizeMiB)")
            }
            if let data, data.isEmpty { throw InputError("--data", "empty path") }
            if let output, output.isEmpty { throw InputError("-o", "empty path") }
        }

        func run() throws {
            if let output {
                try OutputPath.refuseOverwritingInput(output, inputs: [checkpoint])
                try OutputPath.check(output, overwrite: force)
            }
            let stored = try loadCheckpoint(checkpoint)
            guard TraceCatalog.supports(stored.config.arch) else {
                throw InputError(checkpoint, "trace has no stages for arch \(stored.config.arch.rawValue)")
            }
            let batchSize = stored.training.batchSize
            try TrainingLimits.checkBatchSize(batchSize, config: stored.config, subject: checkpoint)
            let session = try TrainingSession(checkpoint: stored, maxBatchSize: batchSize, source: checkpoint)
            let corpus = try session.resolveData(path: data, checkpointPath: checkpoint)
            try session.verifyData(corpus, subject: data ?? "built-in data", checkpointPath: checkpoint)
            let batch = StepTracer.nextBatch(session: session, data: corpus)
            guard position < batch.seqLen else {
                throw InputError("--position", "must be in 0...\(batch.seqLen - 1) (the batch has \(batch.seqLen) positions), got \(position)")
            }
            let bytes = StepTracer.plannedSize(config: stored.config, batchSize: batch.batchSize, seqLen: batch.seqLen)
            let cap = maxSizeMiB << 20
            guard bytes <= cap else {
                throw InputError(checkpoint, "the trace of this step would be \(Self.mib(bytes)) (B \(batch.batchSize) × S \(batch.seqLen)), more than the cap \(maxSizeMiB) MiB (--max-size-mib)")
            }
            let trace = StepTracer.trace(session: session, batch: batch)
            if let output {
                if format == "safetensors" {
                    let (tensors, metadata) = SafetensorsCheckpoint.traceContents(trace)
                    try SafetensorsWriter.write(tensors, metadata: metadata, to: output, io: try FaultInjection.writeOptions().io)
                } else {
                    try CheckpointWriter.write(trace, to: output, options: try FaultInjection.writeOptions())
                }
            }
            let walk = TraceWalk(trace: trace, position: position)
            if json {
                AnalysisIO.printJSON(walk.json(source: checkpoint))
            } else if printWalk {
                print(walk.text(source: checkpoint).joined(separator: "\n"))
            }
            if let output, !json {
                let info = trace.trace!
                print("wrote \(TerminalText.escaped(output)): step \(info.step) of \(TerminalText.escaped(checkpoint)), batch \(info.batchSize) × \(info.seqLen), \(trace.tensors.count) tensors (\(Self.mib(bytes)) raw), loss \(String(format: "%.6f", info.loss))")
            }
        }

        /// A size in MiB, or KiB below 1 MiB.
        static func mib(_ bytes: Int) -> String {
            if bytes == Int.max { return "more than 8 EiB" }
            if bytes < 1 << 20 { return String(format: "%.1f KiB", Double(bytes) / 1024) }
            return String(format: "%.1f MiB", Double(bytes) / 1048576)
        }
    }
}
