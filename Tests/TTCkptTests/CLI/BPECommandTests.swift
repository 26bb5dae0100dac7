import Foundation
import Testing
@testable import TTCore
@testable import TTFormat
@testable import TTInterop
@testable import TTTokenizer

/// `init --tokenizer bpe` (learned) and `init --tokenizer-file` (loaded), then inspect,
/// training data, and the safetensors round trip, through the built binary.
@Suite struct BPECommandTests {
    static let fixtures = TestPaths.path("Tests/Fixtures/bpe")

    /// The first 40 000 bytes of the corpus the BPE fixtures were trained on.
    static func corpus() throws -> [UInt8] {
        let seed = UInt64(try BPEFixtures.meta("corpus_seed").nonNegativeInt!)
        let full = CorpusGenerator.make(seedLines: try CorpusGenerator.seedLines(), seed: seed, target: 40_000)
        return Array(full.prefix(40_000))
    }

    @Test func initLearnsADeterministicBPE() throws {
        let dir = try interopTempDir("bpe-init")
        let corpus = try Self.corpus()
        #expect(FileManager.default.createFile(atPath: dir + "/c.txt", contents: Data(corpus)))
        let args = ["--preset", "gpt-small", "--d-model", "16", "--layers", "1", "--context", "8",
                    "--data", dir + "/c.txt", "--tokenizer", "bpe", "--vocab-size", "600"]
        let a = try CLIRunner.run(["init", dir + "/a.ttc"] + args)
        #expect(a.status == 0, "\(a.stderr)")
        #expect(a.stdout.contains("V 600") && a.stdout.contains("bpe tokenizer"))
        let b = try CLIRunner.run(["init", dir + "/b.ttc"] + args)
        #expect(b.status == 0)
        // Same corpus and size: the same file, byte for byte.
        #expect(FileManager.default.contents(atPath: dir + "/a.ttc") == FileManager.default.contents(atPath: dir + "/b.ttc"))
        let ckpt = try CheckpointReader(path: dir + "/a.ttc").readCheckpoint()
        // The stored vocabulary is the trainer's (<|endoftext|> first), and it round-trips the corpus.
        let trained = try BPETrainer(vocabularySize: 600, specialTokens: ["<|endoftext|>"]).train(corpus: corpus, source: "c")
        #expect(ckpt.vocabulary == Vocabulary(trained))
        let ids = try ckpt.vocabulary.encode(corpus, source: "c")
        #expect(ckpt.vocabulary.decodeBytes(ids) == corpus)
        #expect(ckpt.training.data?.tokenCount == ids.count)

        let inspect = try CLIRunner.run(["inspect", dir + "/a.ttc"])
        #expect(inspect.status == 0)
        let lines = inspect.stdoutLines
        #expect(lines.contains { $0.hasPrefix("vocabulary") && $0.contains("bpe, 600 tokens: 0:\"<|endoftext|>\" 1:\"!\"") })
        let m0 = "0:" + TerminalText.quoted(trained.spelling(of: trained.merges[0].left)) + "+"
            + TerminalText.quoted(trained.spelling(of: trained.merges[0].right))
        #expect(lines.contains { $0.hasPrefix("merges") && $0.contains("343 by rank, pre-tokenizer gpt2: " + m0) })
        #expect(lines.contains { $0.hasPrefix("added tokens") && $0.hasSuffix("0:\"<|endoftext|>\" (special)") })
        let json = try CLIRunner.run(["inspect", dir + "/a.ttc", "--json"])
        let vocab = try HeaderJSON.parse(Array(json.stdout.utf8))["vocab"]
        #expect(vocab?["kind"]?.stringValue == "bpe")
        #expect(vocab?["merges"]?.arrayItems?.count == 343)
        #expect(vocab?["merges"]?.arrayItems?.first == .array([.int(Int(trained.merges[0].left)), .int(Int(trained.merges[0].right))]))
    }

    /// Tokenizer files written by Hugging Face tokenizers: the checkpoint encodes the held-out
    /// text exactly as tokenizers did.
    @Test func initLoadsTokenizerFiles() throws {
        let dir = try interopTempDir("bpe-files")
        let common = ["--preset", "gpt-small", "--d-model", "16", "--layers", "1", "--context", "8"]
        let heldout = try BPEFixtures.heldout()
        for (name, files, key) in [("j", ["--tokenizer-file", Self.fixtures + "/trained-tokenizer.json"], "tokenizer_json"),
                                   ("v", ["--tokenizer-file", Self.fixtures + "/trained-vocab.json",
                                          "--merges-file", Self.fixtures + "/trained-merges.txt"], "tokenizer_json")] {
            let r = try CLIRunner.run(["init", dir + "/\(name).ttc"] + common + files)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("V 2000"))
            let v = try CheckpointReader(path: dir + "/\(name).ttc").vocabulary
            // vocab.json has <|endoftext|>, so it is registered as special: the same ids as tokenizer.json.
            #expect(try v.encode(heldout, source: "h") == BPEFixtures.heldoutIDs(key))
            #expect(v.decodeBytes(try BPEFixtures.heldoutIDs(key)) == heldout)
        }
    }

    @Test func ownSafetensorsExportKeepsTheBPE() throws {
        let dir = try interopTempDir("bpe-st")
        let r = try CLIRunner.run(["init", dir + "/a.ttc", "--preset", "gpt-small", "--d-model", "16", "--layers", "1",
                                   "--context", "8", "--tokenizer-file", Self.fixtures + "/trained-tokenizer.json"])
        #expect(r.status == 0)
        #expect(try CLIRunner.run(["export", dir + "/a.ttc", dir + "/a.safetensors", "--include-optimizer"]).status == 0)
        let imp = try CLIRunner.run(["import", dir + "/a.safetensors", dir + "/b.ttc"])
        #expect(imp.status == 0, "\(imp.stderr)")
        let a = try CheckpointReader(path: dir + "/a.ttc").readCheckpoint()
        let b = try CheckpointReader(path: dir + "/b.ttc").readCheckpoint()
        #expect(a.vocabulary == b.vocabulary && a.tensors == b.tensors)
    }
}
