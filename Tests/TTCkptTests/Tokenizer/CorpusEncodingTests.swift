import Foundation
import Testing
@testable import TTCore
@testable import TTTokenizer
@testable import TTTraining

/// Issue 11 #10: corpora are tokenized in bounded memory, held compactly, and vocabularies
/// are bounded with a clear error.
@Suite struct CorpusEncodingTests {
    /// The word rule as the tokenizer had it before streaming: split the decoded scalars on
    /// Unicode White_Space. The streaming encoder must give the same words.
    func referenceWords(_ text: String) -> [String] {
        var words: [String] = [], current = ""
        for s in text.unicodeScalars {
            if s.properties.isWhitespace {
                if !current.isEmpty { words.append(current); current = "" }
            } else {
                current.unicodeScalars.append(s)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    @Test func wordsAreSplitOnUnicodeWhiteSpaceAsBefore() throws {
        var rng = PythonRandom(seed: 11)
        let pieces = ["a", "bc", "é", "e\u{301}", "日本", "<BOS>", "\u{1F600}", " ", "\t", "\n", "\r\n", "\u{85}", "\u{A0}",
                      "\u{2028}", "\u{3000}", "\u{1C}", "\u{200B}", "\u{FEFF}", "x\u{0}y"]
        for _ in 0..<300 {
            let text = (0..<Int(rng.randbelow(30))).map { _ in pieces[Int(rng.randbelow(UInt64(pieces.count)))] }.joined()
            let expected = referenceWords(text)
            guard !expected.isEmpty else { continue }
            let v = try Vocabulary(building: .word, from: Array(text.utf8), source: "c")
            // As UTF-8 bytes: String's == would merge "é" and "e\u{301}", two tokens here.
            let distinct = Set(expected.map { Array($0.utf8) }).subtracting(Vocabulary.wordSpecials.map { Array($0.utf8) })
            #expect(v.tokens.map { Array($0.utf8) }
                    == Vocabulary.wordSpecials.map { Array($0.utf8) } + distinct.sorted { $0.lexicographicallyPrecedes($1) })
            let ids = try v.encode(Array(text.utf8), source: "c")
            #expect(ids.map { Array(v.tokens[Int($0)].utf8) } == expected.map { Array($0.utf8) }, "\(text.debugDescription)")
        }
    }

    @Test func streamsAreHeldInTheNarrowestWidthAndEqualTheIds() throws {
        let text = Array("the cat sat on the mat".utf8)
        for kind in [TokenizerKind.word, .char, .byte] {
            let v = try Vocabulary(building: kind, from: text, source: "c")
            let stream = try v.encodeStream(text, source: "c")
            #expect(Array(stream) == (try v.encode(text, source: "c")))
            guard case .u8 = stream.storage else { Issue.record("\(kind): \(stream.storage)"); continue }
        }
        // The byte tokenizer's stream is the corpus itself.
        #expect(try Vocabulary.bytes.encodeStream(text, source: "c").storage == .u8(text))
        #expect(TokenStream.bytesPerToken(vocabularySize: 256) == 1)
        #expect(TokenStream.bytesPerToken(vocabularySize: 257) == 2)
        #expect(TokenStream.bytesPerToken(vocabularySize: 65536) == 2)
        #expect(TokenStream.bytesPerToken(vocabularySize: 65537) == 4)
        // 300 distinct chars: 16-bit ids, 2 bytes a token (4 before issue 11).
        let wide = String(String.UnicodeScalarView((0..<300).map { Unicode.Scalar(0x100 + $0)! }))
        let v = try Vocabulary(building: .char, from: Array(wide.utf8), source: "w")
        let data = try TrainingData(corpus: Array(wide.utf8), path: "w.txt", vocabulary: v)
        guard case .u16(let ids) = data.tokens.storage else { Issue.record("\(data.tokens.storage)"); return }
        #expect(ids == (0..<300).map { UInt16($0) })
        #expect(data.tokens.byteCount == 600)
    }

    @Test func vocabulariesAreBoundedAsSymbolsAreFound() throws {
        let exactly = String(String.UnicodeScalarView((0..<65536).map { Unicode.Scalar(0x10000 + $0)! }))
        #expect(try Vocabulary(building: .char, from: Array(exactly.utf8), source: "c").tokens.count == 65536)
        let over = exactly + "a"
        #expect {
            try Vocabulary(building: .char, from: Array(over.utf8), source: "c.txt")
        } throws: { error in
            (error as? InputError)?.description
                == "c.txt: has more than 65536 distinct characters, and a char vocabulary holds at most 65536 tokens; the byte tokenizer takes any corpus"
        }
        let words = (0..<65534).map { "w\($0)" }.joined(separator: " ")
        #expect(throws: InputError.self) { try Vocabulary(building: .word, from: Array(words.utf8), source: "c") }
        let fits = (0..<65533).map { "w\($0)" }.joined(separator: " ")
        #expect(try Vocabulary(building: .word, from: Array(fits.utf8), source: "c").tokens.count == 65536)
    }

    /// A token stream over the memory limit is refused before it is allocated, with the sizes.
    @Test func tokenStreamsOverTheLimitAreRefusedBeforeAllocating() throws {
        let text = Array(String(repeating: "abc", count: 100).utf8)
        let v = try Vocabulary(building: .char, from: text, source: "c")
        #expect {
            try TrainingData(corpus: text, path: "c.txt", vocabulary: v, maxTokenBytes: 299)
        } throws: { error in
            (error as? InputError)?.description == "c.txt: its 300 tokens need 300 bytes of memory, more than the limit 299; use a smaller corpus"
        }
        #expect(try TrainingData(corpus: text, path: "c.txt", vocabulary: v, maxTokenBytes: 300).tokens.count == 300)
        // init records the count without holding the tokens, and it matches.
        #expect(try TrainingData.identity(corpus: text, path: "c.txt", vocabulary: v).tokenCount == 300)
    }

    /// A multi-gigabyte corpus trains (or fails with one line), never traps. Slow: reads,
    /// hashes and tokenizes 3 GB; run with TTCKPT_BIG_TESTS=1 (a release build via
    /// TT_CKPT_BIN is best).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["TTCKPT_BIG_TESTS"] != nil, "set TTCKPT_BIG_TESTS=1 (3 GB corpus)"))
    func threeGigabyteCorpus() throws {
        let dir = try TemporaryDirectory("big")
        let path = dir.path("big.txt")
        // A sparse file of 3e9 bytes: zeros, valid for the byte tokenizer and as UTF-8.
        let fd = open(path, O_WRONLY | O_CREAT, 0o644)
        #expect(ftruncate(fd, 3_000_000_000) == 0)
        close(fd)
        for args in [["init", "b.ttc", "--preset", "gpt-medium", "--data", "big.txt", "--layers", "1"],
                     ["train", "b.ttc", "--data", "big.txt", "--steps", "2"],
                     ["init", "c.ttc", "--preset", "gpt-small", "--data", "big.txt", "--layers", "1"],
                     ["train", "c.ttc", "--data", "big.txt", "--steps", "2"]] {
            let start = Date()
            let r = try CLIRunner.run(args, in: dir.url)
            print("\(args.joined(separator: " ")): exit \(r.status) in \(Int(Date().timeIntervalSince(start))) s \(r.stderr)")
            #expect(r.status == 0 || (r.status == 2 && r.stderrLines.count == 1), "\(args): \(r.status) \(r.stderr)")
        }
    }
}
