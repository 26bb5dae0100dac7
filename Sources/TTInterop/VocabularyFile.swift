import TTCore
import TTFormat
/// Reading a vocabulary given on the command line (`import --vocab-file`).
public enum VocabularyFile {
    /// Parses a vocabulary file: a JSON list of strings when the first non-blank character
    /// is `[`, otherwise one token per line (UTF-8; "\n" or "\r\n" line ends; a final line
    /// end is optional; empty lines are tokens only if not the last line).
    /// - Throws: `ConfigError` (field "vocabulary_file") on invalid UTF-8 or JSON, an empty or
    ///   duplicated token list.
    public static func parse(_ bytes: [UInt8], kind: TokenizerKind) throws -> Vocabulary {
        func fail(_ message: String) -> ConfigError { ConfigError(field: "vocabulary_file", message: message) }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw fail("not valid UTF-8") }
        var tokens: [String] = []
        if text.drop(while: { $0.isWhitespace }).first == "[" {
            let list: HeaderJSON
            do { list = try HeaderJSON.parse(bytes, maxArrayLength: ModelConfig.limits.vocabSize) } catch { throw fail("\(error)") }
            guard case let .array(items) = list else { throw fail("not a JSON list") }
            for item in items {
                guard let s = item.stringValue else { throw fail("the JSON list holds a non-string") }
                tokens.append(s)
            }
        } else {
            // "\r\n" is one Character in Swift, so both line ends are separators.
            var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
                .map(String.init)
            if lines.last == "" { lines.removeLast() }
            tokens = lines
        }
        guard !tokens.isEmpty else { throw fail("no tokens") }
        var seen = Set<String>()
        for t in tokens where !seen.insert(t).inserted {
            throw fail("duplicate token \(quotedName(t))")
        }
        return Vocabulary(kind: kind, tokens: tokens)
    }

    /// Largest vocabulary file read (far above 2^20 tokens of any sensible length).
    public static let maxFileSize = 64 << 20

    /// Reads and parses the vocabulary file at `path` (a regular file up to `maxFileSize`).
    /// - Throws: `FormatError` naming `path`.
    public static func read(path: String, kind: TokenizerKind) throws -> Vocabulary {
        let bytes = try ReadableFile.readAll(path, limit: maxFileSize)
        do {
            return try parse(bytes, kind: kind)
        } catch let e as ConfigError {
            throw FormatError(path: path, message: e.message)
        }
    }
}
