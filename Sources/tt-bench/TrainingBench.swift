import CKernels
import TTCore
import TTEngine

/// Training throughput of tt-ckpt's engine and of the peers, one table.
enum TrainingBench {
    /// Times `forward`, `backward` and `applyAdamW` separately over whole steps, after
    /// `warmup` untimed steps, for at least `seconds` in `trials` trials; reports the best trial.
    static func measure(_ preset: BenchPreset, threads: Int, seconds: Double, warmup: Int = 5, trials: Int = 3) -> Throughput {
        let model = Model(config: preset.config, maxBatchSize: preset.batchSize)
        var rng = PythonRandom(seed: 42)
        model.initializeWeights(rng: &rng)
        model.threadCount = threads
        let batch = preset.batch()
        let optimizer = AdamWConfig()
        var step = 0
        for _ in 0..<warmup {
            step += 1
            _ = model.trainStep(batch, optimizer: optimizer, step: step)
        }
        // Best of `trials` timed trials (each at least seconds/trials and 3 steps): on a
        // shared machine the fastest trial is the one least disturbed by other jobs.
        var best: (perStep: Double, fwd: Double, bwd: Double, opt: Double)? = nil
        for _ in 0..<trials {
            var fwd = 0.0, bwd = 0.0, opt = 0.0, steps = 0
            let start = now()
            repeat {
                step += 1
                let t0 = now()
                _ = model.forward(batch)
                let t1 = now()
                model.backward()
                let t2 = now()
                _ = model.applyAdamW(optimizer, step: step)
                let t3 = now()
                fwd += t1 - t0
                bwd += t2 - t1
                opt += t3 - t2
                steps += 1
            } while now() - start < seconds / Double(trials) || steps < 3
            let n = Double(steps)
            let perStep = (now() - start) / n
            if best == nil || perStep < best!.perStep { best = (perStep, fwd / n, bwd / n, opt / n) }
        }
        let b = best!
        return Throughput(threads: threads, stepsPerSecond: 1 / b.perStep,
                          tokensPerSecond: Double(preset.tokensPerStep) / b.perStep,
                          gflops: preset.flopsPerStep / b.perStep / 1e9,
                          forwardMs: b.fwd * 1e3, backwardMs: b.bwd * 1e3, optimizerMs: b.opt * 1e3)
    }

    /// Where the tutorial's step goes, and the part of it the divider alone sets: AdamW
    /// takes one square root and one division per parameter (exact, as torch.optim.AdamW
    /// computes them), timed here with `ck_sqrt_div_peak`; and what the issue-15 ratios
    /// (500× PyTorch, 60× JAX) would need against this run's peers.
    static func tutorialFloor(_ preset: BenchPreset, _ m: Throughput, threads: Int, peers: [String: PeerResult]) -> String {
        let parameters = Model(config: preset.config, maxBatchSize: preset.batchSize).layout.totalCount
        let ns = PeakBench.sqrtDivNanoseconds()
        var line = "Tutorial, \(threads) thread\(threads == 1 ? "" : "s"): a step takes \(fmt(1e6 / m.stepsPerSecond, 2)) µs "
            + "(forward \(fmt(m.forwardMs * 1e3, 2)), backward \(fmt(m.backwardMs * 1e3, 2)), AdamW \(fmt(m.optimizerMs * 1e3, 2)) µs, "
            + "each timed with two clock reads). AdamW's square root and division for each of the \(parameters) parameters "
            + "alone take \(fmt(Double(parameters) * ns / 1e3, 2)) µs at the divider's throughput measured now "
            + "(\(fmt(ns, 3)) ns per parameter, ck_sqrt_div_peak)."
        var needs: [String] = []
        if let t = peers["torch"] { needs.append("500× PyTorch (\(fmt(t.figures.stepsPerSecond, 1)) steps/s) needs a step of \(fmt(1e6 / (500 * t.figures.stepsPerSecond), 2)) µs") }
        if let j = peers["jax"] { needs.append("60× JAX (\(fmt(j.figures.stepsPerSecond, 1)) steps/s) \(fmt(1e6 / (60 * j.figures.stepsPerSecond), 2)) µs") }
        if !needs.isEmpty { line += " In this run " + needs.joined(separator: ", ") + "." }
        return line
    }

