import TTCore
// Corpus-sized tokenizing in bounded memory (issue 11 #10).
//
// A corpus can be gigabytes. Building a vocabulary or encoding it never materializes the
// corpus as scalars or words: one pass walks the UTF-8 bytes, words are byte ranges of the
// corpus itself, the distinct symbols are bounded by `Vocabulary.maxBuiltTokens` (checked as
// they are found, so a corpus of a million distinct words stops at the bound with a clear
// error), and the ids go into a `TokenStream` of the narrowest width, sized exactly by a
// counting pass before it is allocated. The rules (what a word or char is, the order of a
// vocabulary, the unknown-symbol message) are those of Tokenizer.swift.

/// Token ids held in the narrowest unsigned width the vocabulary needs: one byte for up to
/// 256 tokens (the byte tokenizer, whose stream is the corpus bytes themselves, not a
/// copy), two for up to 65536, else four. Reads as a collection of `Int32` ids.
public struct TokenStream: RandomAccessCollection, Equatable, Sendable {
    public enum Storage: Equatable, Sendable {
        case u8([UInt8])
        case u16([UInt16])
        case u32([UInt32])
    }

    public let storage: Storage

    public init(storage: Storage) { self.storage = storage }

    /// `ids` in the width `vocabularySize` needs.
    /// - Precondition: every id is in 0..<vocabularySize.
    public init(_ ids: [Int32], vocabularySize: Int) {
        switch Self.bytesPerToken(vocabularySize: vocabularySize) {
        case 1: storage = .u8(ids.map { UInt8(truncatingIfNeeded: $0) })
        case 2: storage = .u16(ids.map { UInt16(truncatingIfNeeded: $0) })
        default: storage = .u32(ids.map { UInt32(truncatingIfNeeded: $0) })
        }
    }

    /// Bytes per id for a vocabulary of `vocabularySize` tokens: 1, 2 or 4.
    public static func bytesPerToken(vocabularySize: Int) -> Int {
        vocabularySize <= 1 << 8 ? 1 : vocabularySize <= 1 << 16 ? 2 : 4
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int {
        switch storage {
        case .u8(let a): return a.count
        case .u16(let a): return a.count
        case .u32(let a): return a.count
        }
    }

    @inline(__always)
    public subscript(i: Int) -> Int32 {
        switch storage {
        case .u8(let a): return Int32(a[i])
        case .u16(let a): return Int32(a[i])
        case .u32(let a): return Int32(bitPattern: a[i])
        }
    }

    /// Bytes the ids occupy.
    public var byteCount: Int {
        switch storage {
        case .u8(let a): return a.count
        case .u16(let a): return 2 * a.count
        case .u32(let a): return 4 * a.count
        }
    }
}

extension Vocabulary {
    /// The most tokens a vocabulary built from a corpus (word or char) may have: 2^16, so
    /// every id fits 16 bits. (GPT-2's BPE has 50257; a larger word list means the corpus
    /// is not words: the byte tokenizer takes anything.)
    public static let maxBuiltTokens = 1 << 16

    /// The word vocabulary of a corpus: `<PAD> <BOS> <EOS>`, then every other distinct word
    /// in ascending UTF-8 byte order. Memory: the distinct words (at most
    /// `maxBuiltTokens`), not the corpus's word list.
    static func buildWords(_ corpus: [UInt8], source: String) throws -> Vocabulary {
        let specials = Set(wordSpecials.map { Array($0.utf8)[...] })
        var distinct = Set<ArraySlice<UInt8>>()
        var sawWord = false
        try forEachWord(corpus, source: source) { range in
            sawWord = true
            let word = corpus[range]
            guard !specials.contains(word), distinct.insert(word).inserted else { return }
            guard distinct.count + specials.count <= maxBuiltTokens else {
                throw InputError(source, "has more than \(maxBuiltTokens - specials.count) distinct words, and a word vocabulary "
                                 + "holds at most \(maxBuiltTokens) tokens with <PAD> <BOS> <EOS>; the char or byte tokenizer fits it")
            }
        }
        guard sawWord else { throw InputError(source, "has no words (only whitespace)") }
        let others = distinct.sorted { $0.lexicographicallyPrecedes($1) }
        return Vocabulary(kind: .word, tokens: wordSpecials + others.map { String(decoding: $0, as: UTF8.self) })
    }

    /// The char vocabulary of a corpus: its distinct scalars in code point order, at most
    /// `maxBuiltTokens`.
    static func buildChars(_ corpus: [UInt8], source: String) throws -> Vocabulary {
        var distinct = Set<UInt32>()
        try forEachScalar(corpus, source: source) { scalar, _ in
            guard distinct.insert(scalar.value).inserted else { return }
            guard distinct.count <= maxBuiltTokens else {
                throw InputError(source, "has more than \(maxBuiltTokens) distinct characters, and a char vocabulary "
                                 + "holds at most \(maxBuiltTokens) tokens; the byte tokenizer takes any corpus")
            }
        }
        return Vocabulary(kind: .char, tokens: distinct.sorted().map { String(UnicodeScalar($0)!) })
    }

    /// How many tokens `encodeStream` would give, with the same checks (UTF-8, unknown
    /// symbols), allocating nothing per token: what `init` records as the corpus's token count.
    public func countTokens(_ text: [UInt8], source: String) throws -> Int {
        var count = 0
        try encodeEach(text, source: source) { _ in count += 1 }
        return count
    }

