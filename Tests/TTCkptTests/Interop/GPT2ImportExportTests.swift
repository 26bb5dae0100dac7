import Foundation
import Testing
@testable import TTCore
@testable import TTFormat
@testable import TTInterop
@testable import TTTokenizer

/// `GPT2Import` and `GPT2Export` against the checkpoints transformers 5.24 wrote
/// (Tests/Fixtures/hf): the importer must give transformers' tensors bit for bit (after the
/// Conv1D transpose, done here by the fixtures' own test-side mapping, not by GPT2Naming),
/// and an import → export must give a directory whose model.safetensors holds transformers'
/// original tensors bit for bit.
@Suite struct GPT2ImportExportTests {
    /// A vocabulary for a fixture: its tokenizer files if it has them, else V placeholder words.
    static func options(_ c: HFFixtures.Config) -> GPT2Import.Options {
        var o = GPT2Import.Options()
        let hasTokenizer = FileManager.default.fileExists(atPath: c.directory + "/tokenizer.json")
        if !hasTokenizer { o.vocabulary = c.V == 256 ? .bytes : Vocabulary(kind: .word, tokens: (0..<c.V).map { "w\($0)" }) }
        return o
    }

    static func importFixture(_ c: HFFixtures.Config) throws -> Checkpoint {
        try GPT2Import.readTransformers(directory: c.directory, options: options(c))
    }

    /// Our tensor (canonical layout) as transformers stores it.
    static func inHFLayout(_ t: NamedTensor) -> (name: String, shape: [Int], values: [Float]) {
        let (name, transposed) = HFFixtures.hfName(t.name)
        guard transposed else { return (name, t.shape, t.values) }
        let (rows, cols) = (t.shape[0], t.shape[1])
        var out = [Float](repeating: 0, count: t.values.count)
        for r in 0..<rows { for c in 0..<cols { out[c * rows + r] = t.values[r * cols + c] } }
        return (name, [cols, rows], out)
    }

    static func bits(_ v: [Float]) -> [UInt32] { v.map(\.bitPattern) }

    @Test(arguments: HFFixtures.configs)
    func importGivesTransformersTensorsBitForBit(_ c: HFFixtures.Config) throws {
        let ckpt = try Self.importFixture(c)
        #expect(ckpt.config == c.modelConfig)
        let theirs = try HFFixtures.weights(c)
        let params = ckpt.tensors.filter { $0.role == .parameter }
        #expect(params.count == theirs.count)  // every stored tensor used (no lm_head stored)
        for t in params {
            let (name, shape, values) = Self.inHFLayout(t)
            let expected = try #require(theirs[name], "\(name)")
            #expect(shape == expected.shape, "\(name)")
            #expect(Self.bits(values) == Self.bits(expected.floats), "\(name)")
        }
        // Fresh training state: zero moments, step 0.
        #expect(ckpt.training.step == 0)
        #expect(ckpt.tensors.filter { $0.role != .parameter }.allSatisfy { $0.values.allSatisfy { $0 == 0 } })
        // The checkpoint is valid for the format's reader.
        let back = try CheckpointReader(bytes: try CheckpointWriter.encodedBytes(ckpt), name: "x.ttc").readCheckpoint()
        #expect(back == ckpt)
    }

