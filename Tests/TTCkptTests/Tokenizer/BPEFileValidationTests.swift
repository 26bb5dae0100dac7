import Testing
import TTCore
@testable import TTInterop
@testable import TTTokenizer

/// Hostile and malformed tokenizer files: each is one clear error naming the file and the problem.
@Suite struct BPEFileValidationTests {
    /// A small valid tokenizer.json: the 256 byte tokens (alphabet order), "he" (256),
    /// "Ġt" (257), "Ġthe" (258), <|endoftext|> (259); merges "h e", "Ġ t", "Ġt he".
    static func vocabMembers() -> [(String, HeaderJSON)] {
        var members = ByteLevel.alphabet.enumerated().map { (String(ByteLevel.scalarForByte[Int($0.element)]), HeaderJSON.int($0.offset)) }
        members += [("he", .int(256)), ("Ġt", .int(257)), ("Ġthe", .int(258)), ("<|endoftext|>", .int(259))]
        return members
    }

    static func document(vocab: [(String, HeaderJSON)] = vocabMembers(),
                         merges: [HeaderJSON] = [.string("h e"), .string("Ġ t"), .string("Ġt he")],
                         added: [HeaderJSON]? = nil) -> HeaderJSON {
        let special: HeaderJSON = .object([("id", .int(259)), ("content", .string("<|endoftext|>")), ("single_word", .bool(false)),
                                           ("lstrip", .bool(false)), ("rstrip", .bool(false)), ("normalized", .bool(false)),
                                           ("special", .bool(true))])
        return .object([
            ("version", .string("1.0")), ("added_tokens", .array(added ?? [special])), ("normalizer", .null),
            ("pre_tokenizer", .object([("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)),
                                       ("trim_offsets", .bool(true)), ("use_regex", .bool(true))])),
            ("decoder", .object([("type", .string("ByteLevel"))])),
            ("model", .object([("type", .string("BPE")), ("dropout", .null), ("vocab", .object(vocab)),
                               ("merges", .array(merges))])),
        ])
    }

    func load(_ doc: HeaderJSON) throws -> BPETokenizer {
        try BPEFiles.tokenizer(fromTokenizerJSON: doc, file: "tok.json")
    }

    func expectError(_ doc: HeaderJSON, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: InputError("tok.json", message), sourceLocation: sourceLocation) { try load(doc) }
    }

    @Test func theSmallDocumentLoadsAndEncodes() throws {
        let t = try load(Self.document())
        #expect(t.count == 260 && t.merges.count == 3)
        #expect(t.encode(" the<|endoftext|>") == [258, 259])
        #expect(t.encode(" the the") == [258, 258])
    }

    @Test func structureErrors() {
        expectError(.array([]), "the top level is an array, not an object")
        expectError(Self.document().replacing(path: ["model", "type"], with: .string("WordPiece")),
                    "model.type is \"WordPiece\"; only \"BPE\" is supported")
        expectError(Self.document().replacing(path: ["model", "dropout"], with: .number("0.1")),
                    "model.dropout is set; BPE dropout is not supported (it makes encoding random)")
        expectError(Self.document().replacing(path: ["normalizer"], with: .object([("type", .string("NFC"))])),
                    "normalizer \"NFC\" is not supported (only null)")
        expectError(Self.document().replacing(path: ["pre_tokenizer"], with: .object([("type", .string("Metaspace"))])),
                    "pre_tokenizer \"Metaspace\" is not supported (only ByteLevel with the GPT-2 pattern)")
        expectError(Self.document().replacing(path: ["pre_tokenizer", "use_regex"], with: .bool(false)),
                    "pre_tokenizer.use_regex is false; only the GPT-2 pattern is supported")
        expectError(Self.document().replacing(path: ["decoder"], with: .object([("type", .string("WordPiece"))])),
                    "decoder \"WordPiece\" is not supported (only ByteLevel)")
        expectError(Self.document().replacing(path: ["model", "merges"], with: .string("h e")),
                    "model.merges is a string, not an array")
    }

    @Test func vocabularyErrors() {
        var v = Self.vocabMembers()
        v[256].1 = .int(5)
        expectError(Self.document(vocab: v), "model.vocab: \"&\" and \"he\" have the same id 5")
        v = Self.vocabMembers()
        v[256].1 = .int(300)
        expectError(Self.document(vocab: v), "model.vocab: the id 300 of \"he\" is out of range: ids must be 0..<260 (260 tokens)")
        v[256].1 = .int(5_000_000)
        expectError(Self.document(vocab: v), "model.vocab: the id 5000000 of \"he\" is out of range (limit 1048576 tokens)")
        v[256].1 = .number("-1")
        expectError(Self.document(vocab: v), "model.vocab: the id of \"he\" is -1, not a non-negative integer")
        v[256].1 = .number("2.5e2")
        expectError(Self.document(vocab: v), "model.vocab: the id of \"he\" is 2.5e2, not a non-negative integer")
        v = Self.vocabMembers()
        v[256].0 = "h e"
        expectError(Self.document(vocab: v),
                    "model.vocab: the token \"h e\" (id 256) has the character U+20, which is not in the byte-level alphabet")
        v = Self.vocabMembers()
        v[256].0 = String(repeating: "a", count: 1025)
        expectError(Self.document(vocab: v, merges: []),
                    "model.vocab: the token \"\(String(repeating: "a", count: 1025))\" (id 256) is empty or longer than 1024 bytes")
        // Byte 0x00 ("Ā", the first of the 68 remapped bytes, at index 188) missing; ids renumbered.
        v = Self.vocabMembers()
        v.remove(at: 188)
        v = v.enumerated().map { ($0.element.0, .int($0.offset)) }
        expectError(Self.document(vocab: v, merges: [], added: []),
                    "the vocabulary lacks the one-byte token for byte 0x00 (\"Ā\")")
    }

