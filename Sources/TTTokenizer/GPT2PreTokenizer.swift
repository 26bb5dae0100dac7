import TTCore
// GPT-2's pre-tokenization: the text is cut into pieces by the pattern
//
//     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// applied as a leftmost, first-alternative-wins scan (Python `regex`, Rust `onig` in
// Hugging Face tokenizers), and BPE never merges across pieces. It is implemented here by
// hand over Unicode scalars; no regex engine.
//
// Character classes, as Oniguruma defines them for Unicode text (what tokenizers runs):
// - `\p{L}`: General_Category Lu, Ll, Lt, Lm, Lo.
// - `\p{N}`: General_Category Nd, Nl, No.
// - `\s`: the White_Space property: U+0009...U+000D, U+0020, U+0085, U+00A0, U+1680,
//   U+2000...U+200A, U+2028, U+2029, U+202F, U+205F, U+3000. Not U+001C...U+001F (which
//   Python's `str.isspace` includes) and not U+200B or U+180E.
//   `Tests/Fixtures/unicode-classes.txt`, written by tokenizers' own regex engine, checks all
//   three classes for every scalar.
// - Unicode version: scalars assigned after Unicode 16.0 (the version of the Oniguruma in
//   tokenizers 0.23) are "other", whatever their category in the Swift runtime's newer
//   tables (Swift 6.3 has Unicode 17.0, whose 4 657 new letters and digits onig does not
//   know). So encoding does not change with the toolchain, and it agrees with tokenizers
//   on every scalar. (A runtime with tables older than 16.0 would differ on the
//   scalars added since; the fixture test would show it.)
// - the optional ` ?` is U+0020 only; the contractions are lowercase ASCII only.
//
// How the pattern reads at a position (this is what `forEachPiece` does):
// 1. `'` followed by s, t, m, d (or re, ve, ll): that contraction.
// 2. A space followed by a letter, digit or other (non-space) character, or such a
//    character itself: the optional space plus the longest run of that class.
// 3. Whitespace: the longest whitespace run W. If W reaches the end of the text it is one
//    piece; otherwise W minus its last character, when that leaves something
//    (`\s+(?!\S)` backtracks one character), else W (one character, `\s+`). The last
//    whitespace character then starts the next piece (a space joins the word after it).
//
// Bytes that are not valid UTF-8 (the text is any byte string): each byte of an ill-formed
// sequence is one unit of class "other", as U+FFFD would be; it joins runs of other
// characters. Its bytes are kept as they are, so pieces always cover the input exactly.

public enum GPT2PreTokenizer {
    /// The classes the pattern distinguishes.
    public enum CharacterClass: UInt8, Sendable {
        case letter, number, whitespace, other
    }

    /// The class of a scalar (see the definitions at the top of this file).
    @inline(__always)
    public static func characterClass(of scalar: Unicode.Scalar) -> CharacterClass {
        if scalar.value < 0x80 { return asciiClass[Int(scalar.value)] }
        let properties = scalar.properties
        if properties.isWhitespace { return .whitespace }
        if let age = properties.age, age.major > unicodeVersion.major
            || (age.major == unicodeVersion.major && age.minor > unicodeVersion.minor) {
            return .other
        }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return .other
        }
    }

    /// The Unicode version whose letters and numbers count (see the top of this file).
    public static let unicodeVersion: (major: Int, minor: Int) = (16, 0)

    private static let asciiClass: [CharacterClass] = (0..<128).map { v -> CharacterClass in
        switch v {
        case 0x41...0x5A, 0x61...0x7A: return .letter
        case 0x30...0x39: return .number
        case 0x09...0x0D, 0x20: return .whitespace
        default: return .other
        }
    }

    /// The pieces of `bytes`, as byte ranges that cover it in order.
    public static func pieces(of bytes: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        bytes.withUnsafeBufferPointer { buffer in
            forEachPiece(in: buffer, from: 0, to: buffer.count) { out.append($0) }
        }
        return out
    }

    /// Calls `body` with each piece of `bytes[start..<end]` in order; the pieces cover the
    /// range exactly and none is empty.
    public static func forEachPiece(in bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int,
                                    _ body: (Range<Int>) -> Void) {
        precondition(start >= 0 && start <= end && end <= bytes.count)
        var i = start
        while i < end {
            let u = unit(bytes, i, end)
            // 1. Contractions.
            if bytes[i] == 0x27, i + 1 < end {
                let a = bytes[i + 1]
                if a == 0x73 || a == 0x74 || a == 0x6D || a == 0x64 {  // s t m d
                    body(i..<(i + 2)); i += 2; continue
                }
                if i + 2 < end {
                    let b = bytes[i + 2]
                    if (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C) {  // re ve ll
                        body(i..<(i + 3)); i += 3; continue
                    }
                }
            }
            // 2. Optional space + a run of letters, numbers or other characters.
            var runClass = u.characterClass
            var runStart = i
            if bytes[i] == 0x20, i + 1 < end {
                let next = unit(bytes, i + 1, end)
                if next.characterClass != .whitespace {
                    runClass = next.characterClass
                    runStart = i + 1
                }
            }
            if runClass != .whitespace {
                var p = runStart
                while p < end {
                    let v = unit(bytes, p, end)
                    if v.characterClass != runClass { break }
                    p += v.length
                }
                body(i..<p); i = p; continue
            }
            // 3. Whitespace: `\s+(?!\S)` then `\s+`.
            var p = i
            var lastStart = i
            while p < end {
                let v = unit(bytes, p, end)
                if v.characterClass != .whitespace { break }
                lastStart = p
                p += v.length
            }
            if p < end && lastStart > i {
                body(i..<lastStart); i = lastStart
            } else {
                body(i..<p); i = p
            }
        }
    }

    /// One unit: a scalar, or one byte of an ill-formed UTF-8 sequence (class other).
    struct Unit {
        var characterClass: CharacterClass
        var length: Int
    }

    @inline(__always)
    static func unit(_ bytes: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> Unit {
        let b0 = bytes[i]
        if b0 < 0x80 { return Unit(characterClass: asciiClass[Int(b0)], length: 1) }
        guard let (value, length) = decodeScalar(bytes, i, end) else { return Unit(characterClass: .other, length: 1) }
        return Unit(characterClass: characterClass(of: Unicode.Scalar(value)!), length: length)
    }

    /// Strict UTF-8 (Unicode table 3-7: no overlongs, no surrogates, nothing above
    /// U+10FFFF) of the multi-byte sequence at `i`, or nil if it is ill-formed.
    @inline(__always)
    static func decodeScalar(_ bytes: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> (UInt32, Int)? {
        let b0 = bytes[i]
        let length: Int
        var lower: UInt8 = 0x80, upper: UInt8 = 0xBF
        switch b0 {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; lower = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; upper = 0x9F
        case 0xF0: length = 4; lower = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; upper = 0x8F
        default: return nil
        }
        guard end - i >= length else { return nil }
        let b1 = bytes[i + 1]
        guard b1 >= lower && b1 <= upper else { return nil }
        var value = UInt32(b0) & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
        value = value << 6 | UInt32(b1 & 0x3F)
        for k in 2..<max(length, 2) {
            let c = bytes[i + k]
            guard c & 0xC0 == 0x80 else { return nil }
            value = value << 6 | UInt32(c & 0x3F)
        }
        return (value, length)
    }
}
