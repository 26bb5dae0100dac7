import CBlobCodec
import CZlib
import Foundation
import Testing
@testable import TTCore
@testable import TTFormat

/// The reader's inflater (`cb_inflate_exact`, behind `inflateExact`) against zlib's
/// (`zlibInflate`, the reader's previous path and still its fallback): on every stream the
/// fast decoder accepts, zlib accepts too and gives the same bytes (and the CRC-32 it
/// reports is theirs); `inflateExact` gives zlib's answer on every stream, valid or not
/// (same bytes or the same `InflateFailure`); and every valid stream here is accepted by
/// the fast decoder itself, so no test passes through the fallback unnoticed.
@Suite struct InflaterTests {
    /// zlib's answer, as the reader asked it before the fast decoder: `rawLength` bytes or why not.
    static func zlibAnswer(_ stream: [UInt8], count n: Int) -> Result<[UInt8], InflateFailure> {
        var out = [UInt8](repeating: 0, count: max(n, 1))
        do {
            try stream.withUnsafeBytes { s in
                try out.withUnsafeMutableBytes { try zlibInflate(s, into: $0.baseAddress!, rawLength: n) }
            }
        } catch let e as InflateFailure {
            return .failure(e)
        } catch {
            Issue.record("unexpected error \(error)")
            return .failure(.outOfMemory)
        }
        return .success(Array(out.prefix(n)))
    }