    /// The fixture with a tokenizer: the vocabulary is transformers', and encodes
    /// tokenizer_checks.json's texts to tokenizers' ids.
    @Test func importedTokenizerEncodesLikeTokenizers() throws {
        let c = try #require(HFFixtures.configs.first { $0.name == "l3-t32-v512-bpe" })
        let ckpt = try Self.importFixture(c)
        #expect(ckpt.vocabulary.kind == .bpe && ckpt.vocabulary.tokens.count == 512)
        #expect(ckpt.vocabulary.tokens[511] == "<|endoftext|>" && ckpt.vocabulary.bpe?.addedIDs == [511])
        let checks = try HeaderJSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: HFFixtures.root + "/tokenizer_checks.json"))))
        let cases = try #require(checks["cases"]?.arrayItems)
        #expect(cases.count == 12)
        for item in cases {
            let text = try #require(item["text"]?.stringValue)
            let ids = try #require(item["ids"]?.arrayItems).map { Int32($0.nonNegativeInt!) }
            #expect(try ckpt.vocabulary.encode(text, source: "t") == ids, "\(text)")
            #expect(ckpt.vocabulary.decodeBytes(ids) == Array(text.utf8))
        }
        // io.safetensors' text encodes to its input_ids.
        let file = try SafetensorsFile(path: c.directory + "/io.safetensors")
        let text = try #require(file.metadata?["text"])
        let io = try HFFixtures.read(c.directory + "/io.safetensors")
        #expect(try ckpt.vocabulary.encode(text, source: "t") == io["input_ids"]!.ints.map { Int32($0) })
    }

    /// GPT2Model's save (names without `transformer.`) and the nanoGPT state dict (nn.Linear
    /// layout, lm_head stored) give the same checkpoint as the GPT2LMHeadModel save.
    @Test func baseModelAndNanoGPTFilesGiveTheSameTensors() throws {
        let c = try #require(HFFixtures.configs.first { $0.name == "l1-t8-v97" })
        let reference = try Self.importFixture(c)
        let base = try GPT2Import.readTransformers(directory: HFFixtures.root + "/l1-t8-v97-base", options: Self.options(c))
        #expect(base.tensors == reference.tensors)
        var o = Self.options(c)
        let argsPath = c.directory + "/nanogpt_model_args.json"
        o.modelArgs = (try HeaderJSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: argsPath)))), argsPath)
        let nano = try GPT2Import.readNanoGPT(path: c.directory + "/nanogpt.safetensors", options: o)
        #expect(nano.config == reference.config)
        #expect(nano.tensors == reference.tensors)
        o.modelArgs = nil
        o.heads = 2
        #expect(try GPT2Import.readNanoGPT(path: c.directory + "/nanogpt.safetensors", options: o).tensors == reference.tensors)
    }

    /// import → export: the written model.safetensors holds exactly transformers' tensors
    /// (names, shapes, bits), config.json gives the same config, the tokenizer files the same
    /// tokenizer.
    @Test(arguments: HFFixtures.configs.filter { $0.V == 256 || $0.name == "l3-t32-v512-bpe" })
    func exportGivesTransformersOriginals(_ c: HFFixtures.Config) throws {
        let ckpt = try Self.importFixture(c)
        let files = Dictionary(uniqueKeysWithValues: try GPT2Export.files(ckpt).map { ($0.name, $0.bytes) })
        #expect(Set(files.keys) == ["config.json", "model.safetensors", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json"])
        let dir = try interopTempDir("hf-export")
        for (name, bytes) in files { #expect(FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(bytes))) }
        let ours = try HFFixtures.read(dir + "/model.safetensors")
        let theirs = try HFFixtures.weights(c)
        #expect(Set(ours.keys) == Set(theirs.keys))
        for (name, t) in theirs {
            #expect(ours[name]?.shape == t.shape, "\(name)")
            #expect(Self.bits(ours[name]?.floats ?? []) == Self.bits(t.floats), "\(name)")
        }
        #expect(try SafetensorsFile(path: dir + "/model.safetensors").metadata == ["format": "pt"])
        let config = try HeaderJSON.parse(files["config.json"]!)
        #expect(try TransformersConfig.modelConfig(config, path: "config.json").0 == ckpt.config)
        // Every key transformers wrote, with its value, except the ones that describe the
        // writer or training (dropout: tt-ckpt trains without it).
        let original = try HeaderJSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: c.directory + "/config.json"))))
        guard case let .object(members) = original else { throw HFFixtures.FixtureError("config.json") }
        for (key, value) in members where !["transformers_version", "bos_token_id", "eos_token_id"].contains(key) {
            #expect(config[key] == value, "\(key)")
        }
        // The directory reads back: same checkpoint.
        var o = GPT2Import.Options()
        o.seed = ckpt.training.seed
        let again = try GPT2Import.readTransformers(directory: dir, options: o)
        #expect(again.tensors == ckpt.tensors && again.config == ckpt.config)
        if c.V == 256 && ckpt.vocabulary.kind == .byte {
            // A byte vocabulary comes back as the equivalent BPE: id = byte value, no merges.
            #expect(again.vocabulary.kind == .bpe && again.vocabulary.bpe?.merges == [])
            let text = Array("héllo, wörld 🌍\n\t".utf8)
            #expect(try again.vocabulary.encode(text, source: "t") == text.map { Int32($0) })
        } else {
            #expect(again.vocabulary == ckpt.vocabulary)
            // tokenizers' own files: vocab.json equal as JSON, merges.txt byte for byte.
            #expect(files["merges.txt"] == FileManager.default.contents(atPath: c.directory + "/merges.txt").map(Array.init))
            #expect(try HeaderJSON.parse(files["vocab.json"]!) == HeaderJSON.parse(Array(FileManager.default.contents(atPath: c.directory + "/vocab.json")!)))
            // tokenizer.json member for member, but for two model members that mean the same:
            // the fixture's tokenizer was rebuilt by ByteLevelBPETokenizer(vocab, merges),
            // which writes "" where a trained one (and ours) writes null.
            let ours = try HeaderJSON.parse(files["tokenizer.json"]!)
            let theirs = try HeaderJSON.parse(Array(FileManager.default.contents(atPath: c.directory + "/tokenizer.json")!))
            #expect(theirs["model"]?["continuing_subword_prefix"] == .string("") && theirs["model"]?["end_of_word_suffix"] == .string(""))
            let normalized = theirs.replacing(path: ["model", "continuing_subword_prefix"], with: .null)
                .replacing(path: ["model", "end_of_word_suffix"], with: .null)
            #expect(ours == normalized)
        }
    }

    @Test func exportRefusesWhatTransformersCannotHold() throws {
        var gpt = interopSampleCheckpoint(.gptSmall(vocabSize: 4), vocabulary: Vocabulary(kind: .char, tokens: ["a", "b", "c", "d"]))
        #expect(throws: InputError("checkpoint", "arch gpt has no transformers form; only gpt2 checkpoints export to Hugging Face")) {
            try GPT2Export.files(gpt)
        }
        gpt = try Self.importFixture(HFFixtures.configs.first { $0.name == "l1-t8-v97" }!)  // a word vocabulary
        #expect(throws: InputError("checkpoint", "a word vocabulary has no Hugging Face tokenizer form (bpe and byte do)")) {
            try GPT2Export.files(gpt)
        }
    }
}
