import Foundation
import Testing
@testable import TTCore
@testable import TTFormat
@testable import TTInterop

/// Seeds for the safetensors fuzz target (Tests/Fuzz/run.sh safetensors): exports of small
/// checkpoints (with and without optimizer and metadata) and handcrafted files of every
/// element size and of the header forms the reference accepts. Written to
/// Tests/Fuzz/safetensors-corpus/ when TTCKPT_WRITE_SAFETENSORS_SEEDS names a directory;
/// otherwise each seed is checked to read (the handcrafted ones must be valid files).
@Suite struct SafetensorsFuzzSeedTests {
    /// A file from a header JSON text and data bytes (the header padded with spaces to a
    /// multiple of 8, as the reference writes it).
    static func file(_ header: String, data: [UInt8]) -> [UInt8] {
        var h = Array(header.utf8)
        h += [UInt8](repeating: 0x20, count: (8 - h.count % 8) % 8)
        let out: [UInt8] = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(h.count) >> (8 * UInt64($0))) }
        return out + h + data
    }

    static func seeds() throws -> [(String, [UInt8])] {
        var out: [(String, [UInt8])] = []
        let tutorial = interopSampleCheckpoint()
        for optimizer in [false, true] {
            let (tensors, metadata) = SafetensorsCheckpoint.exportContents(tutorial, includeOptimizer: optimizer)
            out.append(("tutorial\(optimizer ? "-optimizer" : "")", SafetensorsWriter.serialize(tensors, metadata: metadata)))
        }
        let gpt = ModelConfig(arch: .gpt, vocabSize: 5, dModel: 4, nHeads: 2, dFF: 8, nLayers: 1, context: 3)
        let gptCheckpoint = interopSampleCheckpoint(gpt, vocabulary: Vocabulary(kind: .char, tokens: ["a", "b", "\n", "\"", "é"]))
        let (gptTensors, gptMetadata) = SafetensorsCheckpoint.exportContents(gptCheckpoint, includeOptimizer: true)
        out.append(("gpt-optimizer", SafetensorsWriter.serialize(gptTensors, metadata: gptMetadata)))
        out.append(("gpt-no-metadata", SafetensorsWriter.serialize(gptTensors.filter { !$0.name.hasPrefix("adam_") }, metadata: nil)))
        // Every element size and the dtypes import converts, in one file.
        out.append(("dtypes", file(#"{"__metadata__":{"a":"b"},"b":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},"#
            + #""f16":{"dtype":"F16","shape":[1,2],"data_offsets":[4,8]},"f64":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},"#
            + #""i":{"dtype":"I64","shape":[],"data_offsets":[16,24]},"u":{"dtype":"U8","shape":[3],"data_offsets":[24,27]},"#
            + #""z":{"dtype":"BOOL","shape":[0],"data_offsets":[27,27]}}"#,
            data: [0x80, 0x3F, 0x00, 0xC0, 0x00, 0x3C, 0x00, 0x7C] + [0, 0, 0, 0, 0, 0, 0xF0, 0x3F] + [1, 0, 0, 0, 0, 0, 0, 0] + [1, 2, 3])))
        out.append(("empty", file("{}", data: [])))
        out.append(("null-metadata", file(#"{"__metadata__":null,"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0x80, 0x3F])))
        return out
    }

    @Test func seedsReadAndAreWritten() throws {
        let seeds = try Self.seeds()
        let dir = try TemporaryDirectory("st-seeds")
        for (name, bytes) in seeds {
            try dir.write(name, Data(bytes))
            let file = try SafetensorsFile(path: dir.path(name))
            for t in file.tensors { _ = try file.loadBytes(t) }
        }
        if let target = ProcessInfo.processInfo.environment["TTCKPT_WRITE_SAFETENSORS_SEEDS"] {
            for (name, bytes) in seeds { FormatFixtures.writeBytes(bytes, to: target + "/seed-" + name + ".safetensors") }
        }
    }
}