    /// The fast decoder alone: accepted, its bytes and the CRC-32 it reports.
    static func fastAnswer(_ stream: [UInt8], count n: Int) -> (accepted: Bool, bytes: [UInt8], crc: UInt32) {
        var out = [UInt8](repeating: 0xA5, count: max(n, 1))
        var crc: UInt32 = 0
        let rc = stream.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { cb_inflate_exact($0.baseAddress!, n, s.baseAddress ?? UnsafePointer(bitPattern: 1)!, s.count, &crc) }
        }
        return (rc == 1, Array(out.prefix(n)), crc)
    }

    /// The fast decoder with the un-shuffle (n a multiple of 4): accepted, the un-shuffled
    /// bytes and the CRC-32 it reports.
    static func fastUnshuffledAnswer(_ stream: [UInt8], count n: Int) -> (accepted: Bool, bytes: [UInt8], crc: UInt32) {
        var out = [UInt8](repeating: 0xA5, count: max(n, 1)), scratch = out
        var crc: UInt32 = 7
        let rc = stream.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                scratch.withUnsafeMutableBufferPointer {
                    cb_inflate_unshuffle4(o.baseAddress!, $0.baseAddress!, n / 4, s.baseAddress ?? UnsafePointer(bitPattern: 1)!, s.count, &crc)
                }
            }
        }
        return (rc == 1, Array(out.prefix(n)), crc)
    }

    /// The reader's path (`inflateExact`): bytes and CRC-32, or the failure.
    static func readerAnswer(_ stream: [UInt8], count n: Int) -> Result<([UInt8], UInt32), InflateFailure> {
        var out = [UInt8](repeating: 0, count: max(n, 1))
        do {
            let crc = try stream.withUnsafeBytes { s in
                try out.withUnsafeMutableBytes { try inflateExact(s, into: $0.baseAddress!, rawLength: n) }
            }
            return .success((Array(out.prefix(n)), crc))
        } catch let e as InflateFailure {
            return .failure(e)
        } catch {
            Issue.record("unexpected error \(error)")
            return .failure(.outOfMemory)
        }
    }

    /// Checks the three answers agree; returns whether zlib accepted. `expect`: what zlib
    /// must answer (accept or reject), when the case knows.
    @discardableResult
    static func agree(_ stream: [UInt8], count n: Int, expect: Bool? = nil, _ label: @autoclosure () -> String,
                      sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        let z = zlibAnswer(stream, count: n)
        let fast = fastAnswer(stream, count: n)
        let reader = readerAnswer(stream, count: n)
        switch z {
        case .success(let bytes):
            #expect(fast.accepted, "fast decoder declined a valid stream: \(label())", sourceLocation: sourceLocation)
            if fast.accepted {
                #expect(fast.bytes == bytes, "bytes differ from zlib's: \(label())", sourceLocation: sourceLocation)
                #expect(fast.crc == crc32Of(bytes), "CRC-32 of the output: \(label())", sourceLocation: sourceLocation)
            }
            if case .success(let (b, crc)) = reader {
                #expect(b == bytes && crc == crc32Of(bytes), "reader path: \(label())", sourceLocation: sourceLocation)
            } else {
                Issue.record("reader path rejected a valid stream: \(label())", sourceLocation: sourceLocation)
            }
        case .failure(let failure):
            #expect(!fast.accepted, "fast decoder accepted what zlib rejects (\(failure)): \(label())", sourceLocation: sourceLocation)
            if case .failure(let f) = reader {
                #expect(f == failure, "reader failure \(f), zlib's \(failure): \(label())", sourceLocation: sourceLocation)
            } else {
                Issue.record("reader path accepted what zlib rejects: \(label())", sourceLocation: sourceLocation)
            }
        }
        if n % 4 == 0 {
            let u = fastUnshuffledAnswer(stream, count: n)
            #expect(u.accepted == fast.accepted, "with the un-shuffle, \(u.accepted ? "accepted" : "declined"): \(label())", sourceLocation: sourceLocation)
            if u.accepted, case .success(let bytes) = z {
                let raw = unshuffleBytes(bytes, elementSize: 4)
                #expect(u.bytes == raw && u.crc == raw.withUnsafeBytes { crc32Of($0, continuing: 7) },
                        "un-shuffled bytes or CRC-32: \(label())", sourceLocation: sourceLocation)
            }
        }
        let accepted = (try? z.get()) != nil
        if let expect {
            #expect(accepted == expect, "zlib \(accepted ? "accepts" : "rejects"): \(label())", sourceLocation: sourceLocation)
        }
        return accepted
    }

    /// zlib's deflate with any strategy and window (tests only: the writer's own is `zlibCompress`).
    static func deflate(_ input: [UInt8], level: Int32, strategy: Int32, windowBits: Int32 = 15, memLevel: Int32 = 8) -> [UInt8] {
        var stream = z_stream()
        precondition(czlib_deflateInit2(&stream, level, Z_DEFLATED, windowBits, memLevel, strategy) == Z_OK)
        defer { deflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))) + 64)
        let produced: Int = input.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                stream.next_in = UnsafeMutablePointer(mutating: i.baseAddress ?? UnsafePointer(bitPattern: 1)!)
                stream.avail_in = uInt(i.count)
                stream.next_out = o.baseAddress!
                stream.avail_out = uInt(o.count)
                precondition(CZlib.deflate(&stream, Z_FINISH) == Z_STREAM_END)
                return o.count - Int(stream.avail_out)
            }
        }
        return Array(out.prefix(produced))
    }

    static let sizes = [0, 1, 2, 3, 5, 31, 32, 33, 100, 255, 1000, 4097, 16_385, 65_535, 65_536, 70_001, 300_007]

    /// Float tensors of several kinds: trained-like (Gaussian), tiny moments, zeros, a
    /// constant, few distinct values in runs (the runs mode), and a ramp.
    static func floats(kind: Int, count n: Int, seed: UInt64) -> [Float] {
        var r = PythonRandom(seed: seed)
        return (0..<n).map { i in
            switch kind {
            case 0: return Float(r.gauss(mu: 0, sigma: 0.02))
            case 1: return Float(abs(r.gauss(mu: 0, sigma: 1e-6)))
            case 2: return 0
            case 3: return 1
            case 4: return (i / 50) % 2 == 0 ? 0 : Float(r.randbelow(4))
            default: return Float(i) * 0.001
            }
        }
    }

    @Test func everyEncodingOfTheWriter() {
        var streams = 0
        for n in Self.sizes {
            for kind in 0..<6 {
                let values = Self.floats(kind: kind, count: n, seed: UInt64(n * 7 + kind))
                let raw = littleEndianBytes(values)
                let shuffled = shuffleBytes(raw, elementSize: 4)
                values.withUnsafeBufferPointer { v in
                    for effort in [Int32(CB_EFFORT_STORED), Int32(CB_EFFORT_FAST), Int32(CB_EFFORT_SMALL)] {
                        for filter in [BlobFilter.none, .shuffle] where effort != Int32(CB_EFFORT_SMALL) || n <= 70_001 {
                            let stream = planeStream(v, filter: filter, effort: effort)
                            Self.agree(stream, count: 4 * n, expect: true, "planes effort \(effort) \(filter) n \(n) kind \(kind)")
                            #expect(Self.fastAnswer(stream, count: 4 * n).bytes == (filter == .shuffle ? shuffled : raw))
                            streams += 1
                        }
                    }
                }
                for level in Int32(1)...9 where n <= 70_001 || level == 1 || level == 6 {
                    for strategy in CompressionStrategy.allCases {
                        Self.agree(zlibCompress(shuffled, level: level, strategy: strategy), count: 4 * n, expect: true,
                                   "zlib level \(level) \(strategy) n \(n) kind \(kind)")
                        streams += 1
                    }
                }
            }
        }
        #expect(streams > 1000)
    }

    @Test func encodeBlobRoundTripsThroughTheReaderPath() throws {
        for n in [0, 1, 3, 4096, 65_537] {
            let values = Self.floats(kind: 0, count: n, seed: 9)
            for encoding in BlobEncoding.allCases where encoding != .zlib {
                let blob = encodeBlob(values, compression: encoding, filter: nil, exactChoiceLimit: 1 << 16,
                                      sampleChunks: 4, sampleChunkElements: 1024)
                let (back, crc) = try blob.stored.withUnsafeBytes {
                    try inflateFloats($0, rawLength: 4 * n, shuffled: blob.filter == .shuffle)
                }
                #expect(back.map(\.bitPattern) == values.map(\.bitPattern))
                #expect(crc == blob.rawCRC)
                Self.agree(blob.stored, count: 4 * n, expect: true, "encodeBlob \(encoding) n \(n)")
            }
        }
    }

    @Test func randomBytesAtEveryLevelAndStrategy() {
        let strategies: [(Int32, String)] = [(Z_DEFAULT_STRATEGY, "default"), (Z_FILTERED, "filtered"),
                                             (Z_HUFFMAN_ONLY, "huffman"), (Z_RLE, "rle"), (Z_FIXED, "fixed")]
        var r = PythonRandom(seed: 5)
        for n in [0, 1, 2, 7, 100, 1000, 40_000, 100_000] {
            for kind in 0..<7 {
                let data = BlobEncodingTests.bytes(kind: kind, count: n, seed: r.randbelow(1 << 30))
                for level in Int32(0)...9 {
                    for (strategy, name) in strategies {
                        // Smaller windows and memLevels too: other headers, shorter distances.
                        let window: Int32 = level % 3 == 0 ? 9 + level / 3 : 15
                        let stream = Self.deflate(data, level: level, strategy: strategy, windowBits: window, memLevel: 1 + level % 9)
                        Self.agree(stream, count: n, expect: true, "n \(n) kind \(kind) level \(level) \(name) window \(window)")
                    }
                }
            }
        }
    }

    /// Text-like data: many matches of every distance up to 32 KiB and every length.
    @Test func longMatchesAndFarDistances() {
        var r = PythonRandom(seed: 11)
        var data: [UInt8] = (0..<2000).map { _ in UInt8(r.randbelow(256)) }
        while data.count < 400_000 {
            let from = data.count - 1 - Int(r.randbelow(UInt64(min(data.count, 32_768))))
            let length = 3 + Int(r.randbelow(300))
            for k in 0..<length { data.append(data[from + k % (data.count - from)]) }
            if r.randbelow(4) == 0 { data.append(UInt8(r.randbelow(256))) }
        }
        for level in Int32(1)...9 {
            Self.agree(Self.deflate(data, level: level, strategy: Z_DEFAULT_STRATEGY), count: data.count, expect: true, "level \(level)")
            Self.agree(Self.deflate(data, level: level, strategy: Z_FIXED), count: data.count, expect: true, "fixed level \(level)")
        }
    }

    /// Every stream above, corrupted: bit flips, byte changes, truncations, extra bytes, a
    /// wrong expected length. Whatever zlib answers, the reader's path answers the same;
    /// truncated and extended streams and wrong lengths are rejected.
    @Test func corruptedAndTruncatedStreams() {
        var bases: [(String, [UInt8], Int)] = []
        for (n, kind) in [(0, 0), (1, 0), (777, 0), (20_000, 0), (20_000, 4), (20_001, 1)] {
            let values = Self.floats(kind: kind, count: n, seed: UInt64(n + kind))
            values.withUnsafeBufferPointer { v in
                for filter in [BlobFilter.none, .shuffle] {
                    bases.append(("planes \(filter) n \(n) kind \(kind)", planeStream(v, filter: filter, effort: Int32(CB_EFFORT_FAST)), 4 * n))
                }
            }
            let raw = littleEndianBytes(values)
            bases.append(("zlib 6 n \(n)", Self.deflate(raw, level: 6, strategy: Z_DEFAULT_STRATEGY), 4 * n))
            bases.append(("zlib fixed n \(n)", Self.deflate(raw, level: 6, strategy: Z_FIXED), 4 * n))
            bases.append(("zlib huffman n \(n)", Self.deflate(raw, level: 6, strategy: Z_HUFFMAN_ONLY), 4 * n))
        }
        var r = HostileMutationTests.SplitMix(state: 17)
        var rejected = 0, cases = 0
        for (label, stream, n) in bases {
            Self.agree(stream, count: n, expect: true, label)
            Self.agree(stream, count: n + 1, expect: false, "\(label), one byte more expected")
            if n > 0 { Self.agree(stream, count: n - 1, expect: false, "\(label), one byte less expected") }
            Self.agree(stream + [0], count: n, expect: false, "\(label) + a trailing byte")
            // Truncations: every length for short streams, a sample and the last 40 for long ones.
            let cuts = stream.count <= 600 ? Array(0..<stream.count)
                : (0..<150).map { _ in Int(r.next() % UInt64(stream.count)) } + Array((stream.count - 40)..<stream.count)
            for cut in cuts {
                Self.agree(Array(stream.prefix(cut)), count: n, expect: false, "\(label) cut at \(cut)")
            }
            for m in 0..<300 {
                var bad = stream
                let at = Int(r.next() % UInt64(bad.count))
                if m % 3 == 0 { bad[at] = UInt8(truncatingIfNeeded: r.next()) } else { bad[at] ^= 1 << (r.next() % 8) }
                if m % 5 == 0 { bad[Int(r.next() % UInt64(bad.count))] ^= 1 << (r.next() % 8) }
                if !Self.agree(bad, count: n, "\(label) mutation \(m) at \(at)") { rejected += 1 }
                cases += 1
            }
        }
        // Most corruptions are caught by the stream itself (the Adler-32 at the latest).
        #expect(rejected * 10 > cases * 9, "\(rejected) of \(cases) rejected")
    }

    /// Hand-made streams for the rules of RFC 1951 and zlib's stricter ones.
    struct Bits {
        var bytes: [UInt8] = [0x78, 0x01]
        var acc: UInt64 = 0
        var count = 0
        mutating func put(_ value: Int, _ n: Int) {
            acc |= UInt64(value) << UInt64(count)
            count += n
            while count >= 8 { bytes.append(UInt8(truncatingIfNeeded: acc)); acc >>= 8; count -= 8 }
        }
        /// A Huffman code, most significant bit first.
        mutating func code(_ value: Int, _ n: Int) {
            for k in stride(from: n - 1, through: 0, by: -1) { put((value >> k) & 1, 1) }
        }
        mutating func align() { if count > 0 { put(0, 8 - count) } }
        /// Aligns and appends the Adler-32 of `data`.
        func finished(_ data: [UInt8]) -> [UInt8] {
            var b = self
            b.align()
            let a = cb_adler32(1, data, data.count)
            return b.bytes + [UInt8(a >> 24), UInt8(truncatingIfNeeded: a >> 16), UInt8(truncatingIfNeeded: a >> 8), UInt8(truncatingIfNeeded: a)]
        }
        /// A fixed-code literal/length symbol.
        mutating func fixed(_ s: Int) {
            switch s {
            case 0..<144: code(0x30 + s, 8)
            case 144..<256: code(0x190 + s - 144, 9)
            case 256..<280: code(s - 256, 7)
            default: code(0xC0 + s - 280, 8)
            }
        }
    }

    /// Canonical codes (RFC 1951 §3.2.2) for code lengths.
    static func canonical(_ lengths: [Int]) -> [Int] {
        var count = [Int](repeating: 0, count: 16), next = [Int](repeating: 0, count: 16)
        for l in lengths where l > 0 { count[l] += 1 }
        var c = 0
        for l in 1..<16 { c = (c + count[l - 1]) << 1; next[l] = c }
        return lengths.map { l in
            guard l > 0 else { return 0 }
            defer { next[l] += 1 }
            return next[l]
        }
    }

    /// A dynamic block header: `hlit`, `hdist` as coded (unchecked), the code-length code
    /// giving length 4 to the 16 symbols of `clenSymbols`, then `tokens` (code-length
    /// symbol, extra value).
    static func dynamicHeader(_ b: inout Bits, final: Bool, hlit: Int, hdist: Int,
                              clenSymbols: [Int] = Array(0..<16), tokens: [(Int, Int)]) {
        let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
        var clen = [Int](repeating: 0, count: 19)
        for s in clenSymbols { clen[s] = 4 }
        let codes = canonical(clen)
        b.put(final ? 1 : 0, 1); b.put(2, 2)
        b.put(hlit - 257, 5); b.put(hdist - 1, 5); b.put(19 - 4, 4)
        for s in order { b.put(clen[s], 3) }
        for (s, extra) in tokens {
            b.code(codes[s], 4)
            if s == 16 { b.put(extra, 2) } else if s == 17 { b.put(extra, 3) } else if s == 18 { b.put(extra, 7) }
        }
    }

    /// A dynamic block of lit/length lengths `lit` and distance lengths `dist` (every
    /// symbol listed), then `symbols` (literal/length symbol, extra bits, distance
    /// symbol, extra bits) coded with them.
    static func dynamicBlock(lit: [Int], dist: [Int], symbols: [(Int, (Int, Int)?, Int?, (Int, Int)?)]) -> Bits {
        var b = Bits()
        dynamicHeader(&b, final: true, hlit: lit.count, hdist: dist.count, tokens: (lit + dist).map { ($0, 0) })
        let lc = canonical(lit), dc = canonical(dist)
        for (s, lx, d, dx) in symbols {
            b.code(lc[s], lit[s])
            if let (v, n) = lx { b.put(v, n) }
            if let d { b.code(dc[d], dist[d]) }
            if let (v, n) = dx { b.put(v, n) }
        }
        return b
    }

    @Test func handMadeStreams() {
        let aaaa: [UInt8] = Array(repeating: 97, count: 4)
        // Fixed block: 'a', then length 3 at distance 1.
        var b = Bits(); b.put(1, 1); b.put(1, 2); b.fixed(97); b.fixed(257); b.code(0, 5); b.fixed(256)
        Self.agree(b.finished(aaaa), count: 4, expect: true, "fixed, a run")
        // Distance 2 after one byte: too far back.
        b = Bits(); b.put(1, 1); b.put(1, 2); b.fixed(97); b.fixed(257); b.code(1, 5); b.fixed(256)
        Self.agree(b.finished(aaaa), count: 4, expect: false, "distance too far back")
        // Distance codes 30 and 31 exist in the fixed code but are invalid.
        for d in [30, 31] {
            b = Bits(); b.put(1, 1); b.put(1, 2); b.fixed(97); b.fixed(257); b.code(d, 5); b.fixed(256)
            Self.agree(b.finished(aaaa), count: 4, expect: false, "distance code \(d)")
        }
        // Literal/length codes 286 and 287 likewise.
        for s in [286, 287] {
            b = Bits(); b.put(1, 1); b.put(1, 2); b.fixed(97); b.fixed(s); b.fixed(256)
            Self.agree(b.finished([97]), count: 1, expect: false, "literal/length code \(s)")
        }
        // Block type 3.
        b = Bits(); b.put(1, 1); b.put(3, 2)
        Self.agree(b.finished([]), count: 0, expect: false, "block type 3")
        // Stored block whose NLEN is not LEN's complement, then one whose is.
        for nlen in [0x0000, 0xFFFE] {
            b = Bits(); b.put(1, 1); b.put(0, 2); b.align(); b.put(1, 16); b.put(nlen, 16); b.put(97, 8)
            Self.agree(b.finished([97]), count: 1, expect: nlen == 0xFFFE, "stored, NLEN \(nlen)")
        }
        // The farthest distance, 32768: a stored block of 32768 bytes, then a match of it.
        var far = (0..<32_768).map { UInt8(truncatingIfNeeded: $0 * 7 + $0 / 256) }
        b = Bits()
        for part in [0, 1] {
            b.put(0, 1); b.put(0, 2); b.align(); b.put(16_384, 16); b.put(16_384 ^ 0xFFFF, 16)
            for k in 0..<16_384 { b.put(Int(far[part * 16_384 + k]), 8) }
        }
        b.put(1, 1); b.put(1, 2); b.fixed(284); b.put(29, 5); b.code(29, 5); b.put(8191, 13); b.fixed(256)
        far += far.prefix(256)
        Self.agree(b.finished(far), count: far.count, expect: true, "distance 32768, length 256")

        // Dynamic: 'a' (1 bit), end (2 bits), length 3 (2 bits); one distance code of one
        // bit (incomplete, which zlib allows for a single code).
        var lit = [Int](repeating: 0, count: 258); lit[97] = 1; lit[256] = 2; lit[257] = 2
        let run: [(Int, (Int, Int)?, Int?, (Int, Int)?)] = [(97, nil, nil, nil), (257, nil, 0, nil), (256, nil, nil, nil)]
        Self.agree(Self.dynamicBlock(lit: lit, dist: [1], symbols: run).finished(aaaa), count: 4, expect: true, "one distance code")
        // Two distance codes of 1 and 2 bits: incomplete with more than one code.
        Self.agree(Self.dynamicBlock(lit: lit, dist: [1, 2], symbols: run).finished(aaaa), count: 4, expect: false, "incomplete distances")
        // No distance code at all is fine for literals only, not for a match.
        let literals: [(Int, (Int, Int)?, Int?, (Int, Int)?)] = [(97, nil, nil, nil), (97, nil, nil, nil), (256, nil, nil, nil)]
        Self.agree(Self.dynamicBlock(lit: lit, dist: [0], symbols: literals).finished([97, 97]), count: 2, expect: true, "no distance codes")
        Self.agree(Self.dynamicBlock(lit: lit, dist: [0], symbols: [(97, nil, nil, nil), (257, nil, 0, nil), (256, nil, nil, nil)]).finished(aaaa),
                   count: 4, expect: false, "a match without distance codes")
        // Over-subscribed and incomplete literal/length codes.
        var over = lit; over[256] = 1
        Self.agree(Self.dynamicBlock(lit: over, dist: [1], symbols: []).finished([]), count: 0, expect: false, "over-subscribed")
        var incomplete = lit; incomplete[257] = 3
        Self.agree(Self.dynamicBlock(lit: incomplete, dist: [1], symbols: literals).finished([97, 97]), count: 2, expect: false, "incomplete")
        // A single literal/length code (end of block, one bit) is allowed.
        var single = [Int](repeating: 0, count: 257); single[256] = 1
        Self.agree(Self.dynamicBlock(lit: single, dist: [0], symbols: [(256, nil, nil, nil)]).finished([]), count: 0, expect: true, "only end of block")
        // No end-of-block code.
        var noEnd = lit; noEnd[256] = 0; noEnd[257] = 1
        Self.agree(Self.dynamicBlock(lit: noEnd, dist: [1], symbols: []).finished([]), count: 0, expect: false, "no end-of-block code")
        // Codes longer than the decoder's table (15 bits): a skewed but complete code.
        var long = [Int](repeating: 0, count: 257)
        for s in 0..<14 { long[s] = s + 1 }
        long[14] = 15; long[256] = 15
        let skewed = (0..<15).map { ($0, nil, nil, nil) as (Int, (Int, Int)?, Int?, (Int, Int)?) } + [(256, nil, nil, nil)]
        Self.agree(Self.dynamicBlock(lit: long, dist: [0], symbols: skewed).finished((0..<15).map(UInt8.init)), count: 15, expect: true, "15-bit codes")

        // Header rules: 287 literal/length codes; 31 distance codes; repeat (16) first;
        // a repeat past the end of the lengths; an incomplete code-length code.
        for (hlit, hdist) in [(287, 1), (257, 31)] {
            b = Bits(); Self.dynamicHeader(&b, final: true, hlit: hlit, hdist: hdist, tokens: [])
            Self.agree(b.finished([]), count: 0, expect: false, "hlit \(hlit) hdist \(hdist)")
        }
        b = Bits(); Self.dynamicHeader(&b, final: true, hlit: 257, hdist: 1, clenSymbols: Array(0..<15) + [16], tokens: [(16, 0)] + Array(repeating: (0, 0), count: 255))
        Self.agree(b.finished([]), count: 0, expect: false, "repeat with nothing to repeat")
        b = Bits(); Self.dynamicHeader(&b, final: true, hlit: 257, hdist: 1, clenSymbols: Array(0..<15) + [18],
                                       tokens: [(18, 127), (18, 127), (1, 0), (1, 0)])
        Self.agree(b.finished([]), count: 0, expect: false, "zero run past the end")
        b = Bits(); b.put(1, 1); b.put(2, 2); b.put(0, 5); b.put(0, 5); b.put(0, 4)
        for _ in 0..<4 { b.put(1, 3) }   // code lengths 16, 17, 18, 0: four 1-bit codes, over-subscribed
        Self.agree(b.finished([]), count: 0, expect: false, "over-subscribed code-length code")
        b = Bits(); b.put(1, 1); b.put(2, 2); b.put(0, 5); b.put(0, 5); b.put(0, 4)
        b.put(1, 3); b.put(0, 3); b.put(0, 3); b.put(0, 3)   // one code-length code of one bit: incomplete
        Self.agree(b.finished([]), count: 0, expect: false, "incomplete code-length code")

        // zlib headers: a preset dictionary, a 64 KiB window, a bad check, another method.
        let valid = { () -> [UInt8] in var v = Bits(); v.put(1, 1); v.put(1, 2); v.fixed(256); return v.finished([]) }()
        Self.agree(valid, count: 0, expect: true, "empty stream")
        for header: [UInt8] in [[0x78, 0x20], [0x88, 0x1C], [0x78, 0x02], [0x79, 0x18], [0x08, 0x1D]] {
            Self.agree(header + valid.dropFirst(2), count: 0, expect: header == [0x08, 0x1D], "header \(header)")
        }
    }

    /// Every blob of the checked-in files (samples, the compatibility fixtures of older
    /// writers, the fuzz seeds) is decoded by the fast decoder with zlib's bytes.
    @Test func blobsOfEveryCheckedInFile() throws {
        let root = TestPaths.packageRoot
        var files: [String] = []
        for directory in ["samples", "Tests/Fixtures", "Tests/Fuzz/corpus"] {
            let base = root.appendingPathComponent(directory)
            let names = FileManager.default.enumerator(atPath: base.path)?.compactMap { $0 as? String } ?? []
            files += names.filter { $0.hasSuffix(".ttc") }.map { base.appendingPathComponent($0).path }
        }
        var blobs = 0, readable = 0
        for path in files {
            guard let reader = try? CheckpointReader(path: path) else { continue }   // fuzz seeds may be invalid
            readable += 1
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            for e in reader.entries where e.unknownCode == nil {
                let stored = Array(bytes[Int(e.offset)..<Int(e.offset + e.storedLength)])
                Self.agree(stored, count: Int(e.rawLength), expect: true, "\(path): \(e.name)")
                blobs += 1
            }
        }
        #expect(readable >= 9 && blobs > 100, "\(readable) files, \(blobs) blobs")
    }

    /// More stored blocks than the un-shuffling decoder lists (512; the rest are copied):
    /// a 36 MB tensor stored, through the reader's path.
    @Test func manyStoredBlocks() throws {
        let n = 8_600_000
        let values = [Float](unsafeUninitializedCapacity: n) { v, count in
            for i in 0..<n { v[i] = Float(bitPattern: UInt32(truncatingIfNeeded: i &* 2_654_435_761)) }
            count = n
        }
        let stream = values.withUnsafeBufferPointer { planeStream($0, filter: .shuffle, effort: Int32(CB_EFFORT_STORED)) }
        #expect(stream.count > 520 * 65_535)
        let (back, crc) = try stream.withUnsafeBytes { try inflateFloats($0, rawLength: 4 * n, shuffled: true) }
        #expect(back.count == n && memcmp(back, values, 4 * n) == 0)
        #expect(crc == values.withUnsafeBytes { crc32Of($0) })
        let u = Self.fastUnshuffledAnswer(stream, count: 4 * n)
        #expect(u.accepted && memcmp(u.bytes, values, 4 * n) == 0)
    }

    @Test func unshuffleWithCRCEqualsUnshuffleThenCRC() {
        for n in [0, 1, 31, 32, 33, 4095, 4096, 4097, 10_000, 100_003] {
            let shuffled = BlobEncodingTests.bytes(kind: 0, count: 4 * n, seed: UInt64(n))
            var a = [UInt8](repeating: 0, count: 4 * n), b = a
            cb_unshuffle4(&a, shuffled, n)
            let crc = cb_unshuffle4_crc32(&b, shuffled, n, 0x1234_5678)
            #expect(a == b)
            #expect(crc == a.withUnsafeBytes { crc32Of($0, continuing: 0x1234_5678) })
        }
    }
}