    /// The peers of the training table: label, script, module, environment changes.
    /// PyTorch runs twice: with its default threading (the headline) and with
    /// OMP_WAIT_POLICY=PASSIVE (its OpenMP threads sleep instead of spinning: slower on an
    /// idle machine, steadier on a busy one).
    static let peerRuns: [(label: String, peer: String, module: String, env: [String: String?])] = [
        ("torch", "torch", "torch", ["OMP_WAIT_POLICY": nil]),
        ("torch PASSIVE", "torch", "torch", ["OMP_WAIT_POLICY": "PASSIVE"]),
        ("jax", "jax", "jax", [:]),
    ]

    static func run(presets: [BenchPreset], seconds: Double, threadCounts: [Int], peers: PeerRunner?,
                    peak: PeakBench.Peak) -> String {
        var out = ""
        var peerResults: [String: [String: PeerResult]] = [:]   // preset -> label -> result
        var peerNotes: [String] = []
        let peerThreads = threadCounts.max() ?? 2
        if let peers {
            for run in peerRuns {
                switch peers.run(peer: run.peer, module: run.module, presets: presets.map(\.name), seconds: seconds,
                                 threads: peerThreads, environment: run.env) {
                case .measured(let results):
                    for r in results { peerResults[r.preset, default: [:]][run.label] = r }
                    if run.label != "torch PASSIVE", let v = results.first?.version { peerNotes.append("\(run.peer) \(v)") }
                case .notInstalled(let why): peerNotes.append("\(run.label): \(why)")
                case .failed(let why): peerNotes.append("\(run.label): failed: \(why)")
                }
            }
        } else {
            peerNotes.append("peers skipped (--no-peers)")
        }
        let labels = peerRuns.map(\.label)
        var table = Table("Training: one AdamW step per iteration (B·T tokens); GFLOP/s by 6·(matmul weights) + 6·L·D·(T+1) per token; % of the FMA peak measured above for the same thread count",
                          headers: ["preset", "impl", "threads", "steps/s", "tokens/s", "GFLOP/s", "% of peak",
                                    "fwd ms", "bwd ms", "opt ms"] + labels.map { "vs \($0)" })
        func percent(_ gflops: Double, threads: Int) -> String {
            guard let p = peak.of(threads: threads), p > 0 else { return "-" }
            return fmt(100 * gflops / p, 0) + "%"
        }
        var notes: [String] = []
        for preset in presets {
            let peersHere = peerResults[preset.name] ?? [:]
            func ratio(_ ours: Double, _ label: String) -> String {
                guard let p = peersHere[label] else { return "-" }
                return fmt(ours / p.figures.tokensPerSecond, 2) + "x"
            }
            for threads in threadCounts {
                let m = measure(preset, threads: threads, seconds: seconds)
                if preset.name == "tutorial", threads == threadCounts.min() {
                    notes.append(tutorialFloor(preset, m, threads: threads, peers: peersHere))
                }
                table.add([preset.name, "tt-ckpt", "\(threads)", fmt(m.stepsPerSecond, 1), fmt(m.tokensPerSecond, 0),
                           fmt(m.gflops, 1), percent(m.gflops, threads: threads), fmt(m.forwardMs, 3), fmt(m.backwardMs, 3),
                           fmt(m.optimizerMs, 3)] + labels.map { ratio(m.tokensPerSecond, $0) })
            }
            for label in labels {
                if let p = peersHere[label] {
                    // GFLOP/s recomputed with this table's count from the peer's tokens/s.
                    let gflops = p.figures.tokensPerSecond * preset.flopsPerToken / 1e9
                    let threads = p.figures.threads
                    table.add([preset.name, label, "\(threads)", fmt(p.figures.stepsPerSecond, 1), fmt(p.figures.tokensPerSecond, 0),
                               fmt(gflops, 1), percent(gflops, threads: min(max(threads, 1), peerThreads)),
                               fmt(p.figures.forwardMs, 3), fmt(p.figures.backwardMs, 3), fmt(p.figures.optimizerMs, 3)]
                              + labels.map { _ in "" })
                } else {
                    table.add([preset.name, label, "-", "not measured"] + Array(repeating: "", count: 6 + labels.count))
                }
            }
        }
        out += table.render()
        for note in notes { out += "\n" + note + "\n" }
        out += "\nPeers: " + peerNotes.joined(separator: "; ") + "\n"
        if let rss = peakRSSBytes() { out += "Peak RSS of tt-bench so far: \(fmt(Double(rss) / 1_048_576, 1)) MiB\n" }
        return out
    }
}
