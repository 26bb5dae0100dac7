import Testing
@testable import TTCore
@testable import TTTokenizer

/// Issue 11 #11: `sample` prints each token as it comes; the pieces must add up to exactly
/// the text `decode` gives for the whole sequence.
@Suite struct StreamingDecoderTests {
    func streamed(_ v: Vocabulary, _ ids: [Int32]) -> (String, [String]) {
        var d = StreamingDecoder(vocabulary: v)
        let pieces = ids.map { d.append($0) } + [d.finish()]
        return (pieces.joined(), pieces)
    }

    @Test func wordsAndCharsStreamAsTheyDecode() {
        let ids: [Int32] = [1, 3, 4, 5, 2]
        #expect(streamed(.tutorial, ids).1 == ["<BOS>", " I", " like", " transformers", " <EOS>", ""])
        let chars = Vocabulary(kind: .char, tokens: ["a", "é", "\n"])
        #expect(streamed(chars, [0, 1, 2, 0]).0 == chars.decode([0, 1, 2, 0] as [Int32]))
    }

    /// Random byte sequences, rich in UTF-8 lead and continuation bytes and in invalid
    /// ones: the streamed text is always the whole decode, and complete characters come out
    /// with the byte that completes them.
    @Test func bytesStreamExactlyAsTheWholeDecodes() {
        var rng = PythonRandom(seed: 2026)
        let interesting: [UInt8] = [0x41, 0x0A, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1,
                                    0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]
        for _ in 0..<5000 {
            let n = Int(rng.randbelow(12))
            let bytes = (0..<n).map { _ in rng.randbelow(3) == 0 ? UInt8(rng.randbelow(256)) : interesting[Int(rng.randbelow(UInt64(interesting.count)))] }
            let ids = bytes.map { Int32($0) }
            let (text, _) = streamed(.bytes, ids)
            #expect(text == Vocabulary.bytes.decode(ids), "\(bytes)")
        }
        // "é" (C3 A9) and "😀" (F0 9F 98 80) arrive whole, with their last byte.
        #expect(streamed(.bytes, [0x61, 0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80]).1 == ["a", "", "é", "", "", "", "😀", ""])
        // A lead byte followed by something else is replaced at once, not held.
        #expect(streamed(.bytes, [0xE0, 0x41]).1 == ["", "\u{FFFD}A", ""])
        // An incomplete character at the end comes out at finish.
        #expect(streamed(.bytes, [0x61, 0xE2, 0x82]).1 == ["a", "", "", "\u{FFFD}"])
    }
}
