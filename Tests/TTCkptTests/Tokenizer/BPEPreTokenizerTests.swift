import Testing
import TTCore
@testable import TTInterop
@testable import TTTokenizer

@Suite struct BPEPreTokenizerTests {
    /// Every Unicode scalar's class agrees with tokenizers' regex engine (onig): the fixture
    /// lists the scalars it matches with \p{L}, \p{N} and \s.
    @Test func characterClassesMatchTokenizersRegexEngine() throws {
        let text = String(decoding: try BPEFixtures.bytes("unicode-classes.txt"), as: UTF8.self)
        var expected: [String: Set<UInt32>] = ["L": [], "N": [], "S": []]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let f = line.split(separator: " ")
            let first = UInt32(f[1], radix: 16)!, last = UInt32(f[2], radix: 16)!
            expected[String(f[0])]!.formUnion(first...last)
        }
        #expect(expected["L"]!.count > 100_000)  // the fixture is the whole table, not a sample
        var mismatches: [String] = []
        for v in UInt32(0)...0x10FFFF {
            guard let s = Unicode.Scalar(v) else { continue }
            let want: GPT2PreTokenizer.CharacterClass =
                expected["S"]!.contains(v) ? .whitespace : expected["L"]!.contains(v) ? .letter
                : expected["N"]!.contains(v) ? .number : .other
            let got = GPT2PreTokenizer.characterClass(of: s)
            if got != want { mismatches.append("U+\(String(v, radix: 16, uppercase: true)) \(got) vs \(want)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) scalars differ: \(mismatches.prefix(20))")
    }

    /// The held-out text cuts into the same pieces as tokenizers' ByteLevel pre-tokenizer.
    @Test func heldoutPiecesMatchTokenizers() throws {
        let text = try BPEFixtures.heldout()
        guard let items = try BPEFixtures.json("heldout-ids.json")["pieces"]?.arrayItems else { throw BPEFixtureError("no pieces") }
        let expected = items.map { $0.stringValue! }
        let got = GPT2PreTokenizer.pieces(of: text).map { ByteLevel.spelling(of: text[$0]) }
        #expect(got.count == expected.count)
        let firstDifference = zip(got, expected).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(firstDifference == nil, "first difference: \(String(describing: firstDifference))")
    }

    func pieces(_ bytes: [UInt8]) -> [[UInt8]] {
        GPT2PreTokenizer.pieces(of: bytes).map { Array(bytes[$0]) }
    }

    func pieces(_ text: String) -> [String] {
        let bytes = Array(text.utf8)
        return GPT2PreTokenizer.pieces(of: bytes).map { String(decoding: bytes[$0], as: UTF8.self) }
    }

    /// Cases worked out by hand from the pattern.
    @Test func patternCases() {
        #expect(pieces("") == [])
        #expect(pieces("Hello world") == ["Hello", " world"])
        #expect(pieces("don't I'll we're") == ["don", "'t", " I", "'ll", " we", "'re"])
        // Uppercase is no contraction; after a space the apostrophe starts " ?[^\s\p{L}\p{N}]+".
        #expect(pieces("'S 'st") == ["'", "S", " '", "st"])
        #expect(pieces("'st") == ["'s", "t"])
        #expect(pieces("a  b") == ["a", " ", " b"])
        #expect(pieces("a\n\nb") == ["a", "\n", "\n", "b"])
        #expect(pieces("a \n b") == ["a", " \n", " b"])
        #expect(pieces("x   ") == ["x", "   "])  // whitespace at the end stays whole
        #expect(pieces("x\t\ty") == ["x", "\t", "\t", "y"])
        #expect(pieces("abc123def") == ["abc", "123", "def"])
        #expect(pieces(" 123 !?") == [" 123", " !?"])
        #expect(pieces("!'s") == ["!'", "s"])  // the apostrophe joins the run of punctuation
    }

    /// Invalid UTF-8: each byte of an ill-formed sequence is an "other" character.
    @Test func invalidUTF8BytesAreOtherCharacters() {
        #expect(pieces([0x61, 0xFF, 0x62]) == [[0x61], [0xFF], [0x62]])
        #expect(pieces([0x20, 0xFF, 0xFE, 0x21]) == [[0x20, 0xFF, 0xFE, 0x21]])
        // A truncated 3-byte sequence (E4 B8, then "a") and a lone continuation byte.
        #expect(pieces([0xE4, 0xB8, 0x61, 0x80]) == [[0xE4, 0xB8], [0x61], [0x80]])
        // Overlong "/" (C0 AF) and an encoded surrogate (ED A0 80) are ill-formed, not letters.
        #expect(pieces([0x78, 0xC0, 0xAF, 0xED, 0xA0, 0x80]) == [[0x78], [0xC0, 0xAF, 0xED, 0xA0, 0x80]])
        // A valid 4-byte letter after invalid bytes still counts as a letter (U+20000, CJK).
        #expect(pieces([0xFF, 0xF0, 0xA0, 0x80, 0x80]) == [[0xFF], [0xF0, 0xA0, 0x80, 0x80]])
    }
}
