import TTCore

/// `Vocabulary.decode` one token at a time, for printing generated text as it is made: the
/// pieces `append` returns, followed by `finish()`, concatenate to exactly
/// `vocabulary.decode(allIDs)`.
///
/// Words get the separating space before every token but the first; chars are their
/// token. Bytes are UTF-8 that may split a character across tokens: a trailing sequence
/// that could still become a valid character is held back until it completes or proves
/// invalid (at most 3 bytes), and everything before it is decoded at once, invalid
/// sequences as U+FFFD exactly as `String(decoding:as: UTF8.self)` replaces them (a maximal
/// ill-formed subpart never spans a lead byte, so decoding up to a lead byte and from it on
/// gives the same characters as decoding the whole).
public struct StreamingDecoder {
    public let vocabulary: Vocabulary
    private var started = false
    private var pending: [UInt8] = []

    public init(vocabulary: Vocabulary) { self.vocabulary = vocabulary }

    /// The text token `id` adds.
    /// - Precondition: `id` is in 0..<vocabulary.tokens.count.
    public mutating func append(_ id: Int32) -> String {
        defer { started = true }
        switch vocabulary.kind {
        case .word:
            return (started ? " " : "") + vocabulary.tokens[Int(id)]
        case .char:
            return vocabulary.tokens[Int(id)]
        case .byte:
            pending.append(UInt8(truncatingIfNeeded: id))
            let cut = Self.completePrefixLength(pending)
            guard cut > 0 else { return "" }
            let text = String(decoding: pending[0..<cut], as: UTF8.self)
            pending.removeFirst(cut)
            return text
        }
    }

    /// The text held back (an incomplete character at the end, as U+FFFD).
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return pending.isEmpty ? "" : String(decoding: pending, as: UTF8.self)
    }

    /// The length of the longest prefix of `bytes` that decodes the same whatever follows:
    /// all of it, unless it ends in the valid beginning of a multi-byte character, which
    /// is then left out.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        // The last lead byte (not a continuation 10xxxxxx) within the last 4 bytes.
        var j = n - 1
        while j >= 0 && j >= n - 4 && bytes[j] & 0xC0 == 0x80 { j -= 1 }
        guard j >= 0 && j >= n - 4 else { return n }
        let lead = bytes[j]
        let length: Int
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0...0xEF: length = 3
        case 0xF0...0xF4: length = 4
        default: return n  // ASCII or a byte that never starts a character
        }
        let have = n - j
        guard have < length else { return n }  // complete (or too long: decoded as it is)
        // The second byte's allowed range depends on the lead (Unicode Table 3-7).
        if have >= 2 {
            let second = bytes[j + 1]
            let range: ClosedRange<UInt8>
            switch lead {
            case 0xE0: range = 0xA0...0xBF
            case 0xED: range = 0x80...0x9F
            case 0xF0: range = 0x90...0xBF
            case 0xF4: range = 0x80...0x8F
            default: range = 0x80...0xBF
            }
            guard range.contains(second) else { return n }
        }
        return j
    }
}
