import Foundation
import TTCore
@testable import TTInterop
@testable import TTTokenizer

/// The files in Tests/Fixtures/bpe, written by python/tools/gen_bpe_fixtures.py with
/// Hugging Face tokenizers 0.23.3 (versions in meta.json).
enum BPEFixtures {
    static let directory = TestPaths.packageRoot.appendingPathComponent("Tests/Fixtures/bpe")

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    static func json(_ name: String) throws -> HeaderJSON {
        try HeaderJSON.parse(try bytes(name))
    }

    /// The tokenizer tokenizers trained, loaded from its tokenizer.json.
    static func trainedFromTokenizerJSON() throws -> BPETokenizer {
        try BPEFiles.loadTokenizerJSON(try bytes("trained-tokenizer.json"), file: "trained-tokenizer.json") {
            try HeaderJSON.parse($0)
        }
    }

    /// The same, loaded from vocab.json + merges.txt (no added tokens).
    static func trainedFromVocabAndMerges(specialTokens: [String] = []) throws -> BPETokenizer {
        try BPEFiles.loadVocabAndMerges(vocab: try bytes("trained-vocab.json"), vocabFile: "trained-vocab.json",
                                        merges: try bytes("trained-merges.txt"), mergesFile: "trained-merges.txt",
                                        specialTokens: specialTokens) { try HeaderJSON.parse($0) }
    }

    static func heldout() throws -> [UInt8] { try bytes("heldout.txt") }

    /// An id list from heldout-ids.json.
    static func heldoutIDs(_ key: String) throws -> [Int32] {
        guard let items = try json("heldout-ids.json")[key]?.arrayItems else { throw BPEFixtureError("no \(key)") }
        return try items.map {
            guard let n = $0.nonNegativeInt else { throw BPEFixtureError("bad id in \(key)") }
            return Int32(n)
        }
    }

    static func meta(_ key: String) throws -> HeaderJSON {
        guard let v = try json("meta.json")[key] else { throw BPEFixtureError("meta.json lacks \(key)") }
        return v
    }
}

struct BPEFixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// SplitMix64, as in gen_bpe_fixtures.py.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: UInt64) -> UInt64 { next() % n }
}

/// `make_corpus` of python/tools/gen_bpe_fixtures.py, byte for byte.
enum CorpusGenerator {
    static let separators: [[UInt8]] = [" ", " ", " ", "  ", "\t", ", ", " - ", "; ", "   "].map { Array($0.utf8) }
    static let endings: [[UInt8]] = ["\n", "\n", "\n", "\n", "\n", "\n", "\n\n", "\r\n", "  \n", "\n\n\n", " \n\t\n"]
        .map { Array($0.utf8) }

    static func seedLines() throws -> [[UInt8]] {
        try BPEFixtures.bytes("corpus-seed.txt").split(separator: 0x0A, omittingEmptySubsequences: true).map(Array.init)
    }

    static func make(seedLines lines: [[UInt8]], seed: UInt64, target: Int) -> [UInt8] {
        var rng = SplitMix64(state: seed)
        var out: [UInt8] = []
        while out.count < target {
            var parts: [[UInt8]] = []
            for _ in 0..<(1 + rng.below(3)) {
                let words = lines[Int(rng.below(UInt64(lines.count)))].split(separator: 0x20, omittingEmptySubsequences: false)
                let start = Int(rng.below(UInt64(words.count)))
                let length = 1 + Int(rng.below(UInt64(words.count - start)))
                parts.append(Array(words[start..<(start + length)].joined(separator: [0x20])))
                if rng.below(4) == 0 {
                    var power: UInt64 = 1
                    for _ in 0..<rng.below(9) { power *= 10 }
                    parts.append(Array(String(rng.below(power)).utf8))
                }
            }
            var line: [UInt8] = []
            for (k, part) in parts.enumerated() {
                if k > 0 { line += separators[Int(rng.below(UInt64(separators.count)))] }
                line += part
            }
            out += line + endings[Int(rng.below(UInt64(endings.count)))]
        }
        return out
    }

    static func fnv1a64(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }
}

extension HeaderJSON {
    /// An integer as the parser gives it, to build tokenizer.json documents in tests.
    static func int(_ value: Int) -> HeaderJSON { .number(String(value)) }

    /// A copy with the value at `path` (object keys) replaced.
    func replacing(path: [String], with value: HeaderJSON) -> HeaderJSON {
        guard let key = path.first, case let .object(members) = self else { return path.isEmpty ? value : self }
        return .object(members.map { $0.0 == key ? ($0.0, $0.1.replacing(path: Array(path.dropFirst()), with: value)) : $0 })
    }
}
