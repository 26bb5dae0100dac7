import TTCore
import TTFormat
import TTTokenizer

/// A token stream to train on, with the identity a checkpoint records for it.
public struct TrainingData: Equatable, Sendable {
    public var identity: DataIdentity
    /// The whole corpus as token ids of the checkpoint's vocabulary.
    public var tokens: [Int32]

    public init(identity: DataIdentity, tokens: [Int32]) {
        self.identity = identity
        self.tokens = tokens
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
        let tokens = try! Vocabulary.tutorial.encode(bytes, source: tutorialName)
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
    public init(corpus bytes: [UInt8], path: String, vocabulary: Vocabulary) throws {
        let tokens = try vocabulary.encode(bytes, source: path)
        guard tokens.count >= 2 else {
            throw InputError(path, "has \(tokens.count) token\(tokens.count == 1 ? "" : "s"); training needs at least 2")
        }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        self.init(identity: DataIdentity(name: name, byteCount: bytes.count, tokenCount: tokens.count,
                                                   sha256: SHA256.hexDigest(bytes)),
                            tokens: tokens)
    }

    /// The largest corpus read into memory (4 GiB).
    public static let maxCorpusBytes = 1 << 32

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
