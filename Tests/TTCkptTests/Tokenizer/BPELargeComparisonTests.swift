import Foundation
import Testing
import TTCore
@testable import TTInterop
@testable import TTTokenizer

/// Our trainer against tokenizers on a few MB (python/tools/compare_bpe_large.py writes the
/// directory; too large to commit). Skipped unless BPE_LARGE_DIR is set.
@Suite struct BPELargeComparisonTests {
    static let directory = ProcessInfo.processInfo.environment["BPE_LARGE_DIR"]

    @Test(.enabled(if: directory != nil, "set BPE_LARGE_DIR to a directory written by python/tools/compare_bpe_large.py"))
    func largeCorpusAgreesWithTokenizers() throws {
        let dir = URL(fileURLWithPath: Self.directory!)
        let corpus = [UInt8](try Data(contentsOf: dir.appendingPathComponent("corpus.txt")))
        let meta = try HeaderJSON.parse([UInt8](try Data(contentsOf: dir.appendingPathComponent("meta.json"))))
        let theirs = try BPEFiles.loadTokenizerJSON([UInt8](try Data(contentsOf: dir.appendingPathComponent("tokenizer.json"))),
                                                    file: "tokenizer.json") { try HeaderJSON.parse($0) }
        let clock = ContinuousClock()
        var ours: BPETokenizer?
        let elapsed = try clock.measure {
            ours = try BPETrainer(vocabularySize: meta["vocab_size"]!.nonNegativeInt!, minimumFrequency: 2,
                                  specialTokens: ["<|endoftext|>"]).train(corpus: corpus, source: "corpus.txt")
        }
        let agreeing = zip(ours!.merges, theirs.merges).prefix { $0 == $1 }.count
        let encodeTime = clock.measure { _ = theirs.encode(corpus) }
        print("large comparison: \(corpus.count) bytes, \(theirs.merges.count) merges, first \(agreeing) agree;",
              "our training \(elapsed), encoding the corpus \(encodeTime)")
        #expect(agreeing == theirs.merges.count)
        #expect(ours! == theirs)
    }
}