    /// Encodes a corpus into a `TokenStream`: one pass to count and check, then the ids
    /// into a stream allocated once at its exact size, after `allocationCheck(tokens,
    /// bytes)` has approved it (so a caller can refuse a stream too large for memory
    /// before anything is allocated). The byte tokenizer's stream is `text` itself.
    /// - Throws: `InputError` naming `source`, as `encode(_:source:)` does, or whatever
    ///   `allocationCheck` throws.
    public func encodeStream(_ text: [UInt8], source: String,
                             allocationCheck: (_ tokens: Int, _ bytes: Int) throws -> Void = { _, _ in }) throws -> TokenStream {
        if kind == .byte {
            try checkByteVocabulary(source)
            try allocationCheck(text.count, 0)
            return TokenStream(storage: .u8(text))
        }
        if kind == .bpe {
            // Byte-pair merging is too costly to run twice: encode once, then narrow.
            let ids = try encode(text, source: source)
            try allocationCheck(ids.count, ids.count * TokenStream.bytesPerToken(vocabularySize: tokens.count))
            return TokenStream(ids, vocabularySize: tokens.count)
        }
        let count = try countTokens(text, source: source)
        let width = TokenStream.bytesPerToken(vocabularySize: tokens.count)
        try allocationCheck(count, count * width)
        func fill<T: FixedWidthInteger>(_ type: T.Type) throws -> [T] {
            var i = 0
            return try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                try encodeEach(text, source: source) { id in
                    buffer[i] = T(truncatingIfNeeded: id)
                    i += 1
                }
                initialized = i
            }
        }
        switch width {
        case 1: return TokenStream(storage: .u8(try fill(UInt8.self)))
        case 2: return TokenStream(storage: .u16(try fill(UInt16.self)))
        default: return TokenStream(storage: .u32(try fill(UInt32.self)))
        }
    }

    /// Calls `body` with the id of each symbol of `text`, in order; unknown symbols are
    /// collected and reported (first five, in order of appearance) once the text is done.
    func encodeEach(_ text: [UInt8], source: String, _ body: (Int32) throws -> Void) throws {
        var unknown = UnknownSymbols()
        switch kind {
        case .bpe:
            for id in try BPETokenizer(vocabulary: self, source: "vocabulary").encode(text) { try body(id) }
        case .byte:
            try checkByteVocabulary(source)
            for b in text { try body(Int32(b)) }
        case .char:
            var index: [UInt32: Int32] = [:]
            for (id, token) in tokens.enumerated() {
                let s = token.unicodeScalars
                if s.count == 1 { index[s.first!.value] = index[s.first!.value] ?? Int32(id) }
            }
            try forEachScalar(text, source: source) { scalar, _ in
                if let id = index[scalar.value] { try body(id) } else { unknown.add(String(scalar)) }
            }
        case .word:
            var index: [ArraySlice<UInt8>: Int32] = [:]
            for (id, token) in tokens.enumerated() {
                let key = Array(token.utf8)[...]
                if index[key] == nil { index[key] = Int32(id) }
            }
            try forEachWord(text, source: source) { range in
                let word = text[range]
                if let id = index[word] { try body(id) } else { unknown.add(String(decoding: word, as: UTF8.self)) }
            }
        }
        try unknown.check(source)
    }

    func checkByteVocabulary(_ source: String) throws {
        guard tokens.count == 256 else { throw InputError(source, "byte vocabulary has \(tokens.count) tokens, not 256") }
    }
}

/// Calls `body(scalar, offset)` for each scalar of strict UTF-8 `bytes`, in order.
/// - Throws: `InputError` naming the offset of the first invalid sequence (before any
///   scalar at or after it is passed on), or what `body` throws.
func forEachScalar(_ bytes: [UInt8], source: String, _ body: (Unicode.Scalar, Int) throws -> Void) throws {
    var parser = Unicode.UTF8.ForwardParser()
    var iterator = bytes.makeIterator()
    var offset = 0
    while true {
        switch parser.parseScalar(from: &iterator) {
        case .valid(let encoded):
            try body(Unicode.UTF8.decode(encoded), offset)
            offset += encoded.count
        case .emptyInput:
            return
        case .error:
            throw InputError(source, "is not valid UTF-8 (bad byte at offset \(offset))", remedy: .useByteTokenizer)
        }
    }
}

/// Calls `body` with the byte range of each word of strict UTF-8 `bytes` (a maximal run of
/// scalars without the Unicode White_Space property), in order. For valid UTF-8 a scalar's
/// bytes are its encoding, so a word's range holds exactly its UTF-8 bytes.
func forEachWord(_ bytes: [UInt8], source: String, _ body: (Range<Int>) throws -> Void) throws {
    var start = -1
    try forEachScalar(bytes, source: source) { scalar, offset in
        if isWordSeparator(scalar) {
            if start >= 0 { try body(start..<offset); start = -1 }
        } else if start < 0 {
            start = offset
        }
    }
    if start >= 0 { try body(start..<bytes.count) }
}

/// Unicode White_Space, with the ASCII cases first (tab, LF, VT, FF, CR, space).
@inline(__always)
func isWordSeparator(_ s: Unicode.Scalar) -> Bool {
    if s.value < 0x80 { return s.value == 0x20 || (0x09...0x0D).contains(s.value) }
    return s.properties.isWhitespace
}

/// Collects distinct unknown symbols in order of first appearance.
struct UnknownSymbols {
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
