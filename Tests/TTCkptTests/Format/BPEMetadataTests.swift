import Testing
import TTCore
@testable import TTFormat
@testable import TTInterop
@testable import TTTokenizer

/// A bpe vocabulary in a .ttc: `vocab.tokens` (byte-level spellings), `vocab.merges` and the
/// `vocab.bpe.*` keys, written and read back; each bad value is one error naming its key.
@Suite struct BPEMetadataTests {
    /// A gpt checkpoint whose vocabulary is the 260-token tokenizer of BPEFileValidationTests.
    static func checkpoint() throws -> Checkpoint {
        let tokenizer = try BPEFiles.tokenizer(fromTokenizerJSON: BPEFileValidationTests.document(), file: "tok.json")
        let vocabulary = Vocabulary(tokenizer)
        let config = ModelConfig(arch: .gpt, vocabSize: vocabulary.tokens.count, dModel: 8, nHeads: 2, dFF: 16,
                                 nLayers: 1, context: 4)
        return FormatFixtures.checkpoint(config: config, vocabulary: vocabulary, steps: 1)
    }

    @Test func bpeVocabularyRoundTrips() throws {
        let c = try Self.checkpoint()
        let bytes = try CheckpointWriter.encodedBytes(c)
        let reader = try CheckpointReader(bytes: bytes, name: "b.ttc")
        #expect(reader.vocabulary == c.vocabulary)
        #expect(reader.vocabulary.bpe?.merges == [71, 68, 220, 83, 257, 256])
        #expect(reader.vocabulary.bpe?.addedIDs == [259] && reader.vocabulary.bpe?.addedFlags == [1])
        for key in ["vocab.merges", "vocab.bpe.pre_tokenizer", "vocab.bpe.added_ids", "vocab.bpe.added_flags",
                    "vocab.bpe.add_prefix_space", "vocab.bpe.ignore_merges"] {
            #expect(reader.metadataKeys.contains(key), "\(key)")
        }
        #expect(try reader.readCheckpoint() == c)
        // Encoding through the vocabulary read back gives the tokenizer's ids.
        #expect(try reader.vocabulary.encode(" the<|endoftext|>", source: "x") == [258, 259])
    }

    /// Other kinds write none of the bpe keys, so their files are unchanged.
    @Test func otherKindsWriteNoBPEKeys() throws {
        let reader = try CheckpointReader(bytes: try CheckpointWriter.encodedBytes(FormatFixtures.checkpoint()), name: "t.ttc")
        #expect(!reader.metadataKeys.contains { $0 == "vocab.merges" || $0.hasPrefix("vocab.bpe.") })
    }

    @Test func badValuesNameTheirKey() throws {
        let base = try Self.checkpoint()
        let cases: [(String, MetaValue?, FormatError.Kind, String)] = [
            (MetaKey.vocabMerges, nil, .missingKey, "metadata: missing required key 'vocab.merges'"),
            (MetaKey.bpePreTokenizer, nil, .missingKey, "metadata: missing required key 'vocab.bpe.pre_tokenizer'"),
            (MetaKey.vocabMerges, .stringArray(["h e"]), .wrongType, "metadata key 'vocab.merges': type array<string>, expected array<u32>"),
            (MetaKey.bpeAddPrefixSpace, .u64(1), .wrongType, "metadata key 'vocab.bpe.add_prefix_space': type u64, expected bool"),
            (MetaKey.vocabMerges, .u32Array([71, 68, 220]), .invalidValue, "metadata key 'vocab.merges': has 3 ids, not an even number"),
            (MetaKey.vocabMerges, .u32Array([71, 68, 71, 68]), .invalidValue,
             "metadata key 'vocab.merges': merge 1 (\"h\" \"e\") repeats merge 0"),
            (MetaKey.vocabMerges, .u32Array([71, 71]), .invalidValue,
             "metadata key 'vocab.merges': merge 0 (\"h\" \"h\"): the merged token \"hh\" is not in the vocabulary"),
            (MetaKey.vocabMerges, .u32Array([71, 5000]), .invalidValue,
             "metadata key 'vocab.merges': merge 0 names id 5000, out of range (260 tokens)"),
            (MetaKey.bpePreTokenizer, .string("llama3"), .invalidValue,
             "metadata key 'vocab.bpe.pre_tokenizer': \"llama3\" is not a known pre-tokenizer (only \"gpt2\")"),
            (MetaKey.bpeAddedIDs, .u32Array([300]), .invalidValue, "metadata key 'vocab.bpe.added_ids': id 300 is out of range (260 tokens)"),
            (MetaKey.bpeAddedFlags, .u32Array([4]), .invalidValue, "metadata key 'vocab.bpe.added_flags': flags 4 of id 259 has unknown bits"),
            // Id 258 read as an added token is the 5 bytes "Ġthe" as written, so merge 2's
            // result " the" is gone.
            (MetaKey.bpeAddedIDs, .u32Array([258]), .invalidValue,
             "metadata key 'vocab.merges': merge 2 (\"Ġt\" \"he\"): the merged token \"Ġthe\" is not in the vocabulary"),
        ]
        for (key, value, kind, message) in cases {
            var f = CraftedFile(base)
            f.setMeta(key, value)
            let e = FormatFixtures.readError(f.bytes(), name: "b.ttc")
            #expect(e?.kind == kind, "\(key): \(String(describing: e))")
            #expect(e?.description == "b.ttc: " + message)
        }
        // A token that is not a byte-level spelling (a space is spelled "Ġ").
        var f = CraftedFile(base)
        var tokens = base.vocabulary.tokens
        tokens[256] = "h e"
        f.setMeta(MetaKey.vocabTokens, .stringArray(tokens))
        #expect(FormatFixtures.readError(f.bytes(), name: "b.ttc")?.description
                == "b.ttc: metadata key 'vocab.tokens': token 256 \"h e\" is not a byte-level spelling and not an added token")
        // Two tokens with the same bytes: the content rule every vocabulary obeys (spec/FORMAT.md
        // §3.3, ContentRules) reports it before the BPE rules.
        tokens = base.vocabulary.tokens
        tokens[256] = "Ġthe"
        f.setMeta(MetaKey.vocabTokens, .stringArray(tokens))
        #expect(FormatFixtures.readError(f.bytes(), name: "b.ttc")?.description
                == "b.ttc: metadata key 'vocab.tokens': tokens 256 and 258 are the same, 'Ġthe'")
    }

    @Test func bpeKeysAreRefusedWithOtherKinds() {
        var f = CraftedFile(FormatFixtures.checkpoint())
        f.setMeta(MetaKey.vocabMerges, .u32Array([]))
        let e = FormatFixtures.readError(f.bytes(), name: "t.ttc")
        #expect(e?.kind == .invalidValue)
        #expect(e?.description == "t.ttc: metadata key 'vocab.merges' is only allowed with vocab.kind 'bpe'")
    }

    /// The writer refuses what the reader would refuse.
    @Test func writerRefusesAnInvalidBPEVocabulary() throws {
        var c = try Self.checkpoint()
        c.vocabulary.bpe!.merges = [71]
        #expect(throws: FormatError.self) { try CheckpointWriter.encodedBytes(c) }
        c.vocabulary.bpe = nil
        #expect(throws: FormatError.self) { try CheckpointWriter.encodedBytes(c) }
    }
}
