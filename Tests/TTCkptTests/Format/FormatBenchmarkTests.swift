import Foundation
import Testing
@testable import TTCore
@testable import TTFormat

/// The measurements behind the default compression level and the filter rule
/// (spec/FORMAT.md, "Choosing the defaults"). Not a correctness test: it runs only when
/// TTCKPT_FORMAT_BENCH=1, in a release build:
///   TTCKPT_FORMAT_BENCH=1 swift test -c release --filter FormatBenchmark
@Suite(.enabled(if: ProcessInfo.processInfo.environment["TTCKPT_FORMAT_BENCH"] == "1"))
struct FormatBenchmarkTests {
    /// A checkpoint shaped like a real one after a few steps: weights N(0, 0.02), biases 0,
    /// LayerNorm γ 1 β 0; AdamW moments after 5 steps of N(0, σ) gradients with σ drawn per
    /// tensor from [1e-4, 1e-2] (β1 0.9, β2 0.999, Float32 arithmetic as the engine's).
    static func realistic(_ config: ModelConfig) -> Checkpoint {
        var rng = PythonRandom(seed: 5)
        let layout = ParameterLayout(config: config)
        var params: [NamedTensor] = [], ms: [NamedTensor] = [], vs: [NamedTensor] = []
        for slot in layout.slots {
            let w: [Float]
            switch slot.kind {
            case .weight: w = (0..<slot.count).map { _ in Float(rng.gauss(mu: 0, sigma: 0.02)) }
            case .bias, .normBias: w = [Float](repeating: 0, count: slot.count)
            case .normGain: w = [Float](repeating: 1, count: slot.count)
            }
            let sigma = Float(1e-4 * pow(100, rng.random()))
            var m = [Float](repeating: 0, count: slot.count), v = m
            for _ in 0..<5 {
                for i in 0..<slot.count {
                    let g = sigma * Float(rng.gauss())
                    m[i] = 0.9 * m[i] + 0.1 * g
                    v[i] = 0.999 * v[i] + 0.001 * g * g
                }
            }
            params.append(NamedTensor(name: slot.name, role: .parameter, shape: slot.shape, values: w))
            ms.append(NamedTensor(name: "adam_m." + slot.name, role: .adamM, shape: slot.shape, values: m))
            vs.append(NamedTensor(name: "adam_v." + slot.name, role: .adamV, shape: slot.shape, values: v))
        }
        var t = TrainingState(rng: PythonRandom(seed: 5).state)
        t.step = 5
        t.lossHistory = [5.5, 5.4, 5.3, 5.2, 5.1]
        t.sessionStarts = [0]
        let vocab = Vocabulary(kind: .byte, tokens: (0..<config.vocabSize).map { "b\($0)" })
        return Checkpoint(config: config, vocabulary: vocab, training: t, tensors: params + ms + vs)
    }

    /// CPU seconds this thread spends in `body` (the machine is shared, so wall time would
    /// measure the neighbours); best of two runs.
    static func time(_ body: () throws -> Void) rethrows -> Double {
        func now() -> Double {
            var ts = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
            return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
        }
        var best = Double.infinity
        for _ in 0..<2 {
            let start = now()
            try body()
            best = min(best, now() - start)
        }
        return best
    }

    @Test(arguments: ["gpt-small", "gpt-medium"]) func levelAndFilterTable(shape: String) throws {
        // CPU time of the calling thread: keep threads at 1 here.
        let config = shape == "gpt-small" ? ModelConfig.gptSmall(vocabSize: 256) : ModelConfig.gptMedium()
        let c = Self.realistic(config)
        let raw = Double(c.tensors.reduce(0) { $0 + $1.values.count * 4 })
        var lines = ["\(shape): \(c.tensors.count) tensors, raw \(Int(raw)) bytes"]
        lines.append("level | filter | file bytes | ratio | write MB/s (1 thread) | read MB/s")
        for level: Int32 in [1, 2, 3, 4, 5, 6, 7, 8, 9] {
            for filter: BlobFilter? in [nil, BlobFilter.none, .shuffle] {
                if filter != nil && ![1, 6, 9].contains(level) { continue }
                var o = WriteOptions()
                o.level = level
                o.filter = filter
                var bytes: [UInt8] = []
                let w = try Self.time { bytes = try CheckpointWriter.encodedBytes(c, options: o) }
                let reader = try CheckpointReader(bytes: bytes, name: "bench")
                let r = try Self.time { _ = try reader.readCheckpoint() }
                let ratio = Double(bytes.count) / raw
                lines.append(String(format: "%d | %@ | %d | %.4f | %.1f | %.1f", level, filter?.label ?? "auto",
                                    bytes.count, ratio, raw / w / 1e6, raw / r / 1e6))
            }
        }
        // Per role at level 6: shuffle vs none.
        for role in [TensorRole.parameter, .adamM, .adamV] {
            var sizes: [String: Int] = [:]
            for filter in BlobFilter.allCases {
                var o = WriteOptions()
                o.filter = filter
                sizes[filter.label] = c.tensors.filter { $0.role == role }.reduce(0) {
                    $0 + CheckpointWriter.compressTensor($1.values, options: o).stored.count
                }
            }
            let rawRole = c.tensors.filter { $0.role == role }.reduce(0) { $0 + $1.values.count * 4 }
            lines.append(String(format: "role %@: raw %d, none %.4f, shuffle %.4f", role.label, rawRole,
                                Double(sizes["none"]!) / Double(rawRole), Double(sizes["shuffle"]!) / Double(rawRole)))
        }
        // A fresh model: moments all zero (as samples/tutorial-init.ttc has them).
        var fresh = c
        for i in fresh.tensors.indices where fresh.tensors[i].role != .parameter {
            fresh.tensors[i].values = [Float](repeating: 0, count: fresh.tensors[i].values.count)
        }
        for level: Int32 in [1, 6, 9] {
            var o = WriteOptions()
            o.level = level
            var bytes: [UInt8] = []
            let w = try Self.time { bytes = try CheckpointWriter.encodedBytes(fresh, options: o) }
            lines.append(String(format: "fresh (zero moments) level %d: %d bytes, ratio %.4f, %.1f MB/s", level, bytes.count,
                                Double(bytes.count) / raw, raw / w / 1e6))
        }
        print(lines.joined(separator: "\n"))
    }
}

/// Writes the fixture checkpoint to $TTCKPT_FORMAT_SAMPLE (for checking the spec with an
/// independent reader and `file -m spec/ttc.magic`); runs only when the variable is set.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["TTCKPT_FORMAT_SAMPLE"] != nil))
struct FormatSampleDump {
    @Test func writeSample() throws {
        let path = ProcessInfo.processInfo.environment["TTCKPT_FORMAT_SAMPLE"]!
        try CheckpointWriter.write(FormatFixtures.checkpoint(), to: path)
        var other = FormatFixtures.checkpoint(steps: 0, gaussCached: false, withData: false)
        other.tensors.append(NamedTensor(name: "extra.scalar", role: .other, shape: [], values: [42]))
        try CheckpointWriter.write(other, to: path + ".2")
    }
}
