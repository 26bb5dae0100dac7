import Foundation
import TTCore
import TTEngine
import TTTraining

/// Generation as `tt-ckpt sample --temperature 0` runs it (`Sampler.generate`, batch 1,
/// greedy), against PyTorch peers on the same shapes: an eager KV-cached greedy loop for the
/// gpt arch (gpt_generate_peer.py) and transformers' `generate` for GPT-2 124M
/// (generate_peer.py). Weights are seeded random draws on both sides: the cost does not
/// depend on their values.
enum GenerationBench {
    struct Case {
        var label: String
        var config: ModelConfig
        var promptTokens: Int
        var newTokens: Int
        /// The peer script and its arguments.
        var peer: [String]
    }

    struct Timing {
        var ttftMs: Double
        var decodeTokensPerSecond: Double?
        var tokensPerSecond: Double
    }

    static func lcg(_ n: Int, vocab: Int, seed: UInt64 = 1234) -> [Int32] {
        var state = seed
        return (0..<n).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int32((state >> 33) % UInt64(vocab))
        }
    }

    /// Best of `trials` (after one warm-up) of a greedy generation of `newTokens` after a
    /// prompt of `promptTokens`, timed per token from the start of the call.
    static func measure(_ c: Case, threads: Int, trials: Int) -> Timing {
        let model = Model(config: c.config, maxBatchSize: 1)
        var rng = PythonRandom(seed: 42)
        model.initializeWeights(rng: &rng)
        model.threadCount = threads
        let vocabulary = Vocabulary.bench(size: c.config.vocabSize)
        let prompt = lcg(c.promptTokens, vocab: c.config.vocabSize)
        var options = GenerationOptions()
        options.temperature = 0
        options.maxTokens = c.newTokens
        options.stopAtEOS = false
        var best: Timing? = nil
        for trial in 0...trials {
            var times: [Double] = []
            times.reserveCapacity(c.newTokens)
            let start = now()
            _ = Sampler.generate(model: model, vocabulary: vocabulary, prompt: prompt, options: options) { _ in
                times.append(now())
                return true
            }
            let end = now()
            if trial == 0 { continue }   // warm-up
            let t = Timing(ttftMs: (times[0] - start) * 1e3,
                           decodeTokensPerSecond: times.count > 1 ? Double(times.count - 1) / (times[times.count - 1] - times[0]) : nil,
                           tokensPerSecond: Double(times.count) / (end - start))
            if best == nil {
                best = t
            } else {
                best!.ttftMs = min(best!.ttftMs, t.ttftMs)
                best!.tokensPerSecond = max(best!.tokensPerSecond, t.tokensPerSecond)
                if let d = t.decodeTokensPerSecond { best!.decodeTokensPerSecond = max(best!.decodeTokensPerSecond ?? 0, d) }
            }
        }
        return best!
    }

    static func cases() -> [Case] {
        let small = ModelConfig.gptSmall(vocabSize: 65)
        var list = [
            // The cache never slides: prompt + new − 1 ≤ T = 64.
            Case(label: "gpt-small, prompt 8, 56 new", config: small, promptTokens: 8, newTokens: 56,
                 peer: ["gpt_generate_peer.py", "--preset", "small", "--prompt-tokens", "8", "--new-tokens", "56"]),
            Case(label: "gpt-small, prompt 64, first token", config: small, promptTokens: 64, newTokens: 1,
                 peer: ["gpt_generate_peer.py", "--preset", "small", "--prompt-tokens", "64", "--new-tokens", "1"]),
        ]
        if let gpt2 = gpt2Config {
            list.append(Case(label: "gpt2-124m, prompt 64, 64 new", config: gpt2, promptTokens: 64, newTokens: 64,
                             peer: ["generate_peer.py", "--random", "gpt2-124m", "--prompt-tokens", "64", "--new-tokens", "64"]))
        }
        return list
    }

    /// GPT-2 124M's shape, when this build has the gpt2 arch.
    static var gpt2Config: ModelConfig? {
        guard let arch = Architecture(rawValue: "gpt2") else { return nil }
        return ModelConfig(arch: arch, vocabSize: 50257, dModel: 768, nHeads: 12, dFF: 3072, nLayers: 12, context: 1024)
    }

    static func run(threads: Int, trials: Int, peers: PeerRunner?) -> String {
        var table = Table("Generation: greedy, batch 1, \(threads) threads (`Sampler.generate` as `sample --temperature 0` runs it); best of \(trials) after a warm-up",
                          headers: ["model", "impl", "first token ms", "decode tokens/s", "tokens/s", "vs PyTorch (tokens/s)"])
        var notes: [String] = []
        for c in cases() {
            let ours = measure(c, threads: threads, trials: trials)
            var theirs: Timing? = nil
            var peerLabel = c.peer[0] == "generate_peer.py" ? "transformers generate" : "PyTorch KV-cached loop"
            if let peers {
                let args = [peers.directory + "/" + c.peer[0]] + Array(c.peer.dropFirst()) + ["--trials", "\(trials)"]
                switch peers.runJSON(args, environment: ["OMP_WAIT_POLICY": nil]) {
                case .success(let j):
                    theirs = Timing(ttftMs: j["ttft_ms"] as? Double ?? .nan, decodeTokensPerSecond: j["decode_tokens_per_s"] as? Double,
                                    tokensPerSecond: j["tokens_per_s"] as? Double ?? .nan)
                    if let v = j["transformers"] as? String { peerLabel += " (transformers \(v))" }
                case .failure(let e):
                    notes.append("\(c.label): \(peerLabel) not measured: \(e)")
                }
            }
            func cells(_ t: Timing) -> [String] {
                [fmt(t.ttftMs, 1), t.decodeTokensPerSecond.map { fmt($0, 1) } ?? "-", fmt(t.tokensPerSecond, 1)]
            }
            let ratio = theirs.map { fmt(ours.tokensPerSecond / $0.tokensPerSecond, 2) + "x" } ?? "-"
            table.add([c.label, "tt-ckpt"] + cells(ours) + [ratio])
            if let theirs { table.add([c.label, peerLabel] + cells(theirs) + [""]) }
        }
        if gpt2Config == nil { notes.append("gpt2-124m: this build has no gpt2 arch") }
        return table.render() + (notes.isEmpty ? "" : "\n" + notes.joined(separator: "\n") + "\n")
    }
}
