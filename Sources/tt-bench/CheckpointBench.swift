import CZlib
import Foundation
import TTCore
import TTFormat
import TTTraining

/// Checkpoint I/O on a medium checkpoint with AdamW state, against raw zlib on the same
/// bytes at the same level, in the same run.
enum CheckpointBench {
    /// A medium checkpoint after `steps` real training steps (weights and both moments).
    static func mediumCheckpoint(steps: Int = 3) throws -> Checkpoint {
        let preset = BenchPreset.all.first { $0.name == "medium" }!
        let config = preset.config
        let vocabulary = Vocabulary(kind: .byte, tokens: (0..<config.vocabSize).map { String(format: "%02x", $0) })
        let initial = try TrainingSession.initialCheckpoint(config: config, vocabulary: vocabulary, seed: 42, data: nil)
        let session = try TrainingSession(checkpoint: initial, maxBatchSize: preset.batchSize, source: "bench")
        let batch = preset.batch()
        for t in 1...steps {
            let r = session.model.trainStep(batch, optimizer: AdamWConfig(), step: t)
            session.state.lossHistory.append(r.loss)
        }
        session.state.step = steps
        session.state.tokensSeen = steps * batch.targetCount
        return session.snapshot()
    }

    /// All tensors' little-endian bytes, concatenated in file order.
    static func rawBytes(_ c: Checkpoint) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(c.tensors.reduce(0) { $0 + $1.values.count * 4 })
        for t in c.tensors { t.values.withUnsafeBytes { out.append(contentsOf: $0) } }
        return out
    }

    /// Raw zlib on the tensors' bytes, one stream per tensor (as the format stores them),
    /// single thread: compress MB/s, inflate MB/s, stored/raw. `strategy` nil is plain
    /// `compress2` (the default strategy); otherwise `deflateInit2` with that strategy.
    static func rawZlib(_ c: Checkpoint, shuffled: Bool, level: Int32, strategy: Int32? = nil,
                        seconds: Double) -> (compressMBs: Double, inflateMBs: Double, ratio: Double) {
        let pieces = c.tensors.map { t in
            let bytes = t.values.withUnsafeBytes { [UInt8]($0) }
            guard shuffled else { return bytes }
            // The format's byte shuffle: byte b of element i goes to b·n + i.
            let n = t.values.count
            var out = [UInt8](repeating: 0, count: bytes.count)
            for i in 0..<n { for b in 0..<4 { out[b * n + i] = bytes[i * 4 + b] } }
            return out
        }
        let rawCount = pieces.reduce(0) { $0 + $1.count }
        var compressed: [[UInt8]] = pieces.map { [UInt8](repeating: 0, count: Int(compressBound(uLong($0.count)))) }
        var lengths = [Int](repeating: 0, count: pieces.count)
        let tc = bestTimePerCall(minSeconds: seconds, trials: 3) {
            for i in pieces.indices {
                var bound = uLong(compressed[i].count)
                pieces[i].withUnsafeBytes { src in
                    compressed[i].withUnsafeMutableBytes { dst in
                        let out = dst.baseAddress!.assumingMemoryBound(to: Bytef.self)
                        let input = src.baseAddress!.assumingMemoryBound(to: Bytef.self)
                        if let strategy {
                            bound = deflateOnce(out, bound, input, src.count, level: level, strategy: strategy)
                        } else {
                            let rc = compress2(out, &bound, input, uLong(src.count), level)
                            precondition(rc == Z_OK, "compress2 failed: \(rc)")
                        }
                    }
                }
                lengths[i] = Int(bound)
            }
        }
        var restored = pieces.map { [UInt8](repeating: 0, count: $0.count) }
        let ti = bestTimePerCall(minSeconds: seconds, trials: 3) {
            for i in pieces.indices {
                var outLength = uLong(restored[i].count)
                compressed[i].withUnsafeBytes { src in
                    restored[i].withUnsafeMutableBytes { dst in
                        let rc = uncompress(dst.baseAddress!.assumingMemoryBound(to: Bytef.self), &outLength,
                                            src.baseAddress!.assumingMemoryBound(to: Bytef.self), uLong(lengths[i]))
                        precondition(rc == Z_OK, "uncompress failed: \(rc)")
                    }
                }
            }
        }
        let mb = Double(rawCount) / 1e6
        return (mb / tc, mb / ti, Double(lengths.reduce(0, +)) / Double(rawCount))
    }

    /// One deflate stream with `strategy` (what compress2 does, with the strategy set).
    static func deflateOnce(_ out: UnsafeMutablePointer<Bytef>, _ capacity: uLong, _ input: UnsafePointer<Bytef>,
                            _ count: Int, level: Int32, strategy: Int32) -> uLong {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        defer { stream.deallocate() }
        stream.initialize(to: z_stream())
        precondition(czlib_deflateInit2(stream, level, Z_DEFLATED, 15, 8, strategy) == Z_OK)
        defer { deflateEnd(stream) }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input)
        stream.pointee.avail_in = uInt(count)
        stream.pointee.next_out = out
        stream.pointee.avail_out = uInt(capacity)
        precondition(deflate(stream, Z_FINISH) == Z_STREAM_END, "deflate did not finish")
        return stream.pointee.total_out
    }

    static func run(seconds: Double, directory: String) -> String {
        let level: Int32 = WriteOptions().level
        let checkpoint: Checkpoint
        do { checkpoint = try mediumCheckpoint() } catch { return "checkpoint bench failed: \(error)\n" }
        let rawCount = checkpoint.tensors.reduce(0) { $0 + $1.values.count * 4 }
        let mb = Double(rawCount) / 1e6
        let raw = rawZlib(checkpoint, shuffled: false, level: level, seconds: seconds)
        let rawShuffled = rawZlib(checkpoint, shuffled: true, level: level, seconds: seconds)
        let rawRLE = rawZlib(checkpoint, shuffled: true, level: level, strategy: Z_RLE, seconds: seconds)
        var table = Table("Checkpoint I/O: medium with AdamW state after 3 steps (\(fmt(mb, 1)) MB raw, \(checkpoint.tensors.count) tensors), zlib level \(level)",
                          headers: ["operation", "threads", "MB/s", "stored/raw", "vs raw zlib", "vs raw zlib, same filter+strategy"])
        table.add(["raw zlib compress2, per tensor (same bytes)", "1", fmt(raw.compressMBs, 1), fmt(raw.ratio, 3), "1.00x", ""])
        table.add(["raw zlib uncompress, per tensor (same bytes)", "1", fmt(raw.inflateMBs, 1), "", "1.00x", ""])
        table.add(["raw zlib compress2, byte-shuffled bytes", "1", fmt(rawShuffled.compressMBs, 1), fmt(rawShuffled.ratio, 3), "", ""])
        table.add(["raw zlib uncompress, byte-shuffled bytes", "1", fmt(rawShuffled.inflateMBs, 1), "", "", ""])
        table.add(["raw zlib deflate Z_RLE, byte-shuffled bytes", "1", fmt(rawRLE.compressMBs, 1), fmt(rawRLE.ratio, 3), "", "1.00x"])
        table.add(["raw zlib uncompress, byte-shuffled Z_RLE", "1", fmt(rawRLE.inflateMBs, 1), "", "", "1.00x"])
        var notes: [String] = []
        let path = directory + "/tt-bench-medium-\(getpid()).ttc"
        defer { unlink(path) }
        var outputs: [Int: [UInt8]] = [:]
        for (label, filter) in [("auto filter", BlobFilter?.none), ("no shuffle", .some(.none)), ("shuffle", .some(.shuffle))] {
            for threads in [1, 2] {
                if filter != nil && threads == 2 { continue }
                var options = WriteOptions()
                options.threads = threads
                options.filter = filter
                var failure: String? = nil
                let ts = bestTimePerCall(minSeconds: seconds, trials: 3) {
                    do { try CheckpointWriter.write(checkpoint, to: path, options: options) } catch { failure = "\(error)" }
                }
                if let failure { return "checkpoint bench: save failed: \(failure)\n" }
                let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
                if filter == nil, let bytes = FileManager.default.contents(atPath: path) { outputs[threads] = [UInt8](bytes) }
                // Compared with raw zlib on the tensors' bytes (compress2), and with raw zlib
                // doing the same work without the format: the bytes this filter stores
                // (auto picks shuffle for nearly every tensor here) with the writer's strategy.
                let same = filter == .some(.none) ? rawZlib(checkpoint, shuffled: false, level: level, strategy: Z_RLE, seconds: seconds) : rawRLE
                table.add(["tt-ckpt save (\(label), fsync)", "\(threads)", fmt(mb / ts, 1), fmt(Double(size) / Double(rawCount), 3),
                           fmt(mb / ts / raw.compressMBs, 2) + "x", fmt(mb / ts / same.compressMBs, 2) + "x"])
                if filter == nil && threads == 1 {
                    var loaded: Checkpoint? = nil
                    let tl = bestTimePerCall(minSeconds: seconds, trials: 3) {
                        loaded = try? CheckpointReader(path: path).readCheckpoint()
                    }
                    let same = loaded.map { l in zip(l.tensors, checkpoint.tensors).allSatisfy { $0.values.elementsEqual($1.values) { $0.bitPattern == $1.bitPattern } } } ?? false
                    table.add(["tt-ckpt load (all CRCs checked)", "1", fmt(mb / tl, 1), "", fmt(mb / tl / raw.inflateMBs, 2) + "x",
                               fmt(mb / tl / rawRLE.inflateMBs, 2) + "x"])
                    var loaded2: Checkpoint? = nil
                    let tl2 = bestTimePerCall(minSeconds: seconds, trials: 3) {
                        loaded2 = try? CheckpointReader(path: path).readCheckpoint(threads: 2)
                    }
                    table.add(["tt-ckpt load (all CRCs checked)", "2", fmt(mb / tl2, 1), "", fmt(mb / tl2 / raw.inflateMBs, 2) + "x",
                               fmt(mb / tl2 / rawRLE.inflateMBs, 2) + "x"])
                    notes.append("load with 2 threads equal to 1 thread: \(loaded2 == loaded ? "yes" : "NO")")
                    notes.append("load round trip bit-identical: \(same ? "yes" : "NO")")
                }
            }
        }
        if let a = outputs[1], let b = outputs[2] {
            notes.append("save with 1 and 2 threads byte-identical: \(a == b ? "yes" : "NO")")
        }
        return table.render() + "\n" + notes.joined(separator: "; ") + "\n"
    }
}
