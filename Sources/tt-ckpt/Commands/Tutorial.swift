import ArgumentParser
import Foundation
import TTCore
import TTFormat
import TTTokenizer
import TTTraining

extension TTCkpt {
    struct Tutorial: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "tutorial",
            abstract: "Walk through the series: its numbers, 1000 training steps, a sample.",
            discussion: """
                Builds the tutorial series' model (seed 42), sets the numbers the \
                series publishes beside the ones this engine computes, trains it \
                on the series' sentence with AdamW, saves the checkpoint, and asks \
                it to complete <BOS>. The file written is the same, byte for byte, \
                as `tt-ckpt init OUT` followed by `tt-ckpt train OUT --steps N`.

                Example:
                  tt-ckpt tutorial tutorial.ttc
                  tt-ckpt inspect tutorial.ttc
                """)

        @Argument(help: "The checkpoint to write.", completion: .file(extensions: ["ttc"]))
        var output: String = "tutorial.ttc"

        @Option(help: "Training steps.")
        var steps: Int = 1000

        @Flag(help: "Overwrite OUTPUT if it exists.")
        var force = false

        @OptionGroup(title: "Progress")
        var progress: ProgressOptions

        func validate() throws {
            guard (1...1_000_000).contains(steps) else {
                throw ValidationError("--steps: must be in 1...1000000, got \(steps)")
            }
        }

        func run() throws {
            try OutputPath.check(output, overwrite: force)
            let ours = TutorialNumbers.computed(), series = TutorialNumbers.published
            print("The series' model: V 6, D 16, H 2, F 64, L 1, T 5, 3456 parameters, seed 42.")
            print("Sentence: <BOS> I like transformers <EOS> = [1, 3, 4, 5, 2]\n")
            func row(_ label: String, _ a: [Double], _ b: [Double], _ digits: Int) {
                let f = { (x: [Double]) in x.map { String(format: "%.\(digits)f", $0) }.joined(separator: " ") }
                print(label.padding(toLength: 36, withPad: " ", startingAt: 0) + f(a) + "   (series: " + f(b) + ")")
            }
            row("tok_emb[1][0]", [ours.tokEmb10], [series.tokEmb10], 6)
            row("position-0 probabilities", ours.position0Probabilities, series.position0Probabilities, 4)
            row("per-position losses", ours.positionLosses, series.positionLosses, 4)
            row("average loss", [ours.averageLoss], [series.averageLoss], 4)
            row("tok_emb[1][0] after one AdamW step", [ours.tokEmb10AfterOneStep], [series.tokEmb10AfterOneStep], 6)
            print("")

            let data = TrainingData.tutorial()
            let initial = try TrainingSession.initialCheckpoint(config: .tutorial, vocabulary: .tutorial, seed: 42,
                                                                data: data.identity)
            try CheckpointWriter.write(initial, to: output)
            let session = try TrainingSession(checkpoint: initial, maxBatchSize: 1, source: output)
            session.beginRun(optimizer: AdamWConfig(), batchSize: 1, data: data.identity)
            try runTraining(session, data: data, steps: steps, output: output, saveEvery: 0, keep: nil,
                            progress: progress)

            var options = GenerationOptions()
            options.temperature = 0
            options.maxTokens = 8
            let prompt: [Int32] = [1]
            let out = Sampler.generate(model: session.model, vocabulary: .tutorial, prompt: prompt, options: options)
            print("\nGreedy completion of <BOS>: \(Vocabulary.tutorial.decode(out))")
            print("Next: tt-ckpt inspect \(output)   tt-ckpt sample \(output) --temperature 0")
        }
    }
}
