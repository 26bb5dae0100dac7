import TTCore
import TTFormat
import TTTokenizer

// Hugging Face tokenizer files in and out of the file system: tokenizer.json, or vocab.json +
// merges.txt (read); all four files transformers' GPT2TokenizerFast reads (write). The
// parsing and validation rules are BPEFiles'; this file adds the one file layer
// (`ReadableFile`, capped at `BPELimits.maxFileBytes` before reading) and the one JSON
// parser (`HeaderJSON`, with array and object lengths capped at the BPE limits).

extension HeaderJSON: TokenizerJSONValue {
    public var objectMembers: [(String, HeaderJSON)]? { if case let .object(m) = self { return m }; return nil }
    public var arrayItems: [HeaderJSON]? { if case let .array(a) = self { return a }; return nil }
    public var numberText: String? { if case let .number(t) = self { return t }; return nil }
    public var boolValue: Bool? { if case let .bool(b) = self { return b }; return nil }
    public var isNull: Bool { self == .null }
}

public enum TokenizerFiles {
    /// The special token registered when a tokenizer comes from vocab.json + merges.txt and
    /// the vocabulary has it (GPT-2's files: `<|endoftext|>`, id 50256), as transformers'
    /// GPT2Tokenizer does with its default bos/eos/unk token.
    public static let endOfText = "<|endoftext|>"

    /// Parses a tokenizer file's JSON with the BPE limits.
    static func parseJSON(_ bytes: [UInt8]) throws -> HeaderJSON {
        try HeaderJSON.parse(bytes, maxArrayLength: BPELimits.maxMerges + 1, maxObjectMembers: BPELimits.maxVocabularySize + 1)
    }

    static func read(_ path: String) throws -> [UInt8] {
        try ReadableFile.readAll(path, limit: BPELimits.maxFileBytes)
    }

    /// A tokenizer.json (`model.type` BPE with the ByteLevel pre-tokenizer).
    /// - Throws: `FormatError` (unreadable file) or `InputError` naming `path` and the field.
    public static func readTokenizerJSON(_ path: String) throws -> BPETokenizer {
        try BPEFiles.loadTokenizerJSON(try read(path), file: path, parse: parseJSON)
    }

    /// vocab.json + merges.txt; `<|endoftext|>` becomes a special added token when
    /// vocab.json has it.
    /// - Throws: `FormatError` or `InputError` naming the file at fault.
    public static func readVocabAndMerges(vocab vocabPath: String, merges mergesPath: String) throws -> BPETokenizer {
        let vocabBytes = try read(vocabPath)
        let mergesBytes = try read(mergesPath)
        let root = try BPEFiles.parseJSON(vocabBytes, file: vocabPath, parse: parseJSON)
        let hasEndOfText = root.objectMembers?.contains { $0.0 == endOfText } ?? false
        return try BPEFiles.tokenizer(vocabJSON: root, vocabFile: vocabPath, mergesText: mergesBytes, mergesFile: mergesPath,
                                      specialTokens: hasEndOfText ? [endOfText] : [])
    }

    /// A tokenizer.json, or (with `merges`) a vocab.json + merges.txt pair.
    public static func read(tokenizerFile path: String, merges: String?) throws -> BPETokenizer {
        if let merges { return try readVocabAndMerges(vocab: path, merges: merges) }
        return try readTokenizerJSON(path)
    }

    /// The tokenizer in a transformers directory: `tokenizer.json` if present, else
    /// `vocab.json` + `merges.txt`; nil when it has neither.
    public static func read(directory: String) throws -> BPETokenizer? {
        let io = POSIXFileSystem()
        func exists(_ name: String) -> Bool { io.status(directory + "/" + name) != .missing }
        if exists("tokenizer.json") { return try readTokenizerJSON(directory + "/tokenizer.json") }
        if exists("vocab.json") && exists("merges.txt") {
            return try readVocabAndMerges(vocab: directory + "/vocab.json", merges: directory + "/merges.txt")
        }
        return nil
    }
}
