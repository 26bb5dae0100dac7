import Testing
import TTCore
@testable import TTInterop
@testable import TTTokenizer

/// A tokenizer as the checkpoint keeps it: a `Vocabulary` of kind bpe (token spellings,
/// merges as ids, added tokens), read back through the tokenizer's validation.
@Suite struct BPEVocabularyFormTests {
    static func small() throws -> BPETokenizer {
        try BPEFiles.tokenizer(fromTokenizerJSON: BPEFileValidationTests.document(), file: "tok.json")
    }

    @Test func vocabularyFormRoundTrips() throws {
        let t = try BPEFixtures.trainedFromTokenizerJSON()
        let v = Vocabulary(t)
        #expect(v.kind == .bpe)
        #expect(v.tokens[0] == "<|endoftext|>" && v.tokens[1] == "!")
        #expect(v.tokens.count == 2000 && v.bpe?.merges.count == 2 * 1743)
        #expect(v.bpe?.addedIDs == [0] && v.bpe?.addedFlags == [1] && v.bpe?.preTokenizer == "gpt2")
        // The spec's example: the first merges as ids of tokenizers' tokenizer.json
        // (merge 0 is "à" "¸", merge 1 "Ġ" "Ġ").
        #expect(Array(v.bpe!.merges.prefix(6)) == [157, 117, 221, 221, 160, 224])
        let back = try BPETokenizer(vocabulary: v, source: "m.ttc")
        #expect(back == t)
        let text = try BPEFixtures.heldout()
        #expect(back.encode(text) == t.encode(text))
        // Through the Vocabulary API the checkpoint uses.
        #expect(try v.encode(text, source: "x") == t.encode(text))
        #expect(v.decodeBytes(t.encode(text)) == text)
    }

    @Test func vocabularyFormErrors() throws {
        let good = Vocabulary(try Self.small())
        func expectError(_ v: Vocabulary, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(throws: InputError("m.ttc", message), sourceLocation: sourceLocation) {
                try BPETokenizer(vocabulary: v, source: "m.ttc")
            }
        }
        var v = good
        v.bpe!.preTokenizer = "llama3"
        expectError(v, "vocab.bpe.pre_tokenizer: \"llama3\" is not a known pre-tokenizer (only \"gpt2\")")
        v = good
        v.bpe!.merges.removeLast()
        expectError(v, "vocab.merges: has 5 ids, not an even number")
        v = good
        v.bpe!.merges[0] = 999
        expectError(v, "vocab.merges: merge 0 names id 999, out of range (260 tokens)")
        v = good
        v.bpe!.addedIDs = [259, 259]
        v.bpe!.addedFlags = [1, 1]
        expectError(v, "vocab.bpe.added_ids: ids are not strictly increasing at 259")
        v = good
        v.bpe!.addedFlags = [8]
        expectError(v, "vocab.bpe.added_flags: flags 8 of id 259 has unknown bits")
        v = good
        v.tokens[256] = "h e"
        expectError(v, "vocab.tokens: token 256 \"h e\" is not a byte-level spelling and not an added token")
        v = good
        v.bpe = nil
        expectError(v, "vocab.merges: missing (a bpe vocabulary needs its merges)")
        v = good
        v.bpe!.addedIDs = []
        v.bpe!.addedFlags = []
        // <|endoftext|> then reads as an ordinary token spelled in the byte-level alphabet: valid.
        #expect(try BPETokenizer(vocabulary: v, source: "m.ttc").addedTokens.isEmpty)
    }
}
