import Testing
import TTCore
@testable import TTInterop
@testable import TTTokenizer

/// decode(encode(x)) == x for byte strings of every kind, and the fast merge loop against
/// GPT-2's own algorithm.
@Suite struct BPERoundTripTests {
    static let tokenizer = try! BPEFixtures.trainedFromTokenizerJSON()

    /// Random byte strings from a fixed seed: uniform bytes, ASCII-heavy text, valid UTF-8
    /// of random scalars (all planes), and mixes with <|endoftext|> and whitespace runs.
    static func randomStrings(count: Int, seed: UInt64) -> [[UInt8]] {
        var rng = SplitMix64(state: seed)
        var out: [[UInt8]] = []
        let pieces: [[UInt8]] = ["<|endoftext|>", "   ", "\n\n", "'s", " the", "\u{1F44D}\u{1F3FD}", "\u{00A0}", "\r\n"].map { Array($0.utf8) }
        for i in 0..<count {
            let length = Int(rng.below(i < 50 ? 8 : 300))
            var s: [UInt8] = []
            while s.count < length {
                switch i % 4 {
                case 0: s.append(UInt8(truncatingIfNeeded: rng.next()))
                case 1: s.append(UInt8(0x20 + rng.below(0x5F)))
                case 2:
                    var v = UInt32(rng.below(0x110000))
                    if (0xD800...0xDFFF).contains(v) { v = 0xFFFD }
                    s += Array(String(Unicode.Scalar(v)!).utf8)
                default:
                    switch rng.below(4) {
                    case 0: s += pieces[Int(rng.below(UInt64(pieces.count)))]
                    case 1: s.append(UInt8(truncatingIfNeeded: rng.next()))
                    default: s.append(UInt8(0x20 + rng.below(0x5F)))
                    }
                }
            }
            out.append(s)
        }
        return out
    }

    @Test func randomByteStringsRoundTrip() throws {
        let t = Self.tokenizer
        var invalidUTF8 = 0
        for s in Self.randomStrings(count: 4000, seed: 12345) {
            if String(validating: s, as: UTF8.self) == nil { invalidUTF8 += 1 }
            #expect(try t.decode(t.encode(s)) == s)
            #expect(try t.decode(t.encode(s, matchingAddedTokens: false)) == s)
        }
        #expect(invalidUTF8 > 1000)  // the property is really exercised on invalid UTF-8
    }

    @Test func emptyAndEveryShortByteString() throws {
        let t = Self.tokenizer
        #expect(t.encode([UInt8]()) == [])
        #expect(try t.decode([Int32]()) == [])
        for a in 0..<256 {
            #expect(try t.decode(t.encode([UInt8(a)])) == [UInt8(a)])
            for b in 0..<256 {
                let s: [UInt8] = [UInt8(a), UInt8(b)]
                if try t.decode(t.encode(s)) != s { Issue.record("\(s) does not round-trip") }
            }
        }
    }

    /// One 200 000-byte piece (no spaces): the heap-based merge loop handles it.
    @Test func longPieceRoundTrips() throws {
        let t = Self.tokenizer
        let text = Array(String(repeating: "abcdefghij", count: 20_000).utf8)
        let ids = t.encode(text)
        var ranks: [[[UInt8]]: Int] = [:]
        for (r, m) in t.merges.enumerated() { ranks[[t.tokens[Int(m.left)], t.tokens[Int(m.right)]]] = r }
        #expect(ids == Self.referenceBPE(text.map { [$0] }, ranks: ranks).map { t.id(of: $0)! })
        #expect(try t.decode(ids) == text)
        let spaces = [UInt8](repeating: 0x20, count: 100_000)
        #expect(try t.decode(t.encode(spaces)) == spaces)
    }

    @Test func decodeRejectsIDsOutOfRange() {
        #expect(throws: InputError("ids", "id 2000 is out of range (2000 tokens)")) { try Self.tokenizer.decode([5, 2000]) }
        #expect(throws: InputError("ids", "id -1 is out of range (2000 tokens)")) { try Self.tokenizer.decode([-1]) }
        #expect((try? Self.tokenizer.decode([0, 5], skippingSpecialTokens: true)) == Self.tokenizer.tokens[5])
    }

    /// GPT-2's `bpe()` (openai/gpt-2 `encoder.py`), written out plainly: take the adjacent
    /// pair with the lowest rank, merge all its occurrences left to right, repeat.
    static func referenceBPE(_ tokens: [[UInt8]], ranks: [[[UInt8]]: Int]) -> [[UInt8]] {
        var word = tokens
        while word.count > 1 {
            var best: (rank: Int, pair: [[UInt8]])?
            for i in 0..<(word.count - 1) {
                if let r = ranks[[word[i], word[i + 1]]], best == nil || r < best!.rank { best = (r, [word[i], word[i + 1]]) }
            }
            guard let (_, pair) = best else { break }
            var merged: [[UInt8]] = []
            var i = 0
            while i < word.count {
                if i + 1 < word.count && word[i] == pair[0] && word[i + 1] == pair[1] {
                    merged.append(pair[0] + pair[1]); i += 2
                } else {
                    merged.append(word[i]); i += 1
                }
            }
            word = merged
        }
        return word
    }

    @Test func mergeLoopAgreesWithGPT2Reference() throws {
        let t = Self.tokenizer
        var ranks: [[[UInt8]]: Int] = [:]
        for (r, m) in t.merges.enumerated() { ranks[[t.tokens[Int(m.left)], t.tokens[Int(m.right)]]] = r }
        var compared = 0
        for s in Self.randomStrings(count: 1500, seed: 777) + [try BPEFixtures.heldout()] {
            for piece in GPT2PreTokenizer.pieces(of: s) {
                let bytes = Array(s[piece])
                let reference = Self.referenceBPE(bytes.map { [$0] }, ranks: ranks).map { t.id(of: $0)! }
                let fast = t.encode(bytes, matchingAddedTokens: false)
                if fast != reference { Issue.record("piece \(bytes): \(fast) vs reference \(reference)") }
                compared += 1
            }
        }
        #expect(compared > 10_000)
    }
}
