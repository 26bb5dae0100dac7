import TTCore

/// Turns token ids into text one token at a time, for printing a generation as it is made.
///
/// The pieces `push` and `finish` return, concatenated, are exactly `vocabulary.decode` of
/// all the ids pushed: words get their separating space; bytes that stop inside a UTF-8
/// character are held back until the character is complete, and shown as U+FFFD (as
/// `decode` shows them) once it can no longer be. Holding back only a *valid* unfinished
/// prefix (the second-byte ranges of Unicode's table 3-7 included) keeps every replacement
/// where whole-text decoding puts it: the text emitted so far always ends just before a
/// lead byte or at the end of what was pushed.
public struct StreamingDecoder: Sendable {
    public let vocabulary: Vocabulary
    /// Bytes of an unfinished UTF-8 character (at most 3).
    private var pending: [UInt8] = []
    private var first = true

    public init(vocabulary: Vocabulary) {
        self.vocabulary = vocabulary
    }

    /// The text `id` adds (possibly empty, while a character is unfinished).
    /// - Precondition: id in 0..<vocabulary.tokens.count.
    public mutating func push(_ id: Int32) -> String {
        defer { first = false }
        switch vocabulary.kind {
        case .word:
            return (first ? "" : " ") + vocabulary.tokens[Int(id)]
        case .char:
            return vocabulary.tokens[Int(id)]
        case .byte:
            return pushBytes(CollectionOfOne(UInt8(truncatingIfNeeded: Int(id))))
        case .bpe:
            return pushBytes(vocabulary.decodeBytes(CollectionOfOne(id)))
        }
    }

    /// The rest: an unfinished character, as U+FFFD.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return pending.isEmpty ? "" : String(decoding: pending, as: UTF8.self)
    }

    /// Appends `bytes` and returns everything before an unfinished character at the end.
    mutating func pushBytes<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        pending.append(contentsOf: bytes)
        let keep = Self.unfinishedSuffixLength(pending)
        let ready = pending.count - keep
        guard ready > 0 else { return "" }
        let text = String(decoding: pending[..<ready], as: UTF8.self)
        pending.removeFirst(ready)
        return text
    }

    /// The length of the longest suffix of `bytes` that is a valid but unfinished UTF-8
    /// sequence (a lead byte and fewer continuation bytes than it needs, each in its
    /// allowed range); 0 if there is none.
    static func unfinishedSuffixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        var i = n - 1
        // The last byte that is not a continuation byte, within the last 3.
        while i >= 0 && i >= n - 3 && (bytes[i] & 0xC0) == 0x80 { i -= 1 }
        guard i >= 0 && i >= n - 3 else { return 0 }
        let lead = bytes[i]
        let need: Int
        switch lead {
        case 0xC2...0xDF: need = 2
        case 0xE0...0xEF: need = 3
        case 0xF0...0xF4: need = 4
        default: return 0
        }
        let have = n - i
        guard have < need else { return 0 }
        if have >= 2 {
            let second = bytes[i + 1]
            let range: ClosedRange<UInt8>
            switch lead {
            case 0xE0: range = 0xA0...0xBF
            case 0xED: range = 0x80...0x9F
            case 0xF0: range = 0x90...0xBF
            case 0xF4: range = 0x80...0x8F
            default: range = 0x80...0xBF
            }
            guard range.contains(second) else { return 0 }
        }
        // A third byte (for 4-byte leads) is a continuation byte by the loop above.
        return have
    }
}
