import CBlobCodec
import CZlib
import Testing
@testable import TTCore
@testable import TTFormat

/// The blob encoder (CBlobCodec + `encodeBlob`): its checksums equal zlib's, its streams
/// are ordinary zlib streams (inflated here by zlib's own `uncompress`, not our reader),
/// and each `BlobEncoding` makes the choice its documentation states.
@Suite struct BlobEncodingTests {
    /// Deterministic bytes of several kinds: noise, zeros, a constant, a skewed
    /// distribution (long Huffman codes), runs, noise then a narrow range, and geometric
    /// frequencies steep enough to need the 15-bit length limit.
    static func bytes(kind: Int, count n: Int, seed: UInt64) -> [UInt8] {
        var r = PythonRandom(seed: seed)
        return (0..<n).map { i in
            switch kind {
            case 0: return UInt8(r.randbelow(256))
            case 1: return 0
            case 2: return 0x3F
            case 3:
                let u = r.randbelow(1000)
                return u < 500 ? 0x3C : u < 800 ? 0x3B : u < 900 ? 0x3D : u < 999 ? UInt8(r.randbelow(256)) : 0xBC
            case 4: return (i / 37) % 3 != 0 ? 0 : UInt8(r.randbelow(256))
            case 5: return i < n / 2 ? UInt8(r.randbelow(256)) : UInt8(0x3C + r.randbelow(3))
            default:
                var k: UInt8 = 0
                while k < 30 && r.random() < 0.5 { k += 1 }
                return k
            }
        }
    }

