import Testing
@testable import TTCore
@testable import TTTokenizer
@testable import TTTraining

@Suite struct TokenizerTests {
    @Test func wordVocabularyOfTheTutorialTextIsTheSeriesVocabulary() throws {
        let v = try Vocabulary(building: .word, from: Array(TrainingData.tutorialText.utf8), source: "t")
        #expect(v == Vocabulary.tutorial)
        #expect(try v.encode(TrainingData.tutorialText, source: "t") == [1, 3, 4, 5, 2])
    }

    @Test func wordVocabularyIsSpecialsThenWordsInByteOrder() throws {
        // "Z" (0x5A) < "a" (0x61) < "é" (0xC3 0xA9); duplicates and any whitespace collapse.
        let v = try Vocabulary(building: .word, from: Array("é a\tZ\n\na <EOS> Z".utf8), source: "t")
        #expect(v.tokens == ["<PAD>", "<BOS>", "<EOS>", "Z", "a", "é"])
        #expect(try v.encode("a Z  é <EOS>", source: "t") == [4, 3, 5, 2])
        #expect(v.decode([4, 3, 5, 2]) == "a Z é <EOS>")
    }

    @Test func wordsAreComparedAsBytesNotCanonicalEquivalence() throws {
        let composed = "\u{E9}", decomposed = "e\u{301}"  // both render as é
        let v = try Vocabulary(building: .word, from: Array("\(composed) \(decomposed)".utf8), source: "t")
        #expect(v.tokens.count == 5)
        #expect(try v.encode(decomposed, source: "t") != v.encode(composed, source: "t"))
    }

    @Test func charVocabularyIsSortedScalars() throws {
        let v = try Vocabulary(building: .char, from: Array("hello, wörld\n".utf8), source: "t")
        #expect(v.tokens == ["\n", " ", ",", "d", "e", "h", "l", "o", "r", "w", "ö"])
        let ids = try v.encode("world", source: "t")
        #expect(ids == [9, 7, 8, 6, 3])
        #expect(v.decode(ids) == "world")
    }

    @Test func byteVocabularyLabelsAndRoundTrip() throws {
        let v = try Vocabulary(building: .byte, from: [0, 1, 2], source: "t")
        #expect(v.tokens.count == 256)
        #expect(v.tokens[0x41] == "A")
        #expect(v.tokens[0x20] == "<0x20>")
        #expect(v.tokens[0x0A] == "<0x0A>")
        #expect(v.tokens[0xFF] == "<0xFF>")
        #expect(Set(v.tokens).count == 256)
        let text = "naïve ☃\n"
        let ids = try v.encode(text, source: "t")
        #expect(ids == Array(text.utf8).map { Int32($0) })
        #expect(v.decode(ids) == text)
    }

    @Test func unknownSymbolsAreListedEscapedAndCounted() throws {
        let v = try Vocabulary(building: .char, from: Array("abc".utf8), source: "t")
        do {
            _ = try v.encode("abXc\t\u{7}YZQW", source: "corpus.txt")
            Issue.record("expected an error")
        } catch let e as InputError {
            #expect(e.subject == "corpus.txt")
            #expect(e.description == #"corpus.txt: 7 symbols not in the checkpoint's vocabulary: "X", "\t", "\u{7}", "Y", "Z" and 2 more"#)
        }
    }

    @Test func invalidUTF8NamesTheOffset() {
        #expect(throws: InputError("c.txt", "is not valid UTF-8 (bad byte at offset 2)", remedy: .useByteTokenizer)) {
            _ = try Vocabulary(building: .char, from: [0x61, 0x62, 0xFF, 0x63], source: "c.txt")
        }
    }

    @Test func emptyOrBlankCorpusIsRefused() {
        #expect(throws: InputError("c.txt", "is empty")) { _ = try Vocabulary(building: .word, from: [], source: "c.txt") }
        #expect(throws: InputError("c.txt", "has no words (only whitespace)")) {
            _ = try Vocabulary(building: .word, from: Array(" \n\t ".utf8), source: "c.txt")
        }
    }

    @Test func displayEscapingKeepsOneLine() {
        #expect(TerminalText.escaped("a\nb\u{1B}[31mc\u{0}é") == "a\\nb\\u{1b}[31mc\\u{0}é")
    }
}
