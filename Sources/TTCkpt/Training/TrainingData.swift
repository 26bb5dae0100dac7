#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
        let bytes = try readWholeFile(path, limit: maxCorpusBytes)
        guard !bytes.isEmpty else { throw InputError(path, "is empty") }
        return bytes
    }

    /// True when `other` is the same data: same byte count, token count and SHA-256 (the
    /// name is informational and not compared).
    public func matches(_ other: DataIdentity) -> Bool {
        identity.byteCount == other.byteCount && identity.tokenCount == other.tokenCount && identity.sha256 == other.sha256
    }
}

/// Reads a regular file whole.
/// - Throws: `InputError(path, ...)` with the system's reason, "is a directory", or
///   "is larger than ..." when it exceeds `limit` bytes.
func readWholeFile(_ path: String, limit: Int) throws -> [UInt8] {
    // O_NONBLOCK: a FIFO must not block the open (it is refused below); regular files ignore it.
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else { throw InputError(path, systemReason(errno)) }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw InputError(path, systemReason(errno)) }
    if (info.st_mode & S_IFMT) == S_IFDIR { throw InputError(path, "is a directory, not a file") }
    guard (info.st_mode & S_IFMT) == S_IFREG else { throw InputError(path, "is not a regular file") }
    guard Int(info.st_size) <= limit else { throw InputError(path, "is larger than \(limit) bytes") }
    var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
    var filled = 0
    while filled < bytes.count {
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
        if n < 0 {
            if errno == EINTR { continue }
            throw InputError(path, systemReason(errno))
        }
        if n == 0 { break }
        filled += n
    }
    bytes.removeSubrange(filled...)
    return bytes
}

/// The system's message for an errno, lowercased at the start: "no such file or directory".
func systemReason(_ code: Int32) -> String {
    guard let c = strerror(code) else { return "error \(code)" }
    let text = String(cString: c)
    guard let first = text.first else { return "error \(code)" }
    return first.lowercased() + text.dropFirst()
}
