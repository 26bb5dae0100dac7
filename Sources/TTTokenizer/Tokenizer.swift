import TTCore
// Text <-> token ids for the three tokenizer kinds.
//
// Vocabulary-building rule (documented in the README):
// - word: the corpus is UTF-8, split on Unicode whitespace (White_Space scalars). The
//   vocabulary is `<PAD> <BOS> <EOS>` (ids 0, 1, 2), then every other distinct word in
//   ascending UTF-8 byte order. `<PAD>` `<BOS>` `<EOS>` in the text are ordinary words that
//   map to those ids. The tutorial text "<BOS> I like transformers <EOS>" therefore
//   builds exactly the series' vocabulary `<PAD> <BOS> <EOS> I like transformers`.
// - char: the corpus is UTF-8; one token per Unicode scalar (not per grapheme, so no
//   normalization merges distinct byte sequences). The vocabulary is the distinct scalars
//   in ascending code point order; there are no special tokens.
// - byte: 256 tokens, id = byte value, whatever the corpus. Labels: the character itself
//   for printable ASCII 0x21...0x7E, `<0xNN>` (uppercase hex) for every other byte.
//
// - bpe: GPT-2's byte-level BPE (BPEModel.swift), learned from the corpus by `BPETrainer`
//   up to a requested size (ids: <|endoftext|> 0, the 256 byte tokens, then merges in the
//   order learned; ties between equally frequent pairs go to the smallest (left id, right
//   id)), or loaded from Hugging Face tokenizer files (TTInterop).
//
// Words are compared as UTF-8 bytes, never with String's canonical equivalence, so two
// spellings of "é" are two tokens and encoding is byte-exact.

extension Vocabulary {
    /// The special tokens a word vocabulary always starts with, in id order.
    public static let wordSpecials = ["<PAD>", "<BOS>", "<EOS>"]

    /// The special token a learned BPE vocabulary starts with (id 0), as GPT-2's end of text.
    public static let bpeEndOfText = "<|endoftext|>"

    /// Builds the vocabulary of `kind` from corpus bytes (see the rule at the top of this file).
    /// - Parameters:
    ///   - source: the file name used in error messages.
    ///   - vocabularySize: for `bpe` only, and required there: the number of tokens to learn
    ///     up to (`<|endoftext|>` and the 256 byte tokens included); fewer when the corpus
    ///     has no pair left that occurs twice.
    /// - Throws: `InputError` for an empty corpus, invalid UTF-8 (word, char), more distinct
    ///   words or chars than `maxBuiltTokens` allows, or a missing or out-of-range size (bpe).
    public init(building kind: TokenizerKind, from corpus: [UInt8], source: String, vocabularySize: Int? = nil) throws {
        guard !corpus.isEmpty else { throw InputError(source, "is empty") }
        switch kind {
        case .bpe:
            guard let size = vocabularySize else {
                throw InputError(setting: .vocabSize, "the bpe tokenizer learns a vocabulary of a given size", remedy: .give([.vocabSize]))
            }
            let trainer = BPETrainer(vocabularySize: size, specialTokens: [Self.bpeEndOfText])
            self.init(try trainer.train(corpus: corpus, source: source))
        case .byte: self = .bytes
        case .char: self = try Self.buildChars(corpus, source: source)
        case .word: self = try Self.buildWords(corpus, source: source)
        }
    }

    /// Splits `text` into symbols and maps each to its id.
    /// - Parameter source: the file or option named in error messages.
    /// - Throws: `InputError` for invalid UTF-8, or for symbols the vocabulary lacks: the
    ///   message lists the first five distinct ones (quoted and escaped) and how many more.
    public func encode(_ text: [UInt8], source: String) throws -> [Int32] {
        if kind == .bpe { return try BPETokenizer(vocabulary: self, source: "vocabulary").encode(text) }
        var ids: [Int32] = []
        try encodeEach(text, source: source) { ids.append($0) }
        return ids
    }

    /// Encodes a string (a prompt); see `encode(_:source:)`.
    public func encode(_ text: String, source: String) throws -> [Int32] {
        try encode(Array(text.utf8), source: source)
    }

    /// Turns ids back into text: words joined by one space, chars concatenated, bytes and
    /// BPE tokens' bytes concatenated and read as UTF-8 (invalid sequences become U+FFFD).
    /// - Precondition: every id is in 0..<tokens.count.
    public func decode<C: Collection>(_ ids: C) -> String where C.Element: BinaryInteger {
        switch kind {
        case .bpe:
            return String(decoding: decodeBytes(ids), as: UTF8.self)
        case .word:
            return ids.map { tokens[Int($0)] }.joined(separator: " ")
        case .char:
            return ids.map { tokens[Int($0)] }.joined()
        case .byte:
            return String(decoding: ids.map { UInt8(truncatingIfNeeded: Int($0)) }, as: UTF8.self)
        }
    }
}

extension Vocabulary {
    /// The bytes of `ids`, exactly: for byte and bpe vocabularies decode(encode(x)) == x for
    /// every byte string x (bpe: without add_prefix_space); word and char tokens' UTF-8 as
    /// `decode` joins them. Needs no tokenizer tables, so it is cheap per token.
    /// - Precondition: every id is in 0..<tokens.count.
    public func decodeBytes<C: Collection>(_ ids: C) -> [UInt8] where C.Element: BinaryInteger {
        switch kind {
        case .byte:
            return ids.map { UInt8(truncatingIfNeeded: Int($0)) }
        case .bpe:
            let added = Set(bpe?.addedIDs ?? [])
            var out: [UInt8] = []
            for raw in ids {
                let id = Int(raw)
                let spelling = tokens[id]
                if !added.contains(UInt32(id)), let bytes = ByteLevel.bytes(ofSpelling: spelling) {
                    out += bytes
                } else {
                    out += Array(spelling.utf8)
                }
            }
            return out
        case .word, .char:
            return Array(decode(ids).utf8)
        }
    }
}
