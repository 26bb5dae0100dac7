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
    /// - Throws: `InputError` for an empty corpus or invalid UTF-8 (word, char), a missing
    ///   or out-of-range size (bpe).
    public init(building kind: TokenizerKind, from corpus: [UInt8], source: String, vocabularySize: Int? = nil) throws {
        guard !corpus.isEmpty else { throw InputError(source, "is empty") }
        switch kind {
        case .bpe:
            guard let size = vocabularySize else {
                throw InputError(setting: .vocabSize, "the bpe tokenizer learns a vocabulary of a given size", remedy: .give([.vocabSize]))
            }
            let trainer = BPETrainer(vocabularySize: size, specialTokens: [Self.bpeEndOfText])
            self.init(try trainer.train(corpus: corpus, source: source))
        case .byte:
            self = .bytes
        case .char:
            let scalars = try decodeUTF8(corpus, source: source)
            let unique = Set(scalars.map(\.value)).sorted()
            self.init(kind: .char, tokens: unique.map { String(UnicodeScalar($0)!) })
        case .word:
            let words = splitWords(try decodeUTF8(corpus, source: source))
            guard !words.isEmpty else { throw InputError(source, "has no words (only whitespace)") }
            let specials = Set(Self.wordSpecials.map { Array($0.utf8) })
            let others = Set(words).subtracting(specials).sorted { $0.lexicographicallyPrecedes($1) }
            self.init(kind: .word, tokens: Self.wordSpecials + others.map { String(decoding: $0, as: UTF8.self) })
        }
    }

    /// Splits `text` into symbols and maps each to its id.
    /// - Parameter source: the file or option named in error messages.
    /// - Throws: `InputError` for invalid UTF-8, or for symbols the vocabulary lacks: the
    ///   message lists the first five distinct ones (quoted and escaped) and how many more.
    public func encode(_ text: [UInt8], source: String) throws -> [Int32] {
        switch kind {
        case .bpe:
            return try BPETokenizer(vocabulary: self, source: "vocabulary").encode(text)
        case .byte:
            guard tokens.count == 256 else {
                throw InputError(source, "byte vocabulary has \(tokens.count) tokens, not 256")
            }
            return text.map { Int32($0) }
        case .char:
            let scalars = try decodeUTF8(text, source: source)
            var index: [UInt32: Int32] = [:]
            for (id, token) in tokens.enumerated() {
                let s = token.unicodeScalars
                if s.count == 1 { index[s.first!.value] = index[s.first!.value] ?? Int32(id) }
            }
            var ids: [Int32] = []
            ids.reserveCapacity(scalars.count)
            var unknown = UnknownSymbols()
            for s in scalars {
                if let id = index[s.value] { ids.append(id) } else { unknown.add(String(s)) }
            }
            try unknown.check(source)
            return ids
        case .word:
            let words = splitWords(try decodeUTF8(text, source: source))
            var index: [[UInt8]: Int32] = [:]
            for (id, token) in tokens.enumerated() {
                let key = Array(token.utf8)
                if index[key] == nil { index[key] = Int32(id) }
            }
            var ids: [Int32] = []
            ids.reserveCapacity(words.count)
            var unknown = UnknownSymbols()
            for w in words {
                if let id = index[w] { ids.append(id) } else { unknown.add(String(decoding: w, as: UTF8.self)) }
            }
            try unknown.check(source)
            return ids
        }
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

/// Decodes strict UTF-8 into scalars.
/// - Throws: `InputError` naming the byte offset of the first invalid sequence.
func decodeUTF8(_ bytes: [UInt8], source: String) throws -> [Unicode.Scalar] {
    var scalars: [Unicode.Scalar] = []
    scalars.reserveCapacity(bytes.count)
    var parser = Unicode.UTF8.ForwardParser()
    var iterator = bytes.makeIterator()
    var offset = 0
    while true {
        switch parser.parseScalar(from: &iterator) {
        case .valid(let encoded):
            scalars.append(Unicode.UTF8.decode(encoded))
            offset += encoded.count
        case .emptyInput:
            return scalars
        case .error:
            throw InputError(source, "is not valid UTF-8 (bad byte at offset \(offset))", remedy: .useByteTokenizer)
        }
    }
}

/// Words: maximal runs of non-whitespace scalars, as UTF-8 bytes.
func splitWords(_ scalars: [Unicode.Scalar]) -> [[UInt8]] {
    var words: [[UInt8]] = []
    var current: [UInt8] = []
    for s in scalars {
        if s.properties.isWhitespace {
            if !current.isEmpty { words.append(current); current.removeAll(keepingCapacity: true) }
        } else {
            current.append(contentsOf: UTF8.encode(s)!)
        }
    }
    if !current.isEmpty { words.append(current) }
    return words
}

/// Collects distinct unknown symbols in order of first appearance.
private struct UnknownSymbols {
    var seen: Set<[UInt8]> = []
    var firstFew: [String] = []
    mutating func add(_ symbol: String) {
        if seen.insert(Array(symbol.utf8)).inserted && firstFew.count < 5 { firstFew.append(symbol) }
    }
    func check(_ source: String) throws {
        guard !seen.isEmpty else { return }
        let listed = firstFew.map { TerminalText.quoted($0) }.joined(separator: ", ")
        let more = seen.count > firstFew.count ? " and \(seen.count - firstFew.count) more" : ""
        let noun = seen.count == 1 ? "symbol" : "symbols"
        throw InputError(source, "\(seen.count) \(noun) not in the checkpoint's vocabulary: \(listed)\(more)")
    }
}