    @Test func mergeErrors() {
        expectError(Self.document(merges: [.string("h e"), .string("zz e")]), "model.merges[1]: \"zz\" is not in the vocabulary")
        expectError(Self.document(merges: [.string("h h")]), "model.merges[0]: the merged token \"hh\" is not in the vocabulary")
        expectError(Self.document(merges: [.string("h e x")]), "model.merges[0]: expected two tokens separated by one space")
        expectError(Self.document(merges: [.string("he")]), "model.merges[0]: expected two tokens separated by one space")
        expectError(Self.document(merges: [.array([.string("h")])]), "model.merges[0] is neither \"a b\" nor [\"a\", \"b\"]")
        expectError(Self.document(merges: [.string("h e"), .array([.string("h"), .string("e")])]),
                    "merge 1 (\"h\" \"e\") repeats merge 0")
    }

    @Test func addedTokenErrors() {
        func added(_ members: [(String, HeaderJSON)]) -> HeaderJSON { .object(members) }
        expectError(Self.document(added: [added([("id", .int(259)), ("content", .string("<|endoftext|>")), ("lstrip", .bool(true))])]),
                    "added_tokens[0] (\"<|endoftext|>\"): lstrip true is not supported")
        expectError(Self.document(added: [added([("id", .int(258)), ("content", .string("<|endoftext|>"))])]),
                    "model.vocab: the id 258 of \"Ġthe\" belongs to the added token \"<|endoftext|>\"")
        expectError(Self.document(added: [added([("content", .string("<x>"))])]),
                    "added_tokens[0].id is missing or not a non-negative integer")
        // An added token beyond model.vocab extends the ids; a gap is out of range.
        expectError(Self.document(added: [added([("id", .int(261)), ("content", .string("<x>"))])]),
                    "added token \"<x>\": id 261 is out of range: ids must be 0..<261 (261 tokens)")
    }

    @Test func addedTokenBeyondTheVocabularyGetsItsID() throws {
        let doc = Self.document(added: [.object([("id", .int(260)), ("content", .string("<x>")), ("special", .bool(true))])])
        let t = try load(doc)
        #expect(t.count == 261)
        #expect(t.encode("a<x>") == [t.id(of: [0x61])!, 260])
        #expect(try t.decode([260], skippingSpecialTokens: true) == [])
    }

    @Test func fileLevelErrors() throws {
        #expect(throws: InputError("big.json", "67108865 bytes is more than the limit 67108864 for a tokenizer file")) {
            try BPEFiles.checkSize(64 << 20 + 1, file: "big.json")
        }
        #expect(throws: InputError("t.json", "invalid JSON at byte 10: unexpected end of input in an object")) {
            try BPEFiles.loadTokenizerJSON(Array("{\"model\":1".utf8), file: "t.json") { try HeaderJSON.parse($0) }
        }
    }

    // MARK: vocab.json + merges.txt

    static let vocabBytes: [UInt8] = Array(JSONValue.object(vocabMembers().map { ($0.0, .int($0.1.nonNegativeInt!)) })
        .serialized(pretty: false, escaping: .minimal).utf8)

    func loadFiles(_ merges: String, special: [String] = []) throws -> BPETokenizer {
        try BPEFiles.loadVocabAndMerges(vocab: Self.vocabBytes, vocabFile: "vocab.json", merges: Array(merges.utf8),
                                        mergesFile: "merges.txt", specialTokens: special) { try HeaderJSON.parse($0) }
    }

    @Test func mergesTextRules() throws {
        let t = try loadFiles("#version: 0.2\r\nh e\r\nĠ t\nĠt he", special: ["<|endoftext|>"])
        #expect(t.merges == [BPEMerge(71, 68), BPEMerge(220, 83), BPEMerge(257, 256)])
        #expect(t == (try load(Self.document())))
        #expect(throws: InputError("merges.txt", "line 3: expected two tokens separated by one space")) {
            try loadFiles("#version: 0.2\nh e\n\nĠ t\n")
        }
        #expect(throws: InputError("merges.txt", "line 2: \"zz\" is not in the vocabulary")) { try loadFiles("h e\nzz e\n") }
        #expect(throws: InputError("vocab.json", "the special token \"<s>\" is not in the vocabulary")) {
            try loadFiles("h e\n", special: ["<s>"])
        }
        #expect(throws: InputError("merges.txt", "is not valid UTF-8")) {
            try BPEFiles.loadVocabAndMerges(vocab: Self.vocabBytes, vocabFile: "vocab.json", merges: [0x68, 0x20, 0xFF],
                                            mergesFile: "merges.txt") { try HeaderJSON.parse($0) }
        }
        // More lines than merges allowed: rejected before any line is resolved.
        let many = [UInt8](repeating: 0, count: 0) + Array(repeating: Array("h e\n".utf8), count: (1 << 20) + 2).joined()
        #expect(throws: InputError("merges.txt", "1048578 lines is more than the limit 1048576 merges")) {
            try BPEFiles.loadVocabAndMerges(vocab: Self.vocabBytes, vocabFile: "vocab.json", merges: many,
                                            mergesFile: "merges.txt") { try HeaderJSON.parse($0) }
        }
    }
}
