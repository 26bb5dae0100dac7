import Foundation
import Testing
@testable import TTCore
@testable import TTEngine
@testable import TTTokenizer
@testable import TTTraining

@Suite struct TrainingDataTests {
    @Test func tutorialDataIsTheSeriesSequence() {
        let data = TrainingData.tutorial()
        #expect(Array(data.tokens) == [1, 3, 4, 5, 2])
        #expect(data.identity.name == "builtin:tutorial")
        #expect(data.identity.byteCount == 31)
        #expect(data.identity.tokenCount == 5)
        // `printf '<BOS> I like transformers <EOS>' | sha256sum` (coreutils).
        #expect(data.identity.sha256 == "bce1bdede5b87ab5b336ee5090e0ccfbf54b05c37f56b4dc699af4a27a4aa99c")
    }

    @Test func shortStreamIsUsedWholeWithoutDrawing() {
        let sampler = BatchSampler(tokens: [1, 3, 4, 5, 2], context: 5, batchSize: 3, padID: 0)
        var rng = PythonRandom(seed: 42)
        let before = rng.state
        var drawn: UInt64 = 7
        let batch = sampler.nextBatch(rng: &rng, windowsDrawn: &drawn)
        #expect(rng.state == before)
        #expect(drawn == 10)
        #expect(batch.batchSize == 3 && batch.seqLen == 5)
        #expect(batch.tokens == [Int32](repeating: 0, count: 0) + [1, 3, 4, 5, 2, 1, 3, 4, 5, 2, 1, 3, 4, 5, 2])
        let row: [Int32] = [3, 4, 5, 2, Batch.ignore]
        #expect(batch.targets == row + row + row)
        #expect(batch.targetCount == 12)
    }

    @Test func shortStreamIsPaddedToContextWithIgnoredTargets() {
        let sampler = BatchSampler(tokens: [1, 3, 2], context: 5, batchSize: 1, padID: 0)
        var rng = PythonRandom(seed: 1)
        var drawn: UInt64 = 0
        let batch = sampler.nextBatch(rng: &rng, windowsDrawn: &drawn)
        #expect(batch.tokens == [1, 3, 2, 0, 0])
        #expect(batch.targets == [3, 2, Batch.ignore, Batch.ignore, Batch.ignore])
    }

    @Test func windowsAreAtRandbelowOffsets() {
        // Token i has id i, so each window reveals its offset. CPython's randrange(n - T) gives
        // the offsets; `PythonRandom.randbelow` is checked against CPython in RandomTests.
        let n = 50, T = 8
        let sampler = BatchSampler(tokens: (0..<n).map { Int32($0) }, context: T, batchSize: 4, padID: nil)
        var rng = PythonRandom(seed: 42), reference = PythonRandom(seed: 42)
        var drawn: UInt64 = 0
        var seen = Set<Int>()
        for _ in 0..<50 {
            let batch = sampler.nextBatch(rng: &rng, windowsDrawn: &drawn)
            for b in 0..<4 {
                let offset = Int(reference.randbelow(UInt64(n - T)))
                seen.insert(offset)
                #expect(Array(batch.tokens[(b * T)..<(b * T + T)]) == (offset..<(offset + T)).map { Int32($0) })
                #expect(Array(batch.targets[(b * T)..<(b * T + T)]) == ((offset + 1)...(offset + T)).map { Int32($0) })
            }
        }
        #expect(drawn == 200)
        #expect(rng.state == reference.state)
        // Every offset 0...n-T-1 occurs in 200 draws, and none beyond (the last window ends at n-1).
        #expect(seen == Set(0..<(n - T)))
    }

    @Test func padTargetsAreIgnoredInWindows() {
        let sampler = BatchSampler(tokens: [1, 0, 1, 0, 1, 0], context: 2, batchSize: 2, padID: 0)
        var rng = PythonRandom(seed: 3)
        var drawn: UInt64 = 0
        let batch = sampler.nextBatch(rng: &rng, windowsDrawn: &drawn)
        #expect(!batch.targets.contains(0))
        #expect(batch.targetCount == batch.targets.filter { $0 == 1 }.count)
    }

    @Test func corpusFileLoadsWithIdentity() throws {
        let dir = try TemporaryDirectory("data")
        try dir.write("c.txt", "abcab")
        let v = try Vocabulary(building: .char, from: Array("abc".utf8), source: "x")
        let data = try TrainingData.load(corpusAt: dir.path("c.txt"), vocabulary: v)
        #expect(Array(data.tokens) == [0, 1, 2, 0, 1])
        #expect(data.identity.name == "c.txt")
        #expect(data.identity.byteCount == 5)
        #expect(data.identity.sha256 == SHA256.hexDigest(Array("abcab".utf8)))
    }

    @Test func corpusFileErrorsNameTheFile() throws {
        let dir = try TemporaryDirectory("data")
        try dir.write("empty.txt", "")
        try dir.write("one.txt", "a")
        let v = try Vocabulary(building: .char, from: Array("abc".utf8), source: "x")
        #expect(throws: InputError(dir.path("missing.txt"), "cannot open: No such file or directory")) {
            _ = try TrainingData.load(corpusAt: dir.path("missing.txt"), vocabulary: v)
        }
        #expect(throws: InputError(dir.url.path, "is a directory")) {
            _ = try TrainingData.load(corpusAt: dir.url.path, vocabulary: v)
        }
        #expect(throws: InputError(dir.path("empty.txt"), "is empty")) {
            _ = try TrainingData.load(corpusAt: dir.path("empty.txt"), vocabulary: v)
        }
        #expect(throws: InputError(dir.path("one.txt"), "has 1 token; training needs at least 2")) {
            _ = try TrainingData.load(corpusAt: dir.path("one.txt"), vocabulary: v)
        }
    }

    @Test func stepFileNamingAndPruning() throws {
        #expect(StepFiles.path(output: "run/model.ttc", step: 100) == "run/model.step000100.ttc")
        #expect(StepFiles.path(output: "m.bin", step: 1_234_567) == "m.bin.step1234567.ttc")
        let dir = try TemporaryDirectory("steps")
        for name in ["m.step000001.ttc", "m.step000002.ttc", "m.step000003.ttc", "m.step000009.ttc",
                     "m.step12.ttc", "other.step000001.ttc", "m.ttc"] {
            try dir.write(name, "x")
        }
        StepFiles.prune(output: dir.path("m.ttc"), keep: 1, upTo: 3)
        // Keeps the newest ≤ 3, leaves the later-numbered file, short numbers, other stems and the output.
        #expect(try dir.listing() == ["m.step000003.ttc", "m.step000009.ttc", "m.step12.ttc", "m.ttc", "other.step000001.ttc"])
    }
}
