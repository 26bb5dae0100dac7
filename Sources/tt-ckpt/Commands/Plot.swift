import ArgumentParser
import Foundation
import TTAnalysis
import TTCore
import TTFormat

extension TTCkpt {
    struct Plot: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Draw a checkpoint's loss history, or the change between two checkpoints, as SVG.",
            discussion: """
                With one checkpoint: a line chart of the stored loss history, step on x \
                (linear, from 0), loss on y (linear; --log-y for log10), each over round \
                numbers that enclose the data. Every session after the first (the \
                checkpoint's session starts: a later `train` run continuing it) is marked \
                by a dashed vertical line labelled "resume @ N" at the step count N it \
                continued from. Histories longer than --max-points are thinned to every \
                k-th step, k = ceil(steps / max-points), plus the last step.

                With two checkpoints A B: a horizontal bar per parameter tensor showing its \
                relative change ‖A−B‖₂ / ‖A‖₂ (tensors with ‖A‖ = 0 get a note with ‖A−B‖ \
                instead of a bar). Both must have the same tensors and shapes.

                The SVG is written atomically and is byte-for-byte deterministic.

                Examples:
                  $ tt-ckpt init init.ttc
                  $ tt-ckpt train init.ttc --steps 100 -o run.ttc --quiet
                  $ tt-ckpt train run.ttc --steps 100 --quiet
                  $ tt-ckpt plot run.ttc -o loss.svg --log-y    # 200 points, resume @ 100
                  $ tt-ckpt plot init.ttc run.ttc -o change.svg # 13 bars, one per tensor
                """)

        @Argument(help: "One checkpoint (loss chart) or two (change chart).", completion: .file(extensions: ["ttc"]))
        var checkpoints: [String]

        @Option(name: .shortAndLong, help: "The SVG file to write.", completion: .file(extensions: ["svg"]))
        var output: String

        @Flag(help: "Log10 y axis for the loss chart.")
        var logY = false

        @Option(help: "Most points drawn on the loss line before it is thinned.")
        var maxPoints: Int = SVGPlot.defaultMaxPoints

        func validate() throws {
            guard (1...2).contains(checkpoints.count) else {
                throw ValidationError("give one checkpoint (loss chart) or two (change chart), not \(checkpoints.count)")
            }
            guard maxPoints >= 2 else { throw ValidationError("--max-points must be at least 2") }
            if checkpoints.count == 2 && logY { throw ValidationError("--log-y applies to the loss chart (one checkpoint)") }
        }

        func run() throws {
            try OutputPath.refuseOverwritingInput(output, inputs: checkpoints)
            try OutputPath.check(output, overwrite: true)
            let svg: String
            if checkpoints.count == 1 {
                let reader = try CheckpointReader(path: checkpoints[0])
                let training = reader.training
                guard !training.lossHistory.isEmpty else {
                    throw FormatError(path: checkpoints[0], message: "no loss history to plot (the model has not been trained)")
                }
                svg = SVGPlot.lossChart(history: training.lossHistory, sessionStarts: training.sessionStarts,
                                        logScale: logY, title: "Training loss: \((checkpoints[0] as NSString).lastPathComponent)",
                                        maxPoints: maxPoints)
            } else {
                let a = try CheckpointReader(path: checkpoints[0]).readCheckpoint()
                let b = try CheckpointReader(path: checkpoints[1]).readCheckpoint()
                let changes: [SVGPlot.TensorChange]
                do {
                    changes = try SVGPlot.relativeChanges(from: a, to: b)
                } catch let e as ConfigError {
                    throw FormatError(path: checkpoints[1], message: e.message)
                }
                let names = checkpoints.map { ($0 as NSString).lastPathComponent }
                svg = SVGPlot.changeChart(changes, title: "Relative change per tensor: \(names[0]) → \(names[1])")
            }
            try AtomicWrite.write([Array(svg.utf8)], to: output, io: try FaultInjection.writeOptions().io)
        }
    }
}
