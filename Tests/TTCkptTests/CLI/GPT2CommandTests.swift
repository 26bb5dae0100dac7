import Foundation
import Testing
@testable import TTCore
@testable import TTEngine
@testable import TTFormat
@testable import TTTokenizer
@testable import TTTraining

/// The gpt2 arch through the built binary: the existing contracts (byte-identical resume,
/// identical bytes for any thread count), `eval` against the Double reference model, and
/// `sample`'s streamed output.
@Suite struct GPT2CommandTests {
    /// gpt2-tiny shrunk so a debug build runs it in seconds; byte tokens.
    static let shape = ["--preset", "gpt2-tiny", "--d-model", "32", "--heads", "4", "--d-ff", "64", "--layers", "2",
                        "--context", "16", "--seed", "5"]

    @Test func trainThenResumeIsByteIdenticalAndThreadCountsAgree() throws {
        let dir = try TemporaryDirectory("gpt2-contract")
        try dir.write("corpus.txt", tinyCorpus)
        for name in ["a.ttc", "b.ttc", "c.ttc"] { try CLIRunner.ok(["init", name] + Self.shape, in: dir) }
        // nanoGPT's optimizer settings: decay 0.1 on the 2-D weights only.
        let hyper = ["--data", "corpus.txt", "--batch-size", "2", "--lr", "3e-3", "--schedule", "cosine", "--warmup", "2",
                     "--decay-steps", "12", "--grad-clip", "1", "--weight-decay", "0.1", "--no-decay-norm-bias", "--quiet"]
        try CLIRunner.ok(["train", "a.ttc", "--steps", "12", "--threads", "1"] + hyper, in: dir)
        try CLIRunner.ok(["train", "b.ttc", "--steps", "7", "--threads", "2"] + hyper, in: dir)
        try CLIRunner.ok(["resume", "b.ttc", "--steps", "5", "--data", "corpus.txt", "--threads", "3", "--quiet"], in: dir)
        try CLIRunner.ok(["train", "c.ttc", "--steps", "12", "--threads", "3"] + hyper, in: dir)
        let a = try dir.read("a.ttc")
        #expect(a == (try dir.read("b.ttc")))
        #expect(a == (try dir.read("c.ttc")))
        let checkpoint = try CheckpointReader(path: dir.path("a.ttc")).readCheckpoint()
        #expect(checkpoint.config.arch == .gpt2)
        #expect(checkpoint.training.step == 12 && checkpoint.training.optimizer.exemptNormAndBias)
        #expect(checkpoint.tensors.first { $0.name == "lm_head" } == nil)
        // the loss went down on this small corpus
        let losses = checkpoint.training.lossHistory
        #expect(losses.last! < losses.first!)
    }

    /// `eval --json` against the Double reference model evaluated window by window on the
    /// checkpoint's own weights: within 1e-6 relative (float32 rounding of the per-token
    /// losses is ~1e-7; a window or target off by one moves the figure by ~1e-2). The figure
    /// does not depend on --batch-size.
    @Test func evalMatchesTheReferenceModel() throws {
        let dir = try TemporaryDirectory("gpt2-eval")
        try dir.write("corpus.txt", tinyCorpus)
        let text = "the lazy fox learns the letters. é\n"
        try dir.write("valid.txt", text)
        try CLIRunner.ok(["init", "m.ttc", "--preset", "gpt2-tiny", "--d-model", "16", "--heads", "2", "--d-ff", "32", "--layers", "2",
                "--context", "8"], in: dir)
        try CLIRunner.ok(["train", "m.ttc", "--steps", "3", "--data", "corpus.txt", "--quiet"], in: dir)
        let result = try CLIRunner.ok(["eval", "m.ttc", "--data", "valid.txt", "--json"], in: dir)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let loss = try #require(json["loss"] as? Double)
        let n = text.utf8.count
        #expect(json["tokens"] as? Int == n - 1)
        #expect(json["text_tokens"] as? Int == n)
        #expect(json["windows"] as? Int == (n - 1 + 7) / 8)
        #expect(abs((json["perplexity"] as? Double ?? 0) - exp(loss)) <= 1e-9 * exp(loss))

        let session = try TrainingSession(checkpoint: try TrainingSession.loadCheckpoint(path: dir.path("m.ttc")),
                                          maxBatchSize: 1, source: "m.ttc")
        let reference = ReferenceModel(copying: session.model)
        let tokens = Array(text.utf8).map(Int.init)
        var sum = 0.0
        var s = 0
        while s < n - 1 {
            let e = min(s + 8, n - 1)
            sum += reference.run(tokens: [Array(tokens[s..<e])], targets: [Array(tokens[(s + 1)...e])], gradients: false)
                .losses[0].reduce(0, +)
            s += 8
        }
        let expected = sum / Double(n - 1)
        #expect(abs(loss - expected) <= 1e-6 * expected, "eval \(loss) vs reference \(expected)")

        let one = try CLIRunner.ok(["eval", "m.ttc", "--data", "valid.txt", "--json", "--batch-size", "1"], in: dir)
        #expect(one.stdout == result.stdout)
        let plain = try CLIRunner.ok(["eval", "m.ttc", "--data", "valid.txt"], in: dir)
        #expect(plain.stdout.hasPrefix("loss \(String(format: "%.6f", loss))  perplexity "))
        #expect(plain.stdout.contains("(\(n - 1) tokens in \((n - 1 + 7) / 8) windows of up to 8)"))
    }

