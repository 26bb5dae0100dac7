import Foundation
import TTCore
import TTEngine
import TTFormat
import TTTraining

/// The whole command a user runs, not only the writer: `tt-ckpt train m.ttc --steps 1 -o
/// o.ttc` on a medium checkpoint with AdamW state (load, one step, save), timed as a child
/// process, against one step alone and against torch.load + torch.save + fsync of the same
/// tensors (io_peer.py's `torch_cycle`).
enum CommandBench {
    /// The tt-ckpt executable built next to this tt-bench, if any.
    static func ttCkptPath() -> String? {
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let candidate = me.deletingLastPathComponent().appendingPathComponent("tt-ckpt").path
        return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
    }

    static func run(directory: String, threads: Int, trials: Int, peerCycle: Double?, peers: PeerRunner?) -> String {
        guard let tool = ttCkptPath() else {
            return "Whole command: tt-ckpt is not built next to tt-bench (swift build -c release builds both).\n"
        }
        let runner = peers ?? PeerRunner(directory: PeerRunner.defaultDirectory())
        let dir = directory + "/tt-bench-command-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let corpus = dir + "/corpus.txt", model = dir + "/m.ttc", out = dir + "/o.ttc"
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            // 200 kB of printable bytes from the benchmark LCG.
            var state: UInt64 = 7
            var text = [UInt8]()
            for _ in 0..<200_000 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                text.append(UInt8(32 + (state >> 33) % 95))
            }
            try Data(text).write(to: URL(fileURLWithPath: corpus))
        } catch { return "Whole command: setup failed: \(error)\n" }
        for argv in [["init", model, "--preset", "gpt-medium", "--data", corpus],
                     ["train", model, "--data", corpus, "--steps", "3", "--batch-size", "8", "--quiet", "--threads", "\(threads)"]] {
            let r = runner.launch([tool] + argv)
            guard r.status == 0 else { return "Whole command: `tt-ckpt \(argv.joined(separator: " "))` failed: \(r.stderr)\n" }
        }
        let rawBytes = (try? CheckpointReader(path: model))?.entries.reduce(0) { $0 + Int($1.rawLength) } ?? 0
        var table = Table("Whole command: `tt-ckpt train m.ttc --data corpus.txt --steps 1 -o o.ttc --threads \(threads)` on medium with AdamW state (\(fmt(Double(rawBytes) / 1e6, 1)) MB raw), a child process, best of \(trials)",
                          headers: ["what", "seconds", "vs torch cycle"])
        func best(_ argv: [String]) -> Double? {
            var best = Double.infinity
            for _ in 0..<trials {
                let start = now()
                let r = runner.launch([tool] + argv)
                guard r.status == 0 else { return nil }
                best = min(best, now() - start)
            }
            return best
        }
        func vs(_ s: Double) -> String { peerCycle.map { fmt(s / $0, 2) + "x" } ?? "-" }
        for mode in ["fast", "small", "none"] {
            let argv = ["train", model, "--data", corpus, "--steps", "1", "-o", out, "--force", "--quiet", "--threads", "\(threads)",
                        "--compression", mode]
            if let s = best(argv) {
                table.add(["train --steps 1 -o, --compression \(mode)\(mode == "fast" ? " (default)" : "")", fmt(s, 3), vs(s)])
            } else {
                table.add(["train --steps 1 -o, --compression \(mode)", "failed", ""])
            }
        }
        // One step alone, in process, on the same shape (B 8, T 128).
        let preset = BenchPreset.all.first { $0.name == "medium" }!
        let step = TrainingBench.measure(preset, threads: threads, seconds: 1, warmup: 2, trials: 2)
        table.add(["of which one training step (in process)", fmt(1 / step.stepsPerSecond, 3), ""])
        if let peerCycle {
            table.add(["torch.load + torch.save + fsync of the same tensors", fmt(peerCycle, 3), "1.00x"])
        }
        return table.render()
    }
}
