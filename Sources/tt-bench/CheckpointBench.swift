import Foundation
import TTCore
import TTFormat
import TTTraining

/// Checkpoint I/O on a medium checkpoint with AdamW state, against torch.save/torch.load
/// and safetensors on the same tensors, in the same run.
enum CheckpointBench {
    /// A medium checkpoint after `steps` real training steps (weights and both moments).
    static func mediumCheckpoint(steps: Int = 3) throws -> Checkpoint {
        let preset = BenchPreset.all.first { $0.name == "medium" }!
        let config = preset.config
        let vocabulary = Vocabulary.bench(size: config.vocabSize)
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

    /// The tensors as io_peer.py reads them: DIR/tensors.bin (float32 little-endian, back to
    /// back) and DIR/index.json ([{"name", "shape"}] in file order).
    static func exportForPeer(_ c: Checkpoint, directory: String) throws {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(c.tensors.reduce(0) { $0 + $1.values.count * 4 })
        for t in c.tensors { t.values.withUnsafeBytes { bytes.append(contentsOf: $0) } }
        try Data(bytes).write(to: URL(fileURLWithPath: directory + "/tensors.bin"))
        let index = c.tensors.map { ["name": $0.name, "shape": $0.shape] as [String: Any] }
        try JSONSerialization.data(withJSONObject: index).write(to: URL(fileURLWithPath: directory + "/index.json"))
    }

    /// io_peer.py's figures (torch.save/torch.load/safetensors), or why there are none.
    static func peerFigures(_ c: Checkpoint, directory: String, peers: PeerRunner?) -> Result<[String: Any], PeerRunner.PeerError> {
        guard let peers else { return .failure(.init(message: "peers skipped (--no-peers)")) }
        guard peers.has(module: "torch") else { return .failure(.init(message: "peer not installed (python3 -c 'import torch' failed)")) }
        let dir = directory + "/tt-bench-io-\(getpid())"
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try exportForPeer(c, directory: dir)
        } catch { return .failure(.init(message: "\(error)")) }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        return peers.runJSON([peers.directory + "/io_peer.py", dir, "--trials", "5"], environment: ["OMP_WAIT_POLICY": nil])
    }

    static func run(seconds: Double, directory: String, threads: Int, peers: PeerRunner?) -> (table: String, io: [String: Any]?) {
        let checkpoint: Checkpoint
        do { checkpoint = try mediumCheckpoint() } catch { return ("checkpoint bench failed: \(error)\n", nil) }
        let rawCount = checkpoint.tensors.reduce(0) { $0 + $1.values.count * 4 }
        let mb = Double(rawCount) / 1e6
        let peer = peerFigures(checkpoint, directory: directory, peers: peers)
        let io = try? peer.get()
        let torchSave = io?["torch_save_MBps"] as? Double, torchLoad = io?["torch_load_MBps"] as? Double
        var table = Table("Checkpoint I/O: medium with AdamW state after 3 steps (\(fmt(mb, 1)) MB raw, \(checkpoint.tensors.count) tensors); saves include fsync and rename, loads check every CRC",
                          headers: ["operation", "threads", "MB/s", "file/raw", "vs torch"])
        var notes: [String] = []
        let path = directory + "/tt-bench-medium-\(getpid()).ttc"
        defer { unlink(path) }
        func vs(_ ours: Double, _ theirs: Double?) -> String { theirs.map { fmt(ours / $0, 2) + "x" } ?? "-" }
        var fastBytes: [Int: [UInt8]] = [:]
        let encodings: [(BlobEncoding, String, [Int])] = [
            (.fast, "fast (default)", Array(Set([1, threads])).sorted()), (.small, "small", [threads]),
            (.none, "none", [threads]), (.zlib, "zlib level 1 RLE (the 1.0 writer)", [threads]),
        ]
        for (encoding, label, threadCounts) in encodings {
            var loadAt: [Int] = []
            for t in threadCounts {
                var options = WriteOptions()
                options.threads = t
                options.compression = encoding
                var failure: String? = nil
                let ts = bestTimePerCall(minSeconds: seconds, trials: 3) {
                    do { try CheckpointWriter.write(checkpoint, to: path, options: options) } catch { failure = "\(error)" }
                }
                if let failure { return ("checkpoint bench: save failed: \(failure)\n", io) }
                let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
                if encoding == .fast, let bytes = FileManager.default.contents(atPath: path) { fastBytes[t] = [UInt8](bytes) }
                table.add(["tt-ckpt save, \(label)", "\(t)", fmt(mb / ts, 1), fmt(Double(size) / Double(rawCount), 3), vs(mb / ts, torchSave)])
                loadAt = encoding == .fast ? Array(Set([1, threads])).sorted() : [threads]
            }
            for t in loadAt {
                var loaded: Checkpoint? = nil
                let tl = bestTimePerCall(minSeconds: seconds, trials: 3) {
                    loaded = try? CheckpointReader(path: path).readCheckpoint(threads: t)
                }
                table.add(["tt-ckpt load, \(label) file", "\(t)", fmt(mb / tl, 1), "", vs(mb / tl, torchLoad)])
                let same = loaded.map { l in zip(l.tensors, checkpoint.tensors).allSatisfy { $0.values.elementsEqual($1.values) { $0.bitPattern == $1.bitPattern } } } ?? false
                if !same { notes.append("\(label) round trip NOT bit-identical") }
            }
        }
        if let io {
            func f(_ key: String) -> Double? { io[key] as? Double }
            let torchBytes = Double(io["torch_file_bytes"] as? Int ?? 0), stBytes = Double(io["safetensors_file_bytes"] as? Int ?? 0)
            if let v = f("torch_save_MBps") { table.add(["torch.save + fsync", "\(threads)", fmt(v, 1), fmt(torchBytes / Double(rawCount), 3), "1.00x"]) }
            if let v = f("torch_load_MBps") { table.add(["torch.load", "\(threads)", fmt(v, 1), "", "1.00x"]) }
            if let v = f("safetensors_save_MBps") { table.add(["safetensors save_file + fsync", "\(threads)", fmt(v, 1), fmt(stBytes / Double(rawCount), 3), vs(v, torchSave)]) }
            if let v = f("safetensors_load_MBps") { table.add(["safetensors load_file", "\(threads)", fmt(v, 1), "", vs(v, torchLoad)]) }
            notes.append("torch \(io["torch"] as? String ?? "?") with its default threads")
        } else if case .failure(let why) = peer {
            notes.append("torch/safetensors: \(why)")
        }
        notes.append("every round trip bit-identical: \(notes.contains { $0.contains("NOT") } ? "NO" : "yes")")
        if let a = fastBytes[1], let b = fastBytes[threads], threads != 1 {
            notes.append("fast save with 1 and \(threads) threads byte-identical: \(a == b ? "yes" : "NO")")
        }
        return (table.render() + "\n" + notes.joined(separator: "; ") + "\n", io)
    }
}
