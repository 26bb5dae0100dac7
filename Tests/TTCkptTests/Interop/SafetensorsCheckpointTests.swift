import Foundation
import Testing
@testable import TTCore
@testable import TTFormat
@testable import TTInterop

/// A checkpoint with distinct, exactly representable values in every tensor (so a tensor
/// put under another name would be caught), for any config.
func interopSampleCheckpoint(_ config: ModelConfig = .tutorial, vocabulary: Vocabulary = .tutorial,
                             momentScale: Float = 1) -> Checkpoint {
    let layout = ParameterLayout(config: config)
    var tensors: [NamedTensor] = []
    for (r, role) in [TensorRole.parameter, .adamM, .adamV].enumerated() {
        for (s, slot) in layout.slots.enumerated() {
            let values = (0..<slot.count).map { i in Float(r * 1000 + s) + Float(i % 64) / 64 * (role == .parameter ? 1 : momentScale) }
            tensors.append(NamedTensor(name: role.namePrefix + slot.name, role: role, shape: slot.shape, values: values))
        }
    }
    var training = TrainingState(rng: PythonRandom(seed: 7).state)
    training.seed = 7
    training.step = 3
    training.tokensSeen = 12
    training.lossHistory = [1.8, 1.5, 1.2]
    training.sessionStarts = [0]
    return Checkpoint(config: config, vocabulary: vocabulary, training: training, tensors: tensors)
}

@Suite struct SafetensorsCheckpointTests {
    func exported(_ ckpt: Checkpoint, includeOptimizer: Bool, metadata keep: Bool = true,
                  edit: (inout [SafetensorsTensor]) -> Void = { _ in }) throws -> SafetensorsFile {
        try exported(ckpt, includeOptimizer: includeOptimizer, metadata: keep, editMetadata: { _ in }, edit: edit)
    }

    func exported(_ ckpt: Checkpoint, includeOptimizer: Bool, metadata keep: Bool = true,
                  editMetadata: (inout [String: String]) -> Void,
                  edit: (inout [SafetensorsTensor]) -> Void = { _ in }) throws -> SafetensorsFile {
        var (tensors, metadata) = SafetensorsCheckpoint.exportContents(ckpt, includeOptimizer: includeOptimizer)
        edit(&tensors)
        editMetadata(&metadata)
        let path = try interopTempDir("ckpt") + "/x.safetensors"
        try SafetensorsWriter.write(tensors, metadata: keep ? metadata : nil, to: path)
        return try SafetensorsFile(path: path)
    }

    @Test func exportWritesCanonicalNamesAndMetadata() throws {
        let ckpt = interopSampleCheckpoint()
        let file = try exported(ckpt, includeOptimizer: false)
        let layout = ParameterLayout(config: .tutorial)
        #expect(Set(file.tensors.map(\.name)) == Set(layout.slots.map(\.name)))
        let meta = try #require(file.metadata)
        #expect(meta["arch"] == "tutorial" && meta["vocab_size"] == "6" && meta["d_model"] == "16")
        #expect(meta["n_heads"] == "2" && meta["d_ff"] == "64" && meta["n_layers"] == "1" && meta["context"] == "5")
        #expect(meta["tokenizer"] == "word")
        #expect(meta["vocabulary"] == #"["<PAD>","<BOS>","<EOS>","I","like","transformers"]"#)
        #expect(meta["step"] == "3" && meta["seed"] == "7")
        #expect(meta["loss_history"] == "[1.8,1.5,1.2]" && meta["session_starts"] == "[0]")
        let wq = try #require(file.tensor(named: "layers.0.attn.wq"))
        #expect(wq.shape == [2, 16, 8])
        #expect(try file.loadFloats(wq) == ckpt.tensors.first { $0.name == "layers.0.attn.wq" }!.values)
    }

    @Test func roundTripWithOptimizerKeepsEverything() throws {
        let ckpt = interopSampleCheckpoint(.gptSmall(vocabSize: 5), vocabulary: Vocabulary(kind: .char, tokens: ["a", "b", "\n", "\"", "é"]))
        let file = try exported(ckpt, includeOptimizer: true)
        #expect(file.tensors.count == 3 * ParameterLayout(config: ckpt.config).slots.count)
        let back = try SafetensorsCheckpoint.importCheckpoint(file)
        #expect(back.config == ckpt.config)
        #expect(back.vocabulary == ckpt.vocabulary)
        #expect(back.tensors == ckpt.tensors)
        #expect(back.training.step == 3 && back.training.tokensSeen == 12 && back.training.seed == 7)
        #expect(back.training.rng == PythonRandom(seed: 7).state)
        #expect(back.training.lossHistory == [1.8, 1.5, 1.2] && back.training.sessionStarts == [0])
        #expect(back.training.data == nil)
    }

