import ArgumentParser
import Foundation
import TTCore
import TTEngine
import TTTokenizer
import TTTraining

extension TTCkpt {
    struct Eval: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Mean cross-entropy and perplexity of a checkpoint's model over a text file.",
            discussion: """
                The file is tokenized as it is with the checkpoint's tokenizer
                (no special tokens added) into n tokens, and cut into
                consecutive windows with stride T (the model's context): inputs
                t[s..s+T), targets t[s+1..s+T+1), the last window shorter. Each
                window starts at position 0. The loss is the mean of
                -log p(target) in nats over all n-1 targets (<PAD> targets of a
                word vocabulary excepted, as in training); the perplexity is
                exp(loss). Windows run --batch-size at a time; the figures do
                not depend on it or on --threads.

                Prints one line, or with --json one object: loss, perplexity,
                tokens (targets scored), windows, text_tokens, context,
                checkpoint, data. Progress goes to stderr on a terminal, or
                always with --progress; --quiet turns it off.

                Examples:
                  tt-ckpt eval model.ttc --data valid.txt
                  tt-ckpt eval model.ttc --data valid.txt --json
                """
        )

        @Argument(help: ArgumentHelp("The checkpoint to evaluate.", valueName: "ckpt"))
        var checkpoint: String
        @Option(help: ArgumentHelp("Text to evaluate on.", valueName: "file"))
        var data: String
        @Option(name: .customLong("batch-size"),
                help: ArgumentHelp("Windows per forward pass (default: up to 16 within the memory limit).", valueName: "b"))
        var batchSize: Int?
        @Flag(help: "Print one JSON object on stdout.")
        var json = false
        @Flag(help: "Report progress on stderr even when it is not a terminal.")
        var progress = false
        @Flag(help: "No progress output.")
        var quiet = false
        @OptionGroup(title: "Performance") var threading: ThreadOptions

        func validate() throws {
            guard !data.isEmpty else { throw InputError("--data", "empty path") }
            if let batchSize { try TrainingLimits.checkBatchSize(batchSize, subject: "--batch-size") }
            if progress && quiet { throw InputError("--progress", "cannot be combined with --quiet") }
        }

        func run() throws {
            let stored = try loadCheckpoint(checkpoint)
            let config = stored.config
            let bytes = try TrainingData.readCorpus(data)
            let tokens = try stored.vocabulary.encode(bytes, source: data)
            guard tokens.count >= 2 else {
                throw InputError(data, "has \(tokens.count) token\(tokens.count == 1 ? "" : "s"); eval needs at least 2")
            }
            let windows = Evaluator.windows(tokenCount: tokens.count, context: config.context).count
            let B: Int
            if let batchSize {
                try TrainingLimits.checkBatchSize(batchSize, config: config, subject: "--batch-size")
                B = min(batchSize, windows)
            } else {
                var b = max(1, min(16, windows, TrainingLimits.maxBatchTokens / config.context))
                while b > 1 && Model.activationCount(config: config, maxBatchSize: b) > TrainingLimits.maxActivationFloats { b /= 2 }
                B = b
            }
            let session = try TrainingSession(checkpoint: stored, maxBatchSize: B, source: checkpoint)
            session.model.threadCount = threading.count
            let reporter = EvalProgress(enabled: !quiet && (progress || isatty(STDERR_FILENO) == 1), windows: windows)
            let result = Evaluator.evaluate(model: session.model, tokens: tokens, padID: session.padID, batchSize: B,
                                            onProgress: { reporter.update($0) })
            reporter.finish()
            if json {
                let record: JSONValue = .object([
                    ("checkpoint", .string(checkpoint)),
                    ("data", .string(data)),
                    ("loss", .double(result.loss)),
                    ("perplexity", .double(result.perplexity)),
                    ("tokens", .int(result.targets)),
                    ("windows", .int(result.windows)),
                    ("text_tokens", .int(result.textTokens)),
                    ("context", .int(config.context)),
                ])
                print(record.serialized(pretty: false))
            } else {
                print("loss \(String(format: "%.6f", result.loss))  perplexity \(String(format: "%.4f", result.perplexity))  "
                      + "(\(result.targets) tokens in \(result.windows) window\(result.windows == 1 ? "" : "s") of up to \(config.context))")
            }
        }
    }
}

/// Eval's progress on stderr: a line redrawn in place on a terminal, else a line at every
/// tenth of the windows.
final class EvalProgress {
    let enabled: Bool
    let live: Bool
    let windows: Int
    private let start = ContinuousClock.now
    private var lastDraw = -1.0
    private var lastTenth = 0
    private var drew = false

    init(enabled: Bool, windows: Int) {
        self.enabled = enabled
        self.live = isatty(STDERR_FILENO) == 1
        self.windows = windows
    }

    func update(_ p: EvaluationProgress) {
        guard enabled else { return }
        let d = start.duration(to: .now)
        let elapsed = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        let eta = elapsed / Double(p.windowsDone) * Double(p.windows - p.windowsDone)
        let text = "eval: window \(p.windowsDone)/\(p.windows)  loss \(String(format: "%.6f", p.loss))  "
            + "\(Int((Double(p.targetsDone) / max(elapsed, 1e-9)).rounded())) tok/s  ETA \(Self.duration(eta))"
        if live {
            guard p.windowsDone == p.windows || elapsed - lastDraw >= 0.1 else { return }
            lastDraw = elapsed
            FileHandle.standardError.write(Data(("\r" + text + "\u{1B}[K").utf8))
            drew = true
        } else {
            let tenth = p.windowsDone * 10 / max(1, p.windows)
            guard tenth > lastTenth || p.windowsDone == p.windows else { return }
            lastTenth = tenth
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }

    func finish() {
        if drew { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
