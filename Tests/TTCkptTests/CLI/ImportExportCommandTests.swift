import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import TTCore
@testable import TTFormat
@testable import TTInterop
@testable import TTTokenizer

/// export / import / plot end to end through the built binary, on checkpoints written by
/// the format's writer (no training needed).
@Suite struct ImportExportCommandTests {
    func fixture(_ tag: String) throws -> (dir: String, ckpt: String, sample: Checkpoint) {
        let dir = try interopTempDir(tag)
        var sample = interopSampleCheckpoint()
        sample.training.data = DataIdentity(name: "builtin:tutorial", byteCount: 10, tokenCount: 5, sha256: String(repeating: "0", count: 64))
        sample.training.lossHistory = [1.8, 1.5, 1.2]
        sample.training.sessionStarts = [0, 2]
        let path = dir + "/a.ttc"
        try CheckpointWriter.write(sample, to: path)
        return (dir, path, sample)
    }

    @Test func exportThenImportRestoresTensors() throws {
        let (dir, ckpt, sample) = try fixture("cli-rt")
        let st = dir + "/a.safetensors"
        let export = try CLIRunner.run(["export", ckpt, st, "--include-optimizer"])
        #expect(export.status == 0 && export.stderr.isEmpty)
        let file = try SafetensorsFile(path: st)
        #expect(file.tensors.count == sample.tensors.count)
        let back = dir + "/b.ttc"
        let imp = try CLIRunner.run(["import", st, back])
        #expect(imp.status == 0 && imp.stderr.isEmpty)
        let restored = try CheckpointReader(path: back).readCheckpoint()
        #expect(restored.tensors == sample.tensors)
        #expect(restored.config == sample.config && restored.vocabulary == sample.vocabulary)
        #expect(restored.training.step == sample.training.step)
    }

    @Test func importErrorIsOneLineAndWritesNothing() throws {
        let (dir, ckpt, _) = try fixture("cli-err")
        let st = dir + "/a.safetensors"
        #expect(try CLIRunner.run(["export", ckpt, st]).status == 0)
        // Cut the data buffer short.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: st)))
        bytes.removeLast(4)
        try Data(bytes).write(to: URL(fileURLWithPath: st))
        let out = dir + "/never.ttc"
        let r = try CLIRunner.run(["import", st, out])
        #expect(r.status == 2)
        #expect(r.stderrLines.count == 1)
        #expect(r.stderrLines.first?.hasPrefix("tt-ckpt: \(st): data buffer is") == true)
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func exportOfMissingFileFails() throws {
        let dir = try interopTempDir("cli-missing")
        let r = try CLIRunner.run(["export", dir + "/nope.ttc", dir + "/x.safetensors"])
        #expect(r.status == 2 && r.stderrLines.count == 1)
        #expect(r.stderrLines.first?.contains("nope.ttc") == true)
        #expect(!FileManager.default.fileExists(atPath: dir + "/x.safetensors"))
    }

    @Test func plotLossAndChange() throws {
        let (dir, ckpt, sample) = try fixture("cli-plot")
        let svg = dir + "/loss.svg"
        let r = try CLIRunner.run(["plot", ckpt, "-o", svg])
        #expect(r.status == 0 && r.stderr.isEmpty)
        let doc = try SVGElements.parse(String(contentsOfFile: svg, encoding: .utf8))
        #expect(doc.first(id: "loss")?.attributes["data-count"] == "3")
        #expect(doc.all(class: "resume").map { $0.attributes["data-step"] } == ["2"])

        var moved = sample
        moved.tensors[0].values = moved.tensors[0].values.map { $0 * 2 }  // tok_emb doubled: change 1.0
        let b = dir + "/b.ttc"
        try CheckpointWriter.write(moved, to: b)
        let change = dir + "/change.svg"
        #expect(try CLIRunner.run(["plot", ckpt, b, "-o", change]).status == 0)
        let bars = try SVGElements.parse(String(contentsOfFile: change, encoding: .utf8)).all(class: "bar")
        #expect(bars.count == ParameterLayout(config: .tutorial).slots.count)
        #expect(bars.first?.attributes["data-name"] == "tok_emb" && bars.first?.attributes["data-value"] == "1.0")
        #expect(bars.dropFirst().allSatisfy { $0.attributes["data-value"] == "0.0" })
    }

    @Test func importRefusesAnExistingOutputWithoutForce() throws {
        let (dir, ckpt, _) = try fixture("cli-force")
        let st = dir + "/a.safetensors"
        #expect(try CLIRunner.run(["export", ckpt, st]).status == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: ckpt))
        let refused = try CLIRunner.run(["import", st, ckpt])
        #expect(refused.status == 2 && refused.stderrLines.count == 1)
        #expect(refused.stderrLines.first?.contains("already exists") == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: ckpt)) == before)
        #expect(try CLIRunner.run(["import", st, ckpt, "--force"]).status == 0)
    }

    @Test func byteTokenizerNeedsNoVocabularyFile() throws {
        // A byte-level gpt exported without metadata: the shapes give the config, and
        // --tokenizer byte gives the 256 fixed tokens.
        let config = ModelConfig(arch: .gpt, vocabSize: 256, dModel: 8, nHeads: 2, dFF: 16, nLayers: 1, context: 4)
        let sample = interopSampleCheckpoint(config, vocabulary: .bytes)
        let (tensors, _) = SafetensorsCheckpoint.exportContents(sample, includeOptimizer: false)
        let dir = try interopTempDir("cli-byte")
        try SafetensorsWriter.write(tensors, metadata: nil, to: dir + "/w.safetensors")
        let noVocab = try CLIRunner.run(["import", dir + "/w.safetensors", dir + "/x.ttc"])
        #expect(noVocab.status == 2 && noVocab.stderrLines.first?.contains("no vocabulary") == true)
        let r = try CLIRunner.run(["import", dir + "/w.safetensors", dir + "/w.ttc", "--tokenizer", "byte"])
        #expect(r.status == 0, "\(r.stderr)")
        let back = try CheckpointReader(path: dir + "/w.ttc")
        #expect(back.config == config && back.vocabulary == .bytes)
        let word = try CLIRunner.run(["import", dir + "/w.safetensors", dir + "/y.ttc", "--tokenizer", "word"])
        #expect(word.status == 2 && word.stderrLines == ["tt-ckpt: --tokenizer: word needs --vocab-file with its tokens"])
    }
}
