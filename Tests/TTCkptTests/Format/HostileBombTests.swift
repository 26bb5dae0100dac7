import Foundation
import Testing
@testable import TTCore
@testable import TTFormat
@testable import TTTraining

/// Decompression bombs: valid files whose tensors are well-compressed zeros. The format
/// allows them (each blob within the 1032:1 cap), so the reader's per-buffer bound holds;
/// what must not happen is `train`/`resume`/`sample` inflating gigabytes for a model this
/// tool would never make. Regression for: the CLI loaded every tensor (readCheckpoint)
/// before TrainingSession checked the parameter count, and also inflated `other` tensors
/// it then ignored.
@Suite struct HostileBombTests {
    /// A complete, valid checkpoint image for `config` whose tensors are all zeros, plus
    /// `others` extra `other` tensors of the given element counts, built blob by blob
    /// (one zero buffer per distinct size, compressed once and reused).
    static func zeroCheckpoint(_ config: ModelConfig, vocabulary: Vocabulary, others: [Int] = []) -> [UInt8] {
        var blobs: [Int: (stored: [UInt8], rawCRC: UInt32)] = [:]
        func blob(_ count: Int) -> (stored: [UInt8], rawCRC: UInt32) {
            if let b = blobs[count] { return b }
            let zeros = [UInt8](repeating: 0, count: count * 4)
            let b = (zlibCompress(zeros, level: 9), crc32Of(zeros))
            blobs[count] = b
            return b
        }
        var entries: [TensorEntry] = []
        var stored: [[UInt8]] = []
        func add(_ name: String, _ role: TensorRole, _ shape: [Int]) {
            let count = shape.reduce(1, *)
            let b = blob(count)
            entries.append(TensorEntry(name: name, role: role, dtype: .f32, shape: shape, compression: .zlib, filter: .none,
                                       offset: 0, storedLength: UInt64(b.stored.count), rawLength: UInt64(count * 4),
                                       rawCRC32: b.rawCRC, storedCRC32: crc32Of(b.stored)))
            stored.append(b.stored)
        }
        for role in [TensorRole.parameter, .adamM, .adamV] {
            for slot in ParameterLayout(config: config).slots { add(role.namePrefix + slot.name, role, slot.shape) }
        }
        for (i, n) in others.enumerated() { add("extra.\(i)", .other, [n]) }
        var t = TrainingState(rng: PythonRandom(seed: 1).state)
        t.step = 1
        t.tokensSeen = 4
        t.lossHistory = [1]
        t.sessionStarts = [0]
        let meta = encodeMetadata(metadataItems(config: config, vocabulary: vocabulary, training: t))
        let headerLength = encodeHeader(sections: [(TTCFormat.metadataTag, meta), (TTCFormat.directoryTag, encodeDirectory(entries))]).count
        var offset = UInt64(32 + headerLength)
        for i in entries.indices {
            entries[i].offset = offset
            offset += entries[i].storedLength
        }
        let header = encodeHeader(sections: [(TTCFormat.metadataTag, meta), (TTCFormat.directoryTag, encodeDirectory(entries))])
        var out = encodePreamble(major: 1, minor: 0, header: header) + header
        for s in stored { out += s }
        return out
    }

    /// V 65536, D 1024, one head, F 1, T 1: 2^27 + 4 200 449 parameters (just above init's
    /// limit of 2^27), 1.6 GB of tensors in a file of about 2 MB.
    @Test func oversizedModelIsRefusedBeforeInflating() throws {
        let config = ModelConfig(arch: .tutorial, vocabSize: 1 << 16, dModel: 1024, nHeads: 1, dFF: 1, nLayers: 1, context: 1)
        let vocabulary = Vocabulary(kind: .word, tokens: (0..<(1 << 16)).map { "w\($0)" })
        let bytes = Self.zeroCheckpoint(config, vocabulary: vocabulary)
        #expect(bytes.count < 3_000_000)
        let dir = try TemporaryDirectory("bomb")
        try dir.write("bomb.ttc", Data(bytes))
        let meter = ReaderAllocationMeter()
        let error: Error? = ReaderAllocationMeter.$current.withValue(meter) {
            do { _ = try TrainingSession.loadCheckpoint(path: dir.path("bomb.ttc")); return nil } catch { return error }
        }
        let parameters = ParameterLayout.parameterCount(config)
        // spec/FORMAT.md §5: 2VD + TD + L(4D² + 2DF + F + D + 2D) with the values above.
        #expect(parameters == 2 * 65536 * 1024 + 1 * 1024 + (4 * 1024 * 1024 + 2 * 1024 * 1 + 1 + 1024 + 2 * 1024))
        #expect((error as? InputError) == InputError(dir.path("bomb.ttc"), "\(parameters) parameters is more than the limit \(1 << 27)"))
        #expect(meter.largest <= bytes.count, "inflated \(meter.largest) bytes")
        // Through the binary: one line, exit 2.
        let r = try CLIRunner.run(["sample", "bomb.ttc"], in: dir.url)
        #expect(r.status == 2)
        #expect(r.stderrLines == ["tt-ckpt: bomb.ttc: \(parameters) parameters is more than the limit \(1 << 27)"])
        // And its peak RSS, measured by GNU time (a small parent, so the figure is the
        // binary's own), is far below the 1.6 GB the tensors take (before the fix: 2.1 GB).
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/time") {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/time")
            process.arguments = ["-f", "%M", "-o", "rss.txt", CLIRunner.binaryPath, "sample", "bomb.ttc"]
            process.currentDirectoryURL = dir.url
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            let text = String(decoding: try dir.read("rss.txt"), as: UTF8.self)
            let kib = Int(text.split(separator: "\n").last.map(String.init) ?? "") ?? Int.max
            #expect(kib < 200 * 1024, "tt-ckpt sample peaked at \(kib) KiB (\(text))")
        }
    }

    /// `other` tensors are carried by the format but never used by a session: a 64 MiB
    /// `other` tensor of zeros beside a tutorial model is not inflated.
    @Test func otherTensorsAreNotInflatedForTraining() throws {
        let bytes = Self.zeroCheckpoint(.tutorial, vocabulary: .tutorial, others: [1 << 24])
        let dir = try TemporaryDirectory("bomb-other")
        try dir.write("m.ttc", Data(bytes))
        let meter = ReaderAllocationMeter()
        let checkpoint = try ReaderAllocationMeter.$current.withValue(meter) {
            try TrainingSession.loadCheckpoint(path: dir.path("m.ttc"))
        }
        #expect(checkpoint.tensors.count == 3 * ParameterLayout(config: .tutorial).slots.count)
        #expect(meter.largest < 1 << 20, "inflated \(meter.largest) bytes")
        // The reader itself does inflate it when asked (the format allows it).
        let reader = try CheckpointReader(path: dir.path("m.ttc"))
        #expect(try reader.loadTensor(reader.entry(named: "extra.0")!).count == 1 << 24)
    }
}
