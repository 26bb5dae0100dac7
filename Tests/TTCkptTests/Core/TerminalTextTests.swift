import Testing
@testable import TTCore

/// The one escaper for text printed on a terminal. Expected strings are written by hand
/// from the rule in `TerminalText`'s documentation.
@Suite struct TerminalTextTests {
    @Test func controlsBecomeEscapes() {
        #expect(TerminalText.escaped("a\nb\u{1B}[0m") == "a\\nb\\u{1b}[0m")
        #expect(TerminalText.escaped("\t\r\0\u{7F}\u{85}\u{9F}") == "\\t\\r\\u{0}\\u{7f}\\u{85}\\u{9f}")
        #expect(TerminalText.escaped("héllo ✓ 日本 😀") == "héllo ✓ 日本 😀")
    }

    /// Every bidi control the issue lists, one by one: none may reach the terminal.
    @Test func bidiControlsAreNeutralised() {
        let bidi: [UInt32] = [0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E,
                              0x2066, 0x2067, 0x2068, 0x2069]
        for v in bidi {
            let scalar = Unicode.Scalar(v)!
            let out = TerminalText.escaped("x" + String(scalar) + "y")
            #expect(out == "x\\u{" + String(v, radix: 16) + "}y", "U+\(String(v, radix: 16))")
            #expect(TerminalText.needsEscape(scalar))
        }
        // Other invisible classes: zero-width space (format), line separator, private use.
        #expect(TerminalText.escaped("\u{200B}\u{2028}\u{E000}") == "\\u{200b}\\u{2028}\\u{e000}")
    }

    /// Escaping twice changes nothing, so a message escaped when built and again when
    /// printed shows each escape once.
    @Test func escapingIsIdempotent() {
        for s in ["a\nb\u{1B}[31m\u{202E}c\\d", "\\u{7}", "", "plain"] {
            let once = TerminalText.escaped(s)
            #expect(TerminalText.escaped(once) == once, "\(once)")
        }
        #expect(TerminalText.escaped("\\") == "\\")  // a backslash is kept
    }

    @Test func limitCutsAndMarks() {
        #expect(TerminalText.escaped("abcdef", limit: 3) == "abc...")
        #expect(TerminalText.escaped("abc", limit: 3) == "abc")
        #expect(TerminalText.escaped("\u{202E}bc", limit: 1) == "\\u{202e}...")
    }

    @Test func quotedShowsSpacesAndEscapesTheQuote() {
        #expect(TerminalText.quoted(" \"x\" ") == "\" \\\"x\\\" \"")
        #expect(TerminalText.quoted("") == "\"\"")
        #expect(TerminalText.quoted("it's\n", quote: "'") == "'it\\'s\\n'")
    }

    /// Generated text keeps its own lines and tabs; every other control is escaped.
    @Test func keepingLineBreaksForGeneratedText() {
        #expect(TerminalText.escaped("a\nb\tc\r\u{1B}[2J\u{202E}", keepingLineBreaks: true) == "a\nb\tc\\r\\u{1b}[2J\\u{202e}")
    }
}
