import Testing
import TTCore
@testable import TTInterop
@testable import TTTokenizer

/// Encoding agrees with Hugging Face tokenizers on the held-out text (ids it wrote).
@Suite struct BPEFixtureEncodingTests {
    @Test func tokenizerJSONEncodesHeldoutLikeTokenizers() throws {
        let tokenizer = try BPEFixtures.trainedFromTokenizerJSON()
        let text = try BPEFixtures.heldout()
        let expected = try BPEFixtures.heldoutIDs("tokenizer_json")
        let ids = tokenizer.encode(text)
        #expect(ids.count == expected.count)
        #expect(ids == expected, "first difference at \(String(describing: zip(ids, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset))")
        #expect(try tokenizer.decode(ids) == text)
        // The held-out text has <|endoftext|> six times, each one id.
        #expect(ids.filter { $0 == 0 }.count == 6)
    }

    @Test func vocabAndMergesEncodeHeldoutLikeTokenizers() throws {
        let tokenizer = try BPEFixtures.trainedFromVocabAndMerges()
        let text = try BPEFixtures.heldout()
        let expected = try BPEFixtures.heldoutIDs("vocab_merges")
        #expect(tokenizer.encode(text) == expected)
        #expect(try tokenizer.decode(expected) == text)
        // Without added-token matching, tokenizer.json's tokenizer reads <|endoftext|> as text.
        #expect(try BPEFixtures.trainedFromTokenizerJSON().encode(text, matchingAddedTokens: false) == expected)
    }

    @Test func prefixSpaceMatchesTokenizers() throws {
        var root = try BPEFixtures.json("trained-tokenizer.json")
        root = root.replacing(path: ["pre_tokenizer", "add_prefix_space"], with: .bool(true))
        let tokenizer = try BPEFiles.tokenizer(fromTokenizerJSON: root, file: "t.json")
        #expect(tokenizer.options.addPrefixSpace)
        let text = try BPEFixtures.heldout()
        let ids = tokenizer.encode(text)
        #expect(ids == (try BPEFixtures.heldoutIDs("prefix_space")))
        // Segments not starting with a space gained one: the first, "second doc ",
        // "\nCombining...", "> <" and "\nMixed..." (" third" has one; the empty segment
        // between two adjacent <|endoftext|> gets none).
        #expect(try tokenizer.decode(ids).count == text.count + 5)
    }

    /// Both file forms, and merges written as "a b" strings, give the same tokenizer.
    @Test func allFileFormsAgree() throws {
        let fromJSON = try BPEFixtures.trainedFromTokenizerJSON()
        let fromFiles = try BPEFixtures.trainedFromVocabAndMerges(specialTokens: ["<|endoftext|>"])
        #expect(fromJSON.count == 2000 && fromJSON.merges.count == 1743)
        #expect(fromJSON == fromFiles)
        let root = try BPEFixtures.json("trained-tokenizer.json")
        guard let merges = root["model"]?["merges"]?.arrayItems else { throw BPEFixtureError("no merges") }
        let asStrings = HeaderJSON.array(merges.map { .string($0.arrayItems!.map { $0.stringValue! }.joined(separator: " ")) })
        let legacy = try BPEFiles.tokenizer(fromTokenizerJSON: root.replacing(path: ["model", "merges"], with: asStrings), file: "t.json")
        #expect(legacy == fromJSON)
    }

    /// The 256 byte tokens have the ids tokenizers gave them: alphabet order after the special token.
    @Test func byteTokenIDsFollowTheAlphabetOrder() throws {
        let tokenizer = try BPEFixtures.trainedFromTokenizerJSON()
        for (k, b) in ByteLevel.alphabet.enumerated() {
            #expect(tokenizer.id(of: [b]) == Int32(k + 1))
        }
        #expect(ByteLevel.spelling(of: [0x20, 0x0A, 0x41, 0xAD]) == "ĠĊAŃ")
    }

    /// Our tokenizer.json is the document tokenizers saved, member for member.
    @Test func writtenTokenizerJSONEqualsTokenizersOwn() throws {
        let tokenizer = try BPEFixtures.trainedFromTokenizerJSON()
        let written = BPEFiles.tokenizerJSON(tokenizer)
        let reparsed = try HeaderJSON.parse(Array(written.serialized(pretty: false, escaping: .minimal).utf8))
        #expect(reparsed == (try BPEFixtures.json("trained-tokenizer.json")))
        #expect(BPEFiles.mergesText(tokenizer) == (try BPEFixtures.bytes("trained-merges.txt")))
        let vocab = try HeaderJSON.parse(Array(BPEFiles.vocabJSON(tokenizer).serialized(pretty: false, escaping: .minimal).utf8))
        #expect(vocab == (try BPEFixtures.json("trained-vocab.json")))
    }
}
