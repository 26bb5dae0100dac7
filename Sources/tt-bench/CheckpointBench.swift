import CZlib
import TTCkpt

/// Checkpoint I/O on a medium checkpoint with AdamW state, against raw zlib on the same
/// bytes at the same level, in the same run.
enum CheckpointBench {
    /// Flip to true once the .ttc reader/writer (issue 3) is merged.
    static let formatAvailable = false

    /// The medium model's parameters, m and v as one Float buffer. Until the engine is
    /// merged these are synthetic: weights N(0, 0.02) from PythonRandom, m and v small
    /// values derived from them. TODO(after engine merge): train a few steps and use the
    /// real state.
    static func mediumState() -> [Float] {
        let layout = ParameterLayout(config: .gptMedium())
        var rng = PythonRandom(seed: 42)
        var params = [Float](repeating: 0, count: layout.totalCount)
        for slot in layout.slots {
            for i in slot.offset..<(slot.offset + slot.count) {
                switch slot.kind {
                case .weight: params[i] = Float(rng.gauss(mu: 0, sigma: 0.02))
                case .normGain: params[i] = 1
                default: params[i] = 0
                }
            }
        }
        let m = params.map { $0 * 0.01 }
        let v = params.map { $0 * $0 * 1e-3 }
        return params + m + v
    }

    /// One-shot zlib compress2 / uncompress timings (single thread) of `data`.
    static func rawZlib(_ data: [Float], level: Int32, seconds: Double) -> (compressMBs: Double, inflateMBs: Double, ratio: Double) {
        let rawBytes = data.count * 4
        var bound = compressBound(uLong(rawBytes))
        var compressed = [UInt8](repeating: 0, count: Int(bound))
        var storedLength = 0
        let tc = bestTimePerCall(minSeconds: seconds, trials: 3) {
            bound = uLong(compressed.count)
            data.withUnsafeBytes { src in
                compressed.withUnsafeMutableBytes { dst in
                    let rc = compress2(dst.baseAddress!.assumingMemoryBound(to: Bytef.self), &bound,
                                       src.baseAddress!.assumingMemoryBound(to: Bytef.self), uLong(rawBytes), level)
                    precondition(rc == Z_OK, "compress2 failed: \(rc)")
                }
            }
            storedLength = Int(bound)
        }
        var restored = [UInt8](repeating: 0, count: rawBytes)
        let ti = bestTimePerCall(minSeconds: seconds, trials: 3) {
            var outLength = uLong(rawBytes)
            compressed.withUnsafeBytes { src in
                restored.withUnsafeMutableBytes { dst in
                    let rc = uncompress(dst.baseAddress!.assumingMemoryBound(to: Bytef.self), &outLength,
                                        src.baseAddress!.assumingMemoryBound(to: Bytef.self), uLong(storedLength))
                    precondition(rc == Z_OK, "uncompress failed: \(rc)")
                }
            }
        }
        let mb = Double(rawBytes) / 1e6
        return (mb / tc, mb / ti, Double(storedLength) / Double(rawBytes))
    }

    static func run(seconds: Double, level: Int32 = 6) -> String {
        let state = mediumState()
        let raw = rawZlib(state, level: level, seconds: seconds)
        var table = Table("Checkpoint I/O: medium with AdamW state (\(fmt(Double(state.count * 4) / 1e6, 1)) MB raw), zlib level \(level)",
                          headers: ["operation", "threads", "MB/s", "stored/raw", "vs raw zlib"])
        table.add(["raw zlib compress2 (same bytes)", "1", fmt(raw.compressMBs, 1), fmt(raw.ratio, 3), "1.00x"])
        table.add(["raw zlib uncompress (same bytes)", "1", fmt(raw.inflateMBs, 1), "", "1.00x"])
        if formatAvailable {
            // TODO(after format merge): CheckpointWriter.write with 1 and 2 threads, with and
            // without the shuffle filter; CheckpointReader.readCheckpoint; ratios to the rows above.
        } else {
            table.add(["tt-ckpt save / load", "-", "format not merged yet", "", ""])
        }
        var out = table.render()
        if !TrainingBench.engineAvailable {
            out += "\nState is synthetic (N(0, 0.02) weights, derived m and v) until the engine is merged.\n"
        }
        return out
    }
}
