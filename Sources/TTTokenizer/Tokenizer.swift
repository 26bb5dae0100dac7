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
// Words are compared as UTF-8 bytes, never with String's canonical equivalence, so two
// spellings of "é" are two tokens and encoding is byte-exact.

extension Vocabulary {
    /// The 256-token byte vocabulary.
    public static let bytes = Vocabulary(kind: .byte, tokens: (0..<256).map { byteLabel(UInt8($0)) })

    /// The special tokens a word vocabulary always starts with, in id order.
    public static let wordSpecials = ["<PAD>", "<BOS>", "<EOS>"]

    /// Label of byte `b` in the byte vocabulary.
    public static func byteLabel(_ b: UInt8) -> String {
        if b >= 0x21 && b <= 0x7E { return String(UnicodeScalar(b)) }
        let hex = String(b, radix: 16, uppercase: true)
        return "<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"
    }

    /// Builds the vocabulary of `kind` from corpus bytes (see the rule at the top of this file).
    /// - Parameter source: the file name used in error messages.
    /// - Throws: `InputError` for an empty corpus, invalid UTF-8 (word, char), or more
    ///   distinct words or chars than `maxBuiltTokens` allows.
    public init(building kind: TokenizerKind, from corpus: [UInt8], source: String) throws {
        guard !corpus.isEmpty else { throw InputError(source, "is empty") }
        switch kind {
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
        var ids: [Int32] = []
        try encodeEach(text, source: source) { ids.append($0) }
        return ids
    }

    /// Encodes a string (a prompt); see `encode(_:source:)`.
    public func encode(_ text: String, source: String) throws -> [Int32] {
        try encode(Array(text.utf8), source: source)
    }

    /// Turns ids back into text: words joined by one space, chars concatenated, bytes
    /// concatenated and read as UTF-8 (invalid sequences become U+FFFD).
    /// - Precondition: every id is in 0..<tokens.count.
    public func decode<C: Collection>(_ ids: C) -> String where C.Element: BinaryInteger {
        switch kind {
        case .word:
            return ids.map { tokens[Int($0)] }.joined(separator: " ")
        case .char:
            return ids.map { tokens[Int($0)] }.joined()
        case .byte:
            return String(decoding: ids.map { UInt8(truncatingIfNeeded: Int($0)) }, as: UTF8.self)
        }
    }
}
