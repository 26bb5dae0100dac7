import Testing
@testable import TTCore
@testable import TTTokenizer

@Suite struct StreamingDecoderTests {
    static func streamed(_ vocabulary: Vocabulary, _ ids: [Int32]) -> [String] {
        var decoder = StreamingDecoder(vocabulary: vocabulary)
        return ids.map { decoder.push($0) } + [decoder.finish()]
    }

    /// A character split over byte tokens appears once it is complete, not before.
    @Test func holdsBackAnUnfinishedCharacter() {
        let pieces = Self.streamed(.bytes, Array("aé€😀".utf8).map { Int32($0) })
        // a | C3 A9 | E2 82 AC | F0 9F 98 80
        #expect(pieces == ["a", "", "é", "", "", "€", "", "", "", "😀", ""])
    }

    /// Byte streams with every kind of damage — truncated characters, stray continuation
    /// bytes, overlong and surrogate encodings, bytes never valid in UTF-8, a character cut by
    /// the end — concatenate to exactly `decode` of the whole (U+FFFD where decode puts it).
    @Test func pieceConcatenationEqualsWholeDecodeForAnyBytes() {
        var rng = PythonRandom(seed: 3)
        let fragments: [[UInt8]] = [
            Array("a".utf8), Array("é".utf8), Array("€".utf8), Array("😀".utf8), [0xC3], [0xE2, 0x82], [0xF0, 0x9F, 0x98],
            [0x80], [0xBF], [0xC0, 0xAF], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xFF], [0xF5],
            [0xE0, 0xA0], [0xF0, 0x90],
        ]
        for trial in 0..<300 {
            var bytes: [UInt8] = []
            for _ in 0..<Int(rng.randbelow(12)) { bytes += fragments[Int(rng.randbelow(UInt64(fragments.count)))] }
            if trial % 3 == 0 { bytes += (0..<4).map { _ in UInt8(rng.randbelow(256)) } }
            let ids = bytes.map { Int32($0) }
            #expect(Self.streamed(.bytes, ids).joined() == Vocabulary.bytes.decode(ids), "\(bytes)")
        }
    }

    @Test func wordsGetTheirSeparatingSpaceAndCharsConcatenate() {
        let words = Vocabulary.tutorial
        #expect(Self.streamed(words, [1, 3, 4, 5, 2]) == ["<BOS>", " I", " like", " transformers", " <EOS>", ""])
        #expect(Self.streamed(words, [1, 3, 4, 5, 2]).joined() == words.decode([1, 3, 4, 5, 2]))
        let chars = Vocabulary(kind: .char, tokens: ["h", "é", "😀"])
        #expect(Self.streamed(chars, [0, 1, 2, 1]).joined() == "hé😀é")
    }
}
