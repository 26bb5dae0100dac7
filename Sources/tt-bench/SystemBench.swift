import Foundation
import TTCore
import TTEngine
import TTTraining

/// Background-save stall, peak memory, and the bit-identity checks.
enum SystemBench {
    static var medium: BenchPreset { BenchPreset.all.first { $0.name == "medium" }! }

    /// A fresh medium session on synthetic byte data (same LCG as the batches).
    static func mediumSession() throws -> (TrainingSession, TrainingData) {
        let preset = medium
        let config = preset.config
        let vocabulary = Vocabulary.bench(size: config.vocabSize)
        var state: UInt64 = 99
        var tokens: [Int32] = []
        for _ in 0..<20_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            tokens.append(Int32((state >> 33) % UInt64(config.vocabSize)))
        }
        let identity = DataIdentity(name: "bench", byteCount: tokens.count, tokenCount: tokens.count, sha256: String(repeating: "0", count: 64))
        let data = TrainingData(identity: identity, tokens: tokens)
        let initial = try TrainingSession.initialCheckpoint(config: config, vocabulary: vocabulary, seed: 42, data: identity)
        let session = try TrainingSession(checkpoint: initial, maxBatchSize: preset.batchSize, source: "bench")
        session.beginRun(optimizer: AdamWConfig(), batchSize: preset.batchSize, data: identity)
        return (session, data)
    }

    /// Times a run of `steps` medium steps with a periodic save every `saveEvery`:
    /// `steps` is the time to the end of the last step, `total` the whole `Trainer.run`,
    /// which includes waiting for a background save to finish and the final save.
    static func timedRun(steps: Int, saveEvery: Int, background: Bool, directory: String) throws -> (steps: Double, total: Double) {
        let (session, data) = try mediumSession()
        var options = TrainerOptions(steps: steps, outputPath: directory + "/stall-\(getpid()).ttc")
        options.saveEvery = saveEvery
        options.keep = 0
        options.backgroundSaves = background
        options.writeOptions.threads = 1
        defer { unlink(options.outputPath) }
        var end = 0.0
        let start = now()
        _ = try Trainer.run(session, data: data, options: options, onStep: { p in
            if p.stepsDone == steps { end = now() }
        })
        return (end - start, now() - start)
    }

    /// The cost of periodic saving on medium as `train --save-every 50` does it: 100 steps
    /// with a save at step 50, against 100 steps without, both ending with the same final
    /// save. The extra wall time (a background save's compression competing with training,
    /// and any wait for it to finish) is divided by the time of 50 steps.
    static func stall(quick: Bool, directory: String) -> String {
        let steps = quick ? 20 : 100, every = steps / 2, reps = quick ? 1 : 2
        var best: [String: (steps: Double, total: Double)] = [:]
        do {
            for _ in 0..<reps {
                for (label, saveEvery, background) in [("none", 0, true), ("background", every, true), ("foreground", every, false)] {
                    let t = try timedRun(steps: steps, saveEvery: saveEvery, background: background, directory: directory)
                    if t.total < best[label]?.total ?? .infinity { best[label] = t }
                }
            }
        } catch { return "save stall bench failed: \(error)\n" }
        let base = best["none"]!, perStep = base.steps / Double(steps)
        var table = Table("Checkpoint stall: medium, \(steps) steps with a periodic save at step \(every) (--save-every \(every)), best of \(reps)",
                          headers: ["saving", "run s (incl. final save)", "extra s per periodic save", "cost per \(every) steps"])
        table.add(["no periodic save", fmt(base.total, 2), "", ""])
        for label in ["background", "foreground"] {
            let extra = best[label]!.total - base.total
            table.add([label, fmt(best[label]!.total, 2), fmt(extra, 3), fmt(100 * extra / (Double(every) * perStep), 1) + "%"])
        }
        return table.render() + "\nOne medium step: \(fmt(perStep * 1e3, 0)) ms here. Background saves compress on one thread of their own at nice 19.\n"
    }

    /// Peak RSS of a process that only trains medium for a few steps (this binary run with
    /// `--memory-probe`), against params + grads + m + v + activations. Run it before the
    /// other sections: Linux keeps ru_maxrss across exec, so the child's ru_maxrss is at
    /// least the parent's peak at spawn time (VmHWM is the child's own).
    static func memory() -> String {
        let preset = medium
        let n = ParameterLayout.parameterCount(preset.config)
        let acts = Model.activationCount(config: preset.config, maxBatchSize: preset.batchSize)
        let budget = Double(4 * n + acts) * 4
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        if !FileManager.default.fileExists(atPath: process.executableURL!.path) {
            process.executableURL = Bundle.main.executableURL
        }
        process.arguments = ["--memory-probe"]
        let pipe = Pipe()
        process.standardOutput = pipe
        var hwm = "?", maxrss = "?"
        do {
            try process.run()
            let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            let parts = out.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            if parts.count == 2 { hwm = fmt(parts[0] / 1_048_576, 1); maxrss = fmt(parts[1] / 1_048_576, 1) }
            var table = Table("Memory: training medium (B \(preset.batchSize), T \(preset.config.context)) in a fresh process",
                              headers: ["quantity", "MiB"])
            table.add(["params + grads + m + v (4 × \(n) floats)", fmt(Double(16 * n) / 1_048_576, 1)])
            table.add(["activations and scratch (\(acts) floats)", fmt(Double(4 * acts) / 1_048_576, 1)])
            table.add(["sum (the budget's unit)", fmt(budget / 1_048_576, 1)])
            table.add(["peak RSS, VmHWM", hwm])
            table.add(["peak RSS, ru_maxrss", maxrss])
            if parts.count == 2 { table.add(["VmHWM / sum (target ≤ 2)", fmt(parts[0] / budget, 2) + "x"]) }
            return table.render()
        } catch {
            return "memory probe failed: \(error)\n"
        }
    }

    /// What `--memory-probe` runs: train medium 3 steps, print VmHWM and ru_maxrss bytes.
    static func memoryProbe() {
        let preset = medium
        let model = Model(config: preset.config, maxBatchSize: preset.batchSize)
        var rng = PythonRandom(seed: 42)
        model.initializeWeights(rng: &rng)
        let batch = preset.batch()
        for t in 1...3 { _ = model.trainStep(batch, optimizer: AdamWConfig(), step: t) }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        print("\(peakRSSBytes() ?? 0) \(usage.ru_maxrss * 1024)")
    }

    /// 1 vs 2 threads on small (3 steps, every buffer bit for bit) and background vs
    /// foreground saving (tutorial, every file byte for byte).
    static func identity(directory: String) -> String {
        let small = BenchPreset.all.first { $0.name == "small" }!
        func train(_ threads: Int) -> [UInt32] {
            let model = Model(config: small.config, maxBatchSize: small.batchSize)
            model.threadCount = threads
            var rng = PythonRandom(seed: 42)
            model.initializeWeights(rng: &rng)
            let batch = small.batch()
            for t in 1...3 { _ = model.trainStep(batch, optimizer: AdamWConfig(), step: t) }
            return (Array(model.parameters) + Array(model.adamM) + Array(model.adamV)).map(\.bitPattern)
        }
        let threadsSame = train(1) == train(2)
        func saveRun(background: Bool) throws -> [[UInt8]] {
            let dir = directory + "/tt-bench-identity-\(getpid())-\(background)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let checkpoint = try TrainingSession.initialCheckpoint(config: .tutorial, vocabulary: .tutorial, seed: 42,
                                                                   data: TrainingData.tutorial().identity)
            let session = try TrainingSession(checkpoint: checkpoint, maxBatchSize: 1, source: "bench")
            session.beginRun(optimizer: AdamWConfig(), batchSize: 1, data: TrainingData.tutorial().identity)
            var options = TrainerOptions(steps: 200, outputPath: dir + "/m.ttc")
            options.saveEvery = 7
            options.backgroundSaves = background
            _ = try Trainer.run(session, data: .tutorial(), options: options)
            return try FileManager.default.contentsOfDirectory(atPath: dir).sorted().map {
                [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/" + $0)))
            }
        }
        let savesSame = (try? saveRun(background: true) == saveRun(background: false)) ?? false
        return "Bit identity: small, 3 steps, params+m+v with 1 vs 2 threads: \(threadsSame ? "identical" : "DIFFERENT"); "
            + "tutorial 200 steps --save-every 7, every file with background vs foreground saves: \(savesSame ? "identical" : "DIFFERENT")\n"
    }
}
