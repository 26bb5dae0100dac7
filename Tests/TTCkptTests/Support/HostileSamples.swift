import Foundation
import Testing
@testable import TTCore
@testable import TTFormat

/// Real checkpoints for the hostile-input tests and the fuzz seed corpus, written through
/// the library's writer (so every byte is what tt-ckpt itself produces).
enum HostileSamples {
    /// A small gpt config (all gpt tensors, LayerNorms included) small enough for fuzzing.
    static let tinyGPT = ModelConfig(arch: .gpt, vocabSize: 7, dModel: 8, nHeads: 2, dFF: 16, nLayers: 1, context: 4)

    /// Named sample images: tutorial-size (fresh and trained-like, each filter, level 0)
    /// and a small gpt, plus the committed samples/*.ttc when present.
    static func images() throws -> [(name: String, bytes: [UInt8])] {
        var out: [(String, [UInt8])] = []
        var fresh = FormatFixtures.checkpoint(steps: 0, gaussCached: false, withData: false)
        for i in fresh.tensors.indices where fresh.tensors[i].role != .parameter {
            fresh.tensors[i].values = [Float](repeating: 0, count: fresh.tensors[i].values.count)
        }
        out.append(("tutorial-fresh", try CheckpointWriter.encodedBytes(fresh)))
        out.append(("tutorial-3steps", try CheckpointWriter.encodedBytes(FormatFixtures.checkpoint())))
        var none = WriteOptions(); none.filter = BlobFilter.none
        out.append(("tutorial-none", try CheckpointWriter.encodedBytes(FormatFixtures.checkpoint(steps: 1), options: none)))
        var stored = WriteOptions(); stored.level = 0; stored.filter = .shuffle
        out.append(("tutorial-level0", try CheckpointWriter.encodedBytes(fresh, options: stored)))
        let gptVocab = Vocabulary(kind: .char, tokens: ["a", "b", "c", " ", "\n", "é", "€"])
        out.append(("gpt-tiny", try CheckpointWriter.encodedBytes(
            FormatFixtures.checkpoint(config: tinyGPT, vocabulary: gptVocab, seed: 7, steps: 2))))
        var gptFresh = FormatFixtures.checkpoint(config: tinyGPT, vocabulary: gptVocab, seed: 8, steps: 0, withData: false)
        for i in gptFresh.tensors.indices where gptFresh.tensors[i].role != .parameter {
            gptFresh.tensors[i].values = [Float](repeating: 0, count: gptFresh.tensors[i].values.count)
        }
        out.append(("gpt-tiny-fresh", try CheckpointWriter.encodedBytes(gptFresh)))
        for path in committedSamples() {
            out.append(("samples/" + (path as NSString).lastPathComponent, FormatFixtures.readBytes(path)))
        }
        // The format-1.0 files the samples replaced (no `hash` section, default strategy).
        for path in committedSamples(in: "Tests/Fixtures/compat/format-1.0") {
            out.append(("compat-1.0/" + (path as NSString).lastPathComponent, FormatFixtures.readBytes(path)))
        }
        return out
    }

    /// The committed *.ttc files in `directory` of the package (sorted).
    static func committedSamples(in directory: String = "samples") -> [String] {
        let dir = TestPaths.path(directory)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { $0.hasSuffix(".ttc") }.sorted().map { dir + "/" + $0 }
    }

}
