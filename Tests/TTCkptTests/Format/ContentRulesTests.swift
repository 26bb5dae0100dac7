import Foundation
import Testing
@testable import TTCore
@testable import TTFormat

/// Issue 11 #12: the content rules of spec/FORMAT.md §3.2, enforced by the reader and the
/// writer through the one function in TTCore (`ContentRules`), with exact messages.
@Suite struct ContentRulesTests {
    static let base = FormatFixtures.checkpoint()

    /// The reader's error for the base checkpoint with `change` applied to its metadata.
    static func readError(_ change: (inout CraftedFile) -> Void) -> FormatError? {
        var f = CraftedFile(base)
        change(&f)
        return FormatFixtures.readError(f.bytes(), name: "bad.ttc")
    }

    static func vocabulary(_ kind: String, _ tokens: [String]) -> (inout CraftedFile) -> Void {
        { f in
            f.setMeta(MetaKey.vocabKind, .string(kind))
            f.setMeta(MetaKey.vocabTokens, .stringArray(tokens))
        }
    }

    @Test func vocabularyRulesWithExactMessages() {
        // The tutorial config has V = 6, so each vocabulary below has 6 tokens unless the
        // count is what is wrong.
        let cases: [(String, [String], String)] = [
            ("word", ["<PAD>", "<BOS>", "<EOS>", "I", "like", "I"],
             "tokens 3 and 5 are the same, 'I'"),
            ("word", ["<PAD>", "<BOS>", "<EOS>", "", "like", "x"],
             "token 3 is empty"),
            ("word", ["<PAD>", "<BOS>", "<EOS>", "I like", "like", "x"],
             "token 3 'I like' contains whitespace (U+0020); word tokens are split at whitespace"),
            ("word", ["<PAD>", "<BOS>", "<EOS>", "I", "li\u{2003}ke", "x"],
             "token 4 'li\u{2003}ke' contains whitespace (U+2003); word tokens are split at whitespace"),
            ("char", ["a", "b", "ab", "c", "d", "e"],
             "token 2 'ab' is 2 characters; a char vocabulary has one Unicode scalar per token"),
            ("char", ["a", "b", "c", "d", "e", "\u{1b}"], ""),  // one scalar, even a control: fine
            ("char", ["a", "b", "c", "d", "e", "a"], "tokens 0 and 5 are the same, 'a'"),
            ("byte", ["a", "b", "c", "d", "e", "f"], "a byte vocabulary has exactly 256 tokens, this one 6"),
            ("word", ["<PAD>", "<BOS>", "<EOS>", "I", "like"], "5 tokens, but the model's vocab_size is 6"),
        ]
        for (kind, tokens, message) in cases {
            let e = Self.readError(Self.vocabulary(kind, tokens))
            if message.isEmpty {
                #expect(e == nil, "\(tokens): \(String(describing: e))")
                continue
            }
            #expect(e?.kind == .invalidValue)
            #expect(e?.description == "bad.ttc: metadata key 'vocab.tokens': \(message)".replacingOccurrences(of: "\u{2003}", with: "\u{2003}"),
                    "\(String(describing: e))")
        }
    }

    @Test func byteVocabularyIsTheByteLabels() throws {
        var config = ModelConfig.tutorial
        config.vocabSize = 256
        var c = FormatFixtures.checkpoint(config: config, vocabulary: .bytes)
        // The canonical labels read back.
        let bytes = try CheckpointWriter.encodedBytes(c)
        #expect(try CheckpointReader(bytes: bytes, name: "b.ttc").vocabulary == .bytes)
        #expect(Vocabulary.bytes.tokens[0x41] == "A" && Vocabulary.bytes.tokens[0x20] == "<0x20>" && Vocabulary.bytes.tokens[0xFF] == "<0xFF>")
        // Any other label is refused, naming the byte.
        c.vocabulary.tokens[65] = "x"
        #expect {
            try CheckpointWriter.encodedBytes(c)
        } throws: { e in
            (e as? FormatError)?.description == "<memory>: cannot write: metadata key 'vocab.tokens': token 65 is 'x', expected 'A', the label of byte 0x41"
        }
    }

    @Test func progressCrossChecksWithExactMessages() {
        // The base checkpoint: step 3, tokens_seen 3702, batch 3, sessions [0, 1], context 5.
        let cases: [((inout CraftedFile) -> Void, String)] = [
            ({ $0.setMeta(MetaKey.lossHistory, .f32Array([1, 2])) },
             "metadata key 'train.loss_history': 2 losses for 3 steps; there is one loss per step"),
            ({ f in
                f.setMeta(MetaKey.step, .u64(0)); f.setMeta(MetaKey.lossHistory, .f32Array([]))
                f.setMeta(MetaKey.sessionStarts, .u64Array([0]))
             }, "metadata key 'train.tokens_seen': 3702 tokens seen in 0 steps"),
            ({ $0.setMeta(MetaKey.tokensSeen, .u64(3 * 5 * 65536 + 1)) },
             "metadata key 'train.tokens_seen': 983041 tokens seen in 3 steps, more than 3 × 5 positions × 65536 sequences"),
            ({ $0.setMeta(MetaKey.sessionStarts, .u64Array([0, 2, 1])) },
             "metadata key 'train.session_starts': element 2 (1) is less than element 1 (2); sessions start in order"),
            ({ $0.setMeta(MetaKey.sessionStarts, .u64Array([0, 4])) },
             "metadata key 'train.session_starts': element 1 (4) is not in 0...3, the steps taken"),
            ({ $0.setMeta(MetaKey.batchSize, .u64(65537)) },
             "metadata key 'train.batch_size': must be in 1...65536, got 65537"),
            ({ $0.setMeta(MetaKey.step, .u64(UInt64(Int64.max))) },
             "metadata key 'train.loss_history': 3 losses for 9223372036854775807 steps; there is one loss per step"),
        ]
        for (change, message) in cases {
            let e = Self.readError(change)
            #expect(e?.kind == .invalidValue)
            #expect(e?.description == "bad.ttc: " + message, "\(String(describing: e))")
        }
        // The bound is inclusive: exactly step × context × 65536 tokens is allowed.
        #expect(Self.readError { $0.setMeta(MetaKey.tokensSeen, .u64(3 * 5 * 65536)) } == nil)
    }

    /// The writer runs the same rules, so it never writes what the reader refuses.
    @Test func writerRefusesWhatTheReaderRefuses() {
        var dup = Self.base
        dup.vocabulary.tokens[5] = "I"
        var tokens = Self.base
        tokens.training.step = 0
        tokens.training.lossHistory = []
        tokens.training.sessionStarts = []
        for (c, mention) in [(dup, "tokens 3 and 5 are the same"), (tokens, "tokens seen in 0 steps")] {
            #expect {
                try CheckpointWriter.encodedBytes(c)
            } throws: { e in
                (e as? FormatError)?.kind == .invalidCheckpoint && (e as? FormatError)!.description.contains(mention)
            }
        }
    }

    /// One rule, one place: the function the importer shares gives the field and the
    /// message without the .ttc key spelling.
    @Test func sharedFunctionNamesTheField() {
        #expect {
            try ContentRules.checkProgress(step: 2, tokensSeen: 10, lossCount: 2, sessionStarts: [1, 0], batchSize: 1, context: 4)
        } throws: { e in
            e as? ContentRuleError == ContentRuleError(field: "train.session_starts",
                                                       message: "element 1 (0) is less than element 0 (1); sessions start in order")
        }
        #expect {
            try ContentRules.checkVocabulary(Vocabulary(kind: .char, tokens: ["x", "yz"]), vocabSize: 2)
        } throws: { e in
            (e as? ContentRuleError)?.field == "vocab.tokens"
        }
    }
}
