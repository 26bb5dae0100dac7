import Foundation
import Testing
@testable import TTCore
@testable import TTFormat
@testable import TTInterop
@testable import TTTokenizer

/// `import --from hf`, `train`, `export --to hf` through the built binary, on a directory
/// transformers 5.24 wrote (Tests/Fixtures/hf/l3-t32-v512-bpe, with its BPE tokenizer).
@Suite struct GPT2InteropCommandTests {
    static let fixture = HFFixtures.root + "/l3-t32-v512-bpe"

    func ok(_ args: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> CLIRunner.Result {
        let r = try CLIRunner.run(args)
        #expect(r.status == 0, "\(args.joined(separator: " ")): \(r.stderr)", sourceLocation: sourceLocation)
        return r
    }

    @Test func importTrainExportImport() throws {
        let dir = try interopTempDir("gpt2-cli")
        let imp = try ok(["import", Self.fixture, dir + "/m.ttc", "--from", "hf"])
        #expect(imp.stdout == "created \(dir)/m.ttc: arch gpt2, V 512, D 32, H 2, F 128, L 3, T 32, 55584 parameters, "
                + "bpe tokenizer, step 0, 120 tensors\n")
        // Exported untouched: transformers' own tensors, bit for bit.
        _ = try ok(["export", dir + "/m.ttc", dir + "/out", "--to", "hf"])
        let theirs = try HFFixtures.read(Self.fixture + "/model.safetensors")
        let ours = try HFFixtures.read(dir + "/out/model.safetensors")
        #expect(Set(ours.keys) == Set(theirs.keys))
        for (name, t) in theirs { #expect(ours[name]?.floats.map(\.bitPattern) == t.floats.map(\.bitPattern), "\(name)") }
        // A second export needs --force, and then writes the same bytes (deterministic).
        let first = try FileManager.default.contentsOfDirectory(atPath: dir + "/out").sorted()
            .map { FileManager.default.contents(atPath: dir + "/out/" + $0)! }
        let refused = try CLIRunner.run(["export", dir + "/m.ttc", dir + "/out", "--to", "hf"])
        #expect(refused.status == 2 && refused.stderr == "tt-ckpt: \(dir)/out/config.json: already exists (use --force to overwrite)\n")
        _ = try ok(["export", dir + "/m.ttc", dir + "/out", "--to", "hf", "--force"])
        let second = try FileManager.default.contentsOfDirectory(atPath: dir + "/out").sorted()
            .map { FileManager.default.contents(atPath: dir + "/out/" + $0)! }
        #expect(first == second)

        // Train on the fixture's corpus (BPE-encoded by the imported tokenizer), export, and
        // import the export: the trained parameters come back exactly.
        _ = try ok(["train", dir + "/m.ttc", "--data", Self.fixture + "/corpus.txt", "--steps", "2", "--batch-size", "2", "--quiet"])
        _ = try ok(["export", dir + "/m.ttc", dir + "/tuned", "--to", "hf"])
        _ = try ok(["import", dir + "/tuned", dir + "/back.ttc"])
        let trained = try CheckpointReader(path: dir + "/m.ttc").readCheckpoint()
        let back = try CheckpointReader(path: dir + "/back.ttc").readCheckpoint()
        #expect(back.config == trained.config && back.vocabulary == trained.vocabulary)
        #expect(back.tensors.filter { $0.role == .parameter } == trained.tensors.filter { $0.role == .parameter })
        let corpusTokens = try trained.vocabulary.encode(Array(FileManager.default.contents(atPath: Self.fixture + "/corpus.txt")!), source: "c")
        #expect(trained.training.step == 2 && trained.training.data?.tokenCount == corpusTokens.count)
    }
}