    /// Progress: nothing on stderr when it is not a terminal, unless --progress, which writes
    /// a line at every tenth of the windows and at the end; stdout is the same either way.
    @Test func evalProgressOnlyWhenAsked() throws {
        let dir = try TemporaryDirectory("gpt2-eval-progress")
        try dir.write("text.txt", String(repeating: tinyCorpus, count: 2))
        try CLIRunner.ok(["init", "m.ttc", "--preset", "gpt2-tiny", "--d-model", "16", "--heads", "2", "--d-ff", "32", "--layers", "1",
                "--context", "8"], in: dir)
        let quiet = try CLIRunner.ok(["eval", "m.ttc", "--data", "text.txt", "--batch-size", "2"], in: dir)
        let loud = try CLIRunner.run(["eval", "m.ttc", "--data", "text.txt", "--batch-size", "2", "--progress"], in: dir.url)
        #expect(loud.status == 0 && loud.stdout == quiet.stdout)
        let windows = (String(repeating: tinyCorpus, count: 2).utf8.count - 1 + 7) / 8
        let lines = loud.stderrLines
        #expect(lines.count >= 10 && lines.count <= 11, "\(loud.stderr)")
        #expect(lines.allSatisfy { $0.hasPrefix("eval: window ") })
        #expect(lines.last?.hasPrefix("eval: window \(windows)/\(windows)  loss ") == true)
    }

    /// `sample` writes the text token by token; what it writes is exactly the decoded prompt
    /// and continuation (here bytes that are often not valid UTF-8, and a prompt ending in a
    /// two-byte character), as the library generates it with the same options.
    @Test func sampleStreamsExactlyTheDecodedText() throws {
        let dir = try TemporaryDirectory("gpt2-sample")
        try CLIRunner.ok(["init", "m.ttc", "--preset", "gpt2-tiny", "--d-model", "16", "--heads", "2", "--d-ff", "32", "--layers", "1",
                "--context", "32"], in: dir)
        let prompt = "café"
        let result = try CLIRunner.ok(["sample", "m.ttc", "--prompt", prompt, "--tokens", "60", "--temperature", "1.5", "--seed", "9"], in: dir)
        let session = try TrainingSession(checkpoint: try TrainingSession.loadCheckpoint(path: dir.path("m.ttc")),
                                          maxBatchSize: 1, source: "m.ttc")
        var options = GenerationOptions()
        options.maxTokens = 60
        options.temperature = 1.5
        options.seed = 9
        let ids = try Vocabulary.bytes.encode(prompt, source: "prompt")
        let generated = Sampler.generate(model: session.model, vocabulary: .bytes, prompt: ids, options: options)
        #expect(generated.count == 60)
        // Printed escaped, line breaks kept (control bytes must not reach the terminal).
        #expect(result.stdout == TerminalText.escaped(Vocabulary.bytes.decode(ids + generated), keepingLineBreaks: true) + "\n")
    }

    @Test func initHelpListsTheGPT2PresetsAndTrainHelpTheNanoGPTDecay() throws {
        let dir = try TemporaryDirectory("gpt2-help")
        let help = try CLIRunner.ok(["init", "--help"], in: dir).stdout
        #expect(help.contains("gpt2-tiny") && help.contains("gpt2-124m") && help.contains("124,439,808"))
        let train = try CLIRunner.ok(["train", "--help"], in: dir).stdout
        #expect(train.contains("nanoGPT"))
        let created = try CLIRunner.ok(["init", "m.ttc", "--preset", "gpt2-tiny"], in: dir).stdout
        let c = ModelConfig.gpt2Tiny()
        #expect(created.contains("arch gpt2, V 256, D 64, H 4, F 256, L 2, T 64, \(ParameterLayout.parameterCount(c)) parameters"))
    }
}
