import Testing
import TTCore
@testable import TTInterop
@testable import TTTokenizer

@Suite struct BPETrainerTests {
    /// The corpus tokenizers trained on, regenerated here byte for byte (checked by length
    /// and FNV-1a-64 against meta.json).
    static func corpus() throws -> [UInt8] {
        let seed = UInt64(try BPEFixtures.meta("corpus_seed").nonNegativeInt!)
        let target = try BPEFixtures.meta("corpus_target_bytes").nonNegativeInt!
        return CorpusGenerator.make(seedLines: try CorpusGenerator.seedLines(), seed: seed, target: target)
    }

    @Test func regeneratedCorpusIsTheOneTokenizersTrainedOn() throws {
        let corpus = try Self.corpus()
        #expect(corpus.count == (try BPEFixtures.meta("corpus_bytes").nonNegativeInt))
        #expect(String(CorpusGenerator.fnv1a64(corpus), radix: 16) == (try BPEFixtures.meta("corpus_fnv1a64").stringValue))
    }

    /// Our trainer on the same corpus and settings learns tokenizers' vocabulary and merges:
    /// every token id and every merge rank (2000 tokens, 1743 merges).
    @Test func trainerLearnsTokenizersMerges() throws {
        let corpus = try Self.corpus()
        let trainer = BPETrainer(vocabularySize: try BPEFixtures.meta("vocab_size").nonNegativeInt!,
                                 minimumFrequency: try BPEFixtures.meta("min_frequency").nonNegativeInt!,
                                 specialTokens: ["<|endoftext|>"])
        let ours = try trainer.train(corpus: corpus, source: "corpus")
        let theirs = try BPEFixtures.trainedFromTokenizerJSON()
        #expect(ours.count == theirs.count)
        #expect(ours.merges.count == theirs.merges.count)
        let agreeing = zip(ours.merges, theirs.merges).prefix { $0 == $1 }.count
        #expect(agreeing == theirs.merges.count, "the first \(agreeing) of \(theirs.merges.count) merges agree")
        let firstDifferentToken = (0..<min(ours.count, theirs.count)).first { ours.tokens[$0] != theirs.tokens[$0] }
        #expect(firstDifferentToken == nil)
        #expect(ours.addedTokens == theirs.addedTokens)
    }

    /// Ties: "ab" and "cd" are equally frequent, so the pair with the smaller ids wins:
    /// ("a", "b") has smaller ids than ("c", "d"), whatever the order of the words.
    @Test func tiesGoToTheSmallestPairOfIDs() throws {
        let trainer = BPETrainer(vocabularySize: 258, minimumFrequency: 1)
        for counts in [[Array("cd".utf8): 3, Array("ab".utf8): 3], [Array("ab".utf8): 3, Array("cd".utf8): 3]] {
            let t = try trainer.train(wordCounts: counts, source: "test")
            #expect(t.merges.map { t.tokens[Int($0.left)] + t.tokens[Int($0.right)] } == [Array("ab".utf8), Array("cd".utf8)])
        }
        // The ids are alphabet positions, not byte values: "Ġ" (the space, U+0120) sorts
        // after every printable character, so ("a", "b") beats (" ", "a") at equal counts.
        let spaced = try BPETrainer(vocabularySize: 257, minimumFrequency: 1)
            .train(wordCounts: [Array(" a".utf8): 2, Array("ab".utf8): 2], source: "test")
        #expect(spaced.tokens[Int(spaced.merges[0].left)] == Array("a".utf8))
    }

    /// min_frequency stops training: pairs seen once are never merged with the default 2.
    @Test func minimumFrequencyStopsMerging() throws {
        let t = try BPETrainer(vocabularySize: 1000).train(corpus: Array("ab ab cd".utf8), source: "test")
        // Pieces: "ab", " ab", " cd": ("a","b") twice -> merged; then ("Ġ","ab") once, ("Ġ","c") once: stop.
        #expect(t.merges.count == 1)
        #expect(t.count == 257)
    }

    @Test func trainingIsDeterministicAndRoundTrips() throws {
        let corpus = Array(try Self.corpus().prefix(60_000)) + [0xFF, 0xFE, 0x20, 0xC3]  // and some invalid UTF-8
        let trainer = BPETrainer(vocabularySize: 600, specialTokens: ["<s>", "</s>"])
        let a = try trainer.train(corpus: corpus, source: "c")
        let b = try trainer.train(corpus: corpus, source: "c")
        #expect(a == b && Vocabulary(a) == Vocabulary(b))
        #expect(a.count == 600)
        #expect(a.tokens[0] == Array("<s>".utf8) && a.tokens[1] == Array("</s>".utf8))
        #expect(try a.decode(a.encode(corpus)) == corpus)
    }

    @Test func badRequestsAreClearErrors() {
        #expect(throws: InputError(setting: .vocabSize, "200 is outside 257...1048576 (256 byte tokens + 1 special)")) {
            try BPETrainer(vocabularySize: 200, specialTokens: ["<|endoftext|>"]).train(corpus: [0x61], source: "c")
        }
        #expect(throws: InputError("c.txt", "is empty")) {
            try BPETrainer(vocabularySize: 300).train(corpus: [], source: "c.txt")
        }
        #expect(throws: InputError("special token", "\"<s>\" is given twice")) {
            try BPETrainer(vocabularySize: 300, specialTokens: ["<s>", "<s>"]).train(corpus: [0x61], source: "c")
        }
    }
}
