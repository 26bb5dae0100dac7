import ArgumentParser
import Foundation
import TTCore
import TTTokenizer
import TTTraining

extension TTCkpt {
    struct Sample: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate text from a checkpoint's model.",
            discussion: """
                The prompt is tokenized with the checkpoint's own tokenizer (in
                a word vocabulary "<BOS>" is a token); without --prompt it is
                <BOS> when the vocabulary has one. Prints the prompt and its
                continuation, which stops after <EOS> (if the vocabulary has
                it) or after --tokens tokens; each token is written as soon as
                it is chosen. Up to T tokens the model keeps the keys and
                values of earlier positions (a KV cache) and runs one new
                position per token, reading a copy of the weights laid out for
                that (it costs memory about the size of the parameters); past T
                it sees the last T, recomputed for each token. --temperature 0
                is greedy (the same tokens as the full logits' argmax, found
                from a half-precision copy of the head and a few exact rows,
                which costs memory half the head's size); otherwise tokens are drawn
                from softmax(logits / temperature), among the --top-k most
                likely if given, by a generator seeded with --seed.

                If stdout is closed (a pipe whose reader exited, `| head -c
                50`), generation stops at once, quietly, and the exit status is
                0. A model holding a NaN or infinite parameter (training
                diverged) is refused.

                Example:
                  tt-ckpt init model.ttc
                  tt-ckpt train model.ttc --steps 1000 --quiet
                  tt-ckpt sample model.ttc --prompt "<BOS>" --temperature 0
                  # prints: <BOS> I like transformers <EOS>
                """
        )

        @Argument(help: ArgumentHelp("The checkpoint to sample from.", valueName: "ckpt"))
        var checkpoint: String
        @Option(help: "Text to continue (default: <BOS>).")
        var prompt: String?
        @Option(help: "Tokens to generate at most.")
        var tokens: Int = 100
        @Option(help: "Softmax temperature; 0 = greedy.")
        var temperature: Double = 1.0
        @Option(name: .customLong("top-k"), help: "Sample among the K most likely tokens; 0 = all.")
        var topK: Int = 0
        @Option(help: "Seed of the sampling generator.")
        var seed: UInt64 = 42

        func validate() throws {
            guard (1...1_000_000).contains(tokens) else { throw InputError("--tokens", "must be in 1...1000000, got \(tokens)") }
            guard temperature.isFinite, temperature >= 0, temperature <= 100 else {
                throw InputError("--temperature", "must be in [0, 100], got \(temperature)")
            }
            guard topK >= 0 else { throw InputError("--top-k", "must be ≥ 0, got \(topK)") }
        }

        func run() throws {
            let stored = try loadCheckpoint(checkpoint)
            let session = try TrainingSession(checkpoint: stored, maxBatchSize: 1, source: checkpoint)
            let vocabulary = session.vocabulary
            var ids: [Int32]
            if let prompt {
                ids = try vocabulary.encode(prompt, source: "--prompt")
            } else {
                ids = vocabulary.bosID.map { [Int32($0)] } ?? []
            }
            guard !ids.isEmpty else {
                throw InputError("--prompt", prompt == nil ? "required: this vocabulary has no <BOS> to start from" : "has no tokens")
            }
            var options = GenerationOptions()
            options.maxTokens = tokens
            options.temperature = temperature
            options.topK = topK
            options.seed = seed
            // The text as it is made: the pieces add up to vocabulary.decode(ids + generated). The
            // text's own line breaks stay; escape sequences and bidi controls in tokens do not
            // reach the terminal (escaping is per scalar, and pieces end on whole scalars).
            // A closed stdout (`| head -c 50`) stops generation quietly, with exit status 0.
            StandardOutput.ignoreBrokenPipe()
            var open = true
            func write(_ text: String) -> Bool {
                if open && !text.isEmpty { open = StandardOutput.write(TerminalText.escaped(text, keepingLineBreaks: true)) }
                return open
            }
            var stream = StreamingDecoder(vocabulary: vocabulary)
            if write(ids.map { stream.push($0) }.joined()) {
                Sampler.generate(model: session.model, vocabulary: vocabulary, prompt: ids, options: options,
                                 onToken: { write(stream.push($0)) })
            }
            _ = write(stream.finish() + "\n")
        }
    }
}
