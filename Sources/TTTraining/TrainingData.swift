import TTCore
import TTFormat
import TTTokenizer
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A token stream to train on, with the identity a checkpoint records for it.
public struct TrainingData: Equatable, Sendable {
    public var identity: DataIdentity
    /// The whole corpus as token ids of the checkpoint's vocabulary, held compactly
    /// (`TokenStream`: 1, 2 or 4 bytes per token by vocabulary size).
    public var tokens: TokenStream

    public init(identity: DataIdentity, tokens: TokenStream) {
        self.identity = identity
        self.tokens = tokens
    }

    /// The same from plain ids (stored in the width their largest id needs).
    public init(identity: DataIdentity, tokens: [Int32]) {
        self.init(identity: identity, tokens: TokenStream(tokens, vocabularySize: Int(tokens.max() ?? 0) + 1))
    }

    /// `DataIdentity.name` of the built-in data.
    public static let tutorialName = "builtin:tutorial"
    /// The series' one training sentence.
    public static let tutorialText = "<BOS> I like transformers <EOS>"

    /// The tutorial sentence encoded with `Vocabulary.tutorial`: [1, 3, 4, 5, 2]. Its
    /// identity hashes the UTF-8 bytes of `tutorialText`.
    public static func tutorial() -> TrainingData {
        let bytes = Array(tutorialText.utf8)
        // The text is fixed and every word is in the tutorial vocabulary.
        let tokens = try! Vocabulary.tutorial.encodeStream(bytes, source: tutorialName)
        return TrainingData(identity: DataIdentity(name: tutorialName, byteCount: bytes.count, tokenCount: tokens.count,
                                                   sha256: SHA256.hexDigest(bytes)),
                            tokens: tokens)
    }

    /// Reads a corpus file and encodes it with `vocabulary`. The identity's name is the
    /// file's last path component (so the same file reached by another path matches).
    /// - Throws: `InputError` naming `path`: unreadable, a directory, empty, invalid UTF-8,
    ///   unknown symbols, or fewer than 2 tokens (one step needs an input and a target).
    public static func load(corpusAt path: String, vocabulary: Vocabulary) throws -> TrainingData {
        try TrainingData(corpus: try readCorpus(path), path: path, vocabulary: vocabulary)
    }

    /// Encodes corpus bytes already read from `path`; see `load(corpusAt:vocabulary:)`.
    /// The token stream is counted first and refused, before it is allocated, when it
    /// needs more than `maxTokenBytes` bytes or would not fit in memory beside the corpus
    /// (`checkTokenMemory`): a huge corpus gets one clear line, never a failed allocation.
    public init(corpus bytes: [UInt8], path: String, vocabulary: Vocabulary,
                maxTokenBytes: Int = TrainingData.maxTokenBytes) throws {
        let tokens = try vocabulary.encodeStream(bytes, source: path) { count, tokenBytes in
            try Self.checkTokenMemory(tokens: count, bytes: tokenBytes, corpusBytes: bytes.count, path: path,
                                      maxTokenBytes: maxTokenBytes)
        }
        guard tokens.count >= 2 else {
            throw InputError(path, "has \(tokens.count) token\(tokens.count == 1 ? "" : "s"); training needs at least 2")
        }
        self.init(identity: try Self.identity(corpus: bytes, path: path, tokenCount: tokens.count), tokens: tokens)
    }

    /// The identity of corpus bytes read from `path` that encode to `tokenCount` tokens.
    static func identity(corpus bytes: [UInt8], path: String, tokenCount: Int) throws -> DataIdentity {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return DataIdentity(name: name, byteCount: bytes.count, tokenCount: tokenCount, sha256: SHA256.hexDigest(bytes))
    }

    /// The identity `init` records for a corpus: its tokens are counted (with every check
    /// encoding makes), not stored.
    /// - Throws: as `init(corpus:path:vocabulary:)` does, but never for memory.
    public static func identity(corpus bytes: [UInt8], path: String, vocabulary: Vocabulary) throws -> DataIdentity {
        let count = try vocabulary.countTokens(bytes, source: path)
        guard count >= 2 else {
            throw InputError(path, "has \(count) token\(count == 1 ? "" : "s"); training needs at least 2")
        }
        return try identity(corpus: bytes, path: path, tokenCount: count)
    }

    /// The largest corpus read into memory (4 GiB).
    public static let maxCorpusBytes = 1 << 32
    /// The largest token stream held in memory (4 GiB: 2^31 tokens of a 16-bit vocabulary).
    public static let maxTokenBytes = 1 << 32

    /// Refuses a token stream of `bytes` bytes (beside a corpus of `corpusBytes`) that is
    /// above `maxTokenBytes`, or that with the corpus would take more than three quarters
    /// of the machine's physical memory.
    /// - Throws: `InputError(path, ...)` giving the sizes.
    public static func checkTokenMemory(tokens: Int, bytes: Int, corpusBytes: Int, path: String, maxTokenBytes: Int) throws {
        guard bytes <= maxTokenBytes else {
            throw InputError(path, "its \(tokens) tokens need \(bytes) bytes of memory, more than the limit \(maxTokenBytes); use a smaller corpus")
        }
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, pageSize > 0 else { return }
        let budget = pages / 4 * 3 * pageSize
        guard bytes + corpusBytes <= budget else {
            throw InputError(path, "its \(tokens) tokens need \(bytes) bytes beside the corpus's \(corpusBytes), more than "
                             + "three quarters of this machine's memory (\(budget) bytes); use a smaller corpus")
        }
    }

    /// The bytes of a corpus file.
    /// - Throws: `InputError` naming `path`: missing, a directory, unreadable, empty, too large.
    public static func readCorpus(_ path: String) throws -> [UInt8] {
        let bytes: [UInt8]
        do {
            bytes = try ReadableFile.readAll(path, limit: maxCorpusBytes)
        } catch let e as FormatError {
            throw InputError(path, e.message)
        }
        guard !bytes.isEmpty else { throw InputError(path, "is empty") }
        return bytes
    }

    /// True when `other` is the same data: same byte count, token count and SHA-256 (the
    /// name is informational and not compared).
    public func matches(_ other: DataIdentity) -> Bool {
        identity.byteCount == other.byteCount && identity.tokenCount == other.tokenCount && identity.sha256 == other.sha256
    }
}