    /// zlib's `uncompress` of `stream`, which must give exactly `count` bytes.
    static func inflate(_ stream: [UInt8], count: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: count + 1)
        var length = uLong(out.count)
        let rc = out.withUnsafeMutableBytes { o in
            stream.withUnsafeBytes { s in
                uncompress(o.baseAddress!.assumingMemoryBound(to: Bytef.self), &length,
                           s.baseAddress!.assumingMemoryBound(to: Bytef.self), uLong(stream.count))
            }
        }
        guard rc == Z_OK, Int(length) == count else { return nil }
        return Array(out.prefix(count))
    }

    @Test func checksumsEqualZlibs() {
        let data = Self.bytes(kind: 0, count: 200_000, seed: 1)
        var r = PythonRandom(seed: 2)
        for _ in 0..<300 {
            let start = Int(r.randbelow(64)), count = Int(r.randbelow(r.random() < 0.5 ? 300 : 150_000))
            let crcStart = UInt32(truncatingIfNeeded: r.randbelow(1 << 32))
            let adlerStart = UInt32(r.randbelow(65521)) | UInt32(r.randbelow(65521)) << 16
            data.withUnsafeBytes { b in
                let p = b.baseAddress! + start
                let z = p.assumingMemoryBound(to: Bytef.self)
                #expect(cb_crc32(crcStart, p, count) == UInt32(crc32(uLong(crcStart), z, uInt(count))))
                #expect(cb_adler32(adlerStart, p, count) == UInt32(adler32(uLong(adlerStart), z, uInt(count))))
            }
        }
        // The check value of CRC-32/ISO-HDLC.
        #expect(crc32Of(Array("123456789".utf8)) == 0xCBF4_3926)
    }

    @Test func shuffleAndItsInverse() {
        for n in [0, 1, 7, 31, 32, 33, 100, 1000] {
            let raw = Self.bytes(kind: 0, count: 4 * n, seed: UInt64(n))
            var shuffled = [UInt8](repeating: 0, count: 4 * n), back = shuffled
            cb_shuffle4(&shuffled, raw, n)
            #expect((0..<n).allSatisfy { i in (0..<4).allSatisfy { b in shuffled[b * n + i] == raw[4 * i + b] } })
            cb_unshuffle4(&back, shuffled, n)
            #expect(back == raw)
        }
    }

    @Test(arguments: [Int32(CB_EFFORT_STORED), Int32(CB_EFFORT_FAST), Int32(CB_EFFORT_SMALL)])
    func planeStreamsAreZlibStreams(effort: Int32) {
        for n in [0, 1, 2, 3, 100, 65_535, 65_536, 65_537, 200_003] {
            for kind in 0..<7 {
                for planes: Int32 in [1, 4] {
                    let data = Self.bytes(kind: kind, count: n * Int(planes), seed: UInt64(n + kind))
                    var out = [UInt8](repeating: 0, count: cb_planes_bound(n, planes))
                    var modes = [Int32](repeating: -1, count: 4)
                    let length = cb_zlib_planes(&out, data, n, planes, effort, &modes)
                    #expect(length > 0 && length <= out.count)
                    let stream = Array(out.prefix(length))
                    #expect(Self.inflate(stream, count: data.count) == data, "n \(n), kind \(kind), planes \(planes)")
                    // Never larger than storing: each plane's choice is by exact size.
                    #expect(length <= 2 + Int(planes) * (n + 5 * (n / 65_535 + 1)) + 2 + 4)
                    if effort == Int32(CB_EFFORT_STORED) {
                        #expect(modes.prefix(Int(planes)).allSatisfy { $0 == Int32(CB_PLANE_STORED) })
                    }
                }
            }
        }
    }

    /// Dense N(0, 0.02) floats: the sign/exponent plane is Huffman-coded, the two low
    /// mantissa planes stored (they are close to random), as spec/FORMAT.md describes.
    @Test func denseFloatsCodeTheExponentPlaneAndStoreTheMantissa() {
        var r = PythonRandom(seed: 5)
        let values = (0..<100_000).map { _ in Float(r.gauss(mu: 0, sigma: 0.02)) }
        var raw = [UInt8](repeating: 0, count: 4 * values.count)
        values.withUnsafeBytes { raw = Array($0) }
        var shuffled = [UInt8](repeating: 0, count: raw.count)
        cb_shuffle4(&shuffled, raw, values.count)
        var out = [UInt8](repeating: 0, count: cb_planes_bound(values.count, 4))
        var modes = [Int32](repeating: -1, count: 4)
        let length = cb_zlib_planes(&out, shuffled, values.count, 4, Int32(CB_EFFORT_FAST), &modes)
        #expect(modes[0] == Int32(CB_PLANE_STORED) && modes[1] == Int32(CB_PLANE_STORED))
        #expect(modes[3] == Int32(CB_PLANE_LITERALS))
        // Measured 0.83 on such data (spec/FORMAT.md); 0.86 leaves room for the sample.
        #expect(Double(length) / Double(raw.count) < 0.86)
    }

    @Test func encodingsRoundTripAndChooseAsDocumented() throws {
        var r = PythonRandom(seed: 9)
        let dense = (0..<50_000).map { _ in Float(r.gauss(mu: 0, sigma: 0.02)) }
        let zeros = [Float](repeating: 0, count: 100)
        let rawDense = dense.withUnsafeBytes { Array($0) }
        var sizes: [BlobEncoding: Int] = [:]
        for encoding in BlobEncoding.allCases where encoding != .zlib {
            let blob = encodeBlob(dense, compression: encoding, filter: nil, exactChoiceLimit: 16_384,
                                  sampleChunks: 4, sampleChunkElements: 1024)
            #expect(blob.rawCRC == crc32Of(rawDense))
            let inflated = try #require(Self.inflate(blob.stored, count: rawDense.count))
            let restored = blob.filter == .shuffle ? unshuffleBytes(inflated, elementSize: 4) : inflated
            #expect(restored == rawDense, "\(encoding)")
            #expect(blob.filter == (encoding == .none ? .none : .shuffle), "\(encoding)")
            sizes[encoding] = blob.stored.count
            // Ties go to no filter: all-zero tensors compress to almost nothing either way.
            let z = encodeBlob(zeros, compression: encoding, filter: nil, exactChoiceLimit: 16_384,
                               sampleChunks: 4, sampleChunkElements: 1024)
            #expect(z.filter == .none)
        }
        // none: the raw bytes in stored blocks (5 bytes per 65,535), header and trailer.
        #expect(sizes[.none]! == rawDense.count + 5 * (rawDense.count / 65_535 + 1) + 2 + 2 + 4)
        #expect(sizes[.small]! <= sizes[.fast]!)
        #expect(sizes[.fast]! < sizes[.none]!)
        // A forced filter is kept whatever the encoding.
        let forced = encodeBlob(dense, compression: .fast, filter: BlobFilter.none, exactChoiceLimit: 16_384,
                                sampleChunks: 4, sampleChunkElements: 1024)
        #expect(forced.filter == .none)
        #expect(Self.inflate(forced.stored, count: rawDense.count) == rawDense)
    }

    /// Streams are a function of the values and the encoding only.
    @Test func deterministic() {
        var r = PythonRandom(seed: 4)
        let values = (0..<70_000).map { _ in Float(r.gauss(mu: 0, sigma: 0.1)) }
        for encoding in BlobEncoding.allCases where encoding != .zlib {
            let a = encodeBlob(values, compression: encoding, filter: nil, exactChoiceLimit: 16_384, sampleChunks: 4, sampleChunkElements: 1024)
            let b = encodeBlob(values, compression: encoding, filter: nil, exactChoiceLimit: 16_384, sampleChunks: 4, sampleChunkElements: 1024)
            #expect(a.stored == b.stored && a.filter == b.filter)
        }
    }
}