    /// Issue 11 #12: bad progress metadata next to optimizer moments is an error naming the
    /// key, with the content rules' messages (spec/FORMAT.md §3.3), never a silent reset
    /// that keeps the moments.
    @Test func badProgressMetadataIsAnErrorNotAReset() throws {
        let ckpt = interopSampleCheckpoint()  // step 3, tokens_seen 12, losses [1.8, 1.5, 1.2], sessions [0]
        let cases: [(String, String?, String)] = [
            ("loss_history", nil, "__metadata__ loss_history: missing; the file has optimizer moments, which need the training progress (step, tokens_seen, loss_history, session_starts)"),
            ("loss_history", "[1.8,1.5]", "__metadata__ loss_history: 2 losses for 3 steps; there is one loss per step"),
            ("loss_history", "[1.8,\"x\",1.2]", "__metadata__ loss_history: element 1 is not a number"),
            ("loss_history", "[1.8,null,1.2]", "__metadata__ loss_history: element 1 is not a number"),
            ("loss_history", "[1.8,1e999,1.2]", "__metadata__ loss_history: element 1 (1e999) is not a finite float32"),
            ("step", "9223372036854775807", "__metadata__ loss_history: 3 losses for 9223372036854775807 steps; there is one loss per step"),
            ("session_starts", "[2,1]", "__metadata__ session_starts: element 1 (1) is less than element 0 (2); sessions start in order"),
            ("session_starts", "[0,4]", "__metadata__ session_starts: element 1 (4) is not in 0...3, the steps taken"),
            ("tokens_seen", "5000000", "__metadata__ tokens_seen: 5000000 tokens seen in 3 steps, more than 3 × 5 positions × 65536 sequences"),
        ]
        for (key, value, message) in cases {
            let file = try exported(ckpt, includeOptimizer: true, editMetadata: { $0[key] = value })
            #expect {
                try SafetensorsCheckpoint.importCheckpoint(file)
            } throws: { e in
                "\(e)" == file.path + ": " + message
            }
        }
        // "NaN" is not JSON at all: the parser's error, naming the key and the byte.
        let nan = try exported(ckpt, includeOptimizer: true, editMetadata: { $0["loss_history"] = "[1.8,NaN,1.2]" })
        #expect {
            try SafetensorsCheckpoint.importCheckpoint(nan)
        } throws: { e in
            "\(e)" == nan.path + ": __metadata__ loss_history: invalid JSON at byte 5: unexpected character"
        }
    }

    /// Issue 11 #12: the importer applies the vocabulary rules of the .ttc reader.
    @Test func vocabularyRulesAreTheReaders() throws {
        let cases: [(String, String, String)] = [
            ("byte", #"["a","b","c","d","e","f"]"#, "vocabulary: a byte vocabulary has exactly 256 tokens, this one 6"),
            ("char", #"["a","b","ab","c","d","e"]"#, "vocabulary: token 2 'ab' is 2 characters; a char vocabulary has one Unicode scalar per token"),
            ("word", #"["<PAD>","<BOS>","<EOS>","","like","x"]"#, "vocabulary: token 3 is empty"),
            ("word", #"["<PAD>","<BOS>","<EOS>","I like","like","x"]"#, "vocabulary: token 3 'I like' contains whitespace (U+0020); word tokens are split at whitespace"),
            ("word", #"["<PAD>","<BOS>","<EOS>","I","like","I"]"#, "vocabulary: tokens 3 and 5 are the same, 'I'"),
        ]
        for (kind, list, message) in cases {
            let file = try exported(interopSampleCheckpoint(), includeOptimizer: false, editMetadata: {
                $0["tokenizer"] = kind
                $0["vocabulary"] = list
            })
            #expect {
                try SafetensorsCheckpoint.importCheckpoint(file)
            } throws: { e in
                "\(e)" == file.path + ": " + message
            }
        }
    }

    @Test func withoutOptimizerMomentsAreZeroAndStepIsZero() throws {
        let ckpt = interopSampleCheckpoint()
        let back = try SafetensorsCheckpoint.importCheckpoint(try exported(ckpt, includeOptimizer: false))
        #expect(back.tensors.filter { $0.role == .parameter } == ckpt.tensors.filter { $0.role == .parameter })
        let moments = back.tensors.filter { $0.role != .parameter }
        #expect(moments.map(\.name) == ckpt.tensors.filter { $0.role != .parameter }.map(\.name))
        #expect(moments.allSatisfy { $0.values.allSatisfy { $0 == 0 } })
        #expect(back.training.step == 0 && back.training.tokensSeen == 0)
    }

    @Test func infersConfigFromShapesWithoutMetadata() throws {
        let config = ModelConfig(arch: .gpt, vocabSize: 7, dModel: 12, nHeads: 3, dFF: 20, nLayers: 2, context: 9)
        let vocab = Vocabulary(kind: .char, tokens: ["a", "b", "c", "d", "e", "f", "g"])
        let file = try exported(interopSampleCheckpoint(config, vocabulary: vocab), includeOptimizer: false, metadata: false)
        #expect(throws: FormatError.self) { try SafetensorsCheckpoint.importCheckpoint(file) }  // no vocabulary
        var options = SafetensorsCheckpoint.ImportOptions()
        options.vocabulary = vocab
        let back = try SafetensorsCheckpoint.importCheckpoint(file, options: options)
        #expect(back.config == config)
        #expect(back.training.seed == 42)
    }

    func importFailure(_ file: SafetensorsFile, _ options: SafetensorsCheckpoint.ImportOptions = .init()) -> String? {
        do {
            _ = try SafetensorsCheckpoint.importCheckpoint(file, options: options)
            return nil
        } catch let e as FormatError {
            return e.message
        } catch {
            return "unexpected \(error)"
        }
    }

    @Test func missingTensorIsNamed() throws {
        let file = try exported(interopSampleCheckpoint(), includeOptimizer: false) { $0.removeAll { $0.name == "layers.0.ffn.b2" } }
        #expect(importFailure(file) == #"tensor 'layers.0.ffn.b2' is missing"#)
    }

    @Test func missingMomentIsNamed() throws {
        let file = try exported(interopSampleCheckpoint(), includeOptimizer: true) { $0.removeAll { $0.name == "adam_v.lm_head" } }
        #expect(importFailure(file) == #"tensor 'adam_v.lm_head' is missing (the file has other optimizer moments)"#)
    }

    @Test func misShapedTensorIsNamed() throws {
        let file = try exported(interopSampleCheckpoint(), includeOptimizer: false) { tensors in
            let i = tensors.firstIndex { $0.name == "layers.0.attn.wo" }!
            tensors[i].shape = [8, 32]  // same count, other shape
        }
        #expect(importFailure(file) == "tensor 'layers.0.attn.wo' has shape [8, 32], expected [16, 16]")
    }

    @Test func unexpectedTensorIsNamed() throws {
        let file = try exported(interopSampleCheckpoint(), includeOptimizer: false) {
            $0.append(SafetensorsTensor(name: "layers.0.extra", shape: [1], values: [1]))
        }
        #expect(importFailure(file) == #"tensor 'layers.0.extra' is not part of the tutorial layout for this config"#)
    }

    @Test func optionsThatContradictTheShapesFail() throws {
        let file = try exported(interopSampleCheckpoint(), includeOptimizer: false)
        var options = SafetensorsCheckpoint.ImportOptions()
        options.config.dFF = 32
        #expect(importFailure(file, options) == "tensor 'layers.0.ffn.w1' has shape [64, 16], expected [32, 16]")
        options = .init()
        options.config.nHeads = 3
        #expect(importFailure(file, options) == "config n_heads: 3 heads do not divide d_model 16")
    }

    @Test func vocabularyMustMatchVocabSize() throws {
        let file = try exported(interopSampleCheckpoint(), includeOptimizer: false)
        var options = SafetensorsCheckpoint.ImportOptions()
        options.vocabulary = Vocabulary(kind: .word, tokens: ["a", "b"])
        #expect(importFailure(file, options) == "vocabulary: 2 tokens, but the model's vocab_size is 6")
    }

    @Test func nonFiniteValuesAreRejected() throws {
        let file = try exported(interopSampleCheckpoint(), includeOptimizer: false) { tensors in
            let i = tensors.firstIndex { $0.name == "pos_emb" }!
            tensors[i].values[17] = .nan
        }
        #expect(importFailure(file) == #"tensor 'pos_emb' has a non-finite value at element 17"#)
    }

    @Test func vocabularyFileFormats() throws {
        let lines = try VocabularyFile.parse(Array("<PAD>\r\nI\n\nlike\n".utf8), kind: .word)
        #expect(lines.tokens == ["<PAD>", "I", "", "like"])
        let json = try VocabularyFile.parse(Array(#" ["\n", "a"]"#.utf8), kind: .char)
        #expect(json.tokens == ["\n", "a"] && json.kind == .char)
        #expect(throws: ConfigError.self) { try VocabularyFile.parse(Array("a\nb\na\n".utf8), kind: .word) }
        #expect(throws: ConfigError.self) { try VocabularyFile.parse([0xFF, 0x0A], kind: .word) }
    }

    @Test func throughTheTTCFormatAndBack() throws {
        let dir = try interopTempDir("ttc")
        var sample = interopSampleCheckpoint(.gptSmall(vocabSize: 4), vocabulary: Vocabulary(kind: .char, tokens: ["a", "b", "c", "d"]))
        sample.training.sessionStarts = [0, 2]
        try CheckpointWriter.write(sample, to: dir + "/a.ttc")
        let read = try CheckpointReader(path: dir + "/a.ttc").readCheckpoint()
        try SafetensorsCheckpoint.export(read, to: dir + "/a.safetensors", includeOptimizer: true)
        let back = try SafetensorsCheckpoint.importCheckpoint(try SafetensorsFile(path: dir + "/a.safetensors"))
        try CheckpointWriter.write(back, to: dir + "/b.ttc")
        let final = try CheckpointReader(path: dir + "/b.ttc").readCheckpoint()
        #expect(final.tensors == sample.tensors)
        #expect(final.config == sample.config && final.vocabulary == sample.vocabulary)
        #expect(final.training.step == 3 && final.training.lossHistory == sample.training.lossHistory)
        #expect(final.training.sessionStarts == [0, 2])
    }
}
