import CBlobCodec
import CZlib

// Blob encoding: CRC-32, one RFC 1950 stream per blob, the byte-shuffle filter, and the
// writer's compression choices (`BlobEncoding`). The byte work is in C (CBlobCodec:
// PCLMULQDQ CRC-32, AVX2 Adler-32 and shuffle, the byte-plane stream writer, the fast
// inflater); zlib deflates for `.small` and `.zlib`, and on load inflates only the blobs
// the fast inflater does not accept (to name what is wrong, or for a valid stream it
// declines).

/// zlib's CRC-32 (ISO-HDLC: reflected polynomial 0xEDB88320, init and final xor 0xFFFFFFFF),
/// the same function as Python's `zlib.crc32` (`cb_crc32`, checked against zlib's in
/// BlobCodecTests).
package func crc32Of(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
    guard let p = bytes.baseAddress else { return crc }
    return cb_crc32(crc, p, bytes.count)
}

package func crc32Of(_ bytes: [UInt8]) -> UInt32 {
    bytes.withUnsafeBytes { crc32Of($0) }
}

package func crc32Of(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    bytes.withUnsafeBytes { crc32Of($0) }
}

/// The version of the zlib library linked at run time (`zlibVersion()`), e.g. "1.2.13". The
/// writer's deflate bytes depend on it (spec/FORMAT.md §8); readers do not.
public let zlibRuntimeVersion: String = String(cString: zlibVersion())

/// What went wrong inflating a blob.
enum InflateFailure: Error, Equatable {
    /// zlib reported corrupt data (bad header, bad block, Adler-32 mismatch); zlib's message.
    case corrupt(String)
    /// The stream would produce more than the expected raw length.
    case tooLong
    /// The stream ended (or its input ran out) before producing the expected raw length.
    case tooShort(produced: Int)
    /// The stream ended before the last stored byte.
    case trailingBytes(Int)
    case outOfMemory
}

/// zlib's deflate strategy (`deflateInit2`'s last argument). Every strategy writes an
/// ordinary RFC 1950 stream; readers cannot tell them apart.
public enum CompressionStrategy: String, CaseIterable, Sendable {
    /// `Z_DEFAULT_STRATEGY`: LZ77 matches of any distance plus Huffman coding.
    case standard
    /// `Z_RLE`: matches of distance 1 only (runs) plus Huffman coding. On shuffled float
    /// bytes it compresses as well as the default and several times faster (spec/FORMAT.md).
    case rle
    /// `Z_HUFFMAN_ONLY`: Huffman coding alone.
    case huffmanOnly

    var zlibValue: Int32 {
        switch self {
        case .standard: return Z_DEFAULT_STRATEGY
        case .rle: return Z_RLE
        case .huffmanOnly: return Z_HUFFMAN_ONLY
        }
    }
}

/// Compresses `input` into one zlib stream (RFC 1950: 2-byte header, raw deflate with a
/// 32 KiB window, Adler-32 trailer) at `level` with `strategy`, memLevel 8.
/// Deterministic: same input, level and strategy give the same bytes (zlib is
/// deterministic for a given version and parameters).
func zlibCompress(_ input: UnsafeRawBufferPointer, level: Int32, strategy: CompressionStrategy = .standard) -> [UInt8] {
    let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    defer { stream.deallocate() }
    stream.initialize(to: z_stream())
    let rc = czlib_deflateInit2(stream, level, Z_DEFLATED, 15, 8, strategy.zlibValue)
    precondition(rc == Z_OK, "deflateInit2 failed: \(rc)")
    defer { deflateEnd(stream) }
    let bound = Int(deflateBound(stream, uLong(input.count)))
    var out = [UInt8](repeating: 0, count: bound)
    var produced = 0
    out.withUnsafeMutableBytes { outBuf in
        var inOffset = 0
        while true {
            let inChunk = min(input.count - inOffset, 1 << 30)
            stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.advanced(by: inOffset).assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = uInt(inChunk)
            inOffset += inChunk
            let last = inOffset == input.count
            repeat {
                let outChunk = min(bound - produced, 1 << 30)
                stream.pointee.next_out = outBuf.baseAddress!.advanced(by: produced).assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(outChunk)
                let r = deflate(stream, last ? Z_FINISH : Z_NO_FLUSH)
                precondition(r == Z_OK || r == Z_STREAM_END || r == Z_BUF_ERROR, "deflate failed: \(r)")
                produced += outChunk - Int(stream.pointee.avail_out)
                if r == Z_STREAM_END { return }
            } while stream.pointee.avail_in > 0 || last
        }
    }
    out.removeSubrange(produced...)
    return out
}

func zlibCompress(_ input: [UInt8], level: Int32, strategy: CompressionStrategy = .standard) -> [UInt8] {
    input.withUnsafeBytes { zlibCompress($0, level: level, strategy: strategy) }
}

/// Inflates one zlib stream that must produce exactly `rawLength` bytes and end exactly
/// at the last byte of `stored`. Allocates `rawLength` + 1 bytes (the caller has bounded
/// `rawLength` by the expansion-ratio cap before calling).
func zlibInflateExact(_ stored: UnsafeRawBufferPointer, rawLength: Int) throws -> [UInt8] {
    ReaderAllocationMeter.note(rawLength + 1)
    return try [UInt8](unsafeUninitializedCapacity: max(rawLength, 1)) { out, count in
        count = 0
        try zlibInflate(stored, into: UnsafeMutableRawPointer(out.baseAddress!), rawLength: rawLength)
        count = rawLength
    }
}

/// Inflates one zlib stream into `dst`, which must come out exactly `rawLength` bytes with
/// the stream ending exactly at the last byte of `stored`; throws `InflateFailure`
/// otherwise. zlib checks the header and the deflate data; the Adler-32 trailer is checked
/// here with `cb_adler32` (zlib's own check is turned off with inflateValidate: it is the
/// same sum, several times slower) and reported as zlib reports it ("incorrect data
/// check"), before trailing bytes and before a short result, as zlib's order would.
func zlibInflate(_ stored: UnsafeRawBufferPointer, into dst: UnsafeMutableRawPointer, rawLength: Int) throws {
    let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    defer { stream.deallocate() }
    stream.initialize(to: z_stream())
    guard czlib_inflateInit2(stream, 15) == Z_OK else { throw InflateFailure.outOfMemory }
    defer { inflateEnd(stream) }
    _ = inflateValidate(stream, 0)
    // One spare byte after dst is full: a stream that writes into it is longer than claimed.
    var spare: UInt8 = 0
    var produced = 0
    var inOffset = 0
    try withUnsafeMutablePointer(to: &spare) { sparePointer in
        while true {
            if stream.pointee.avail_in == 0 && inOffset < stored.count {
                let inChunk = min(stored.count - inOffset, 1 << 30)
                stream.pointee.next_in = UnsafeMutablePointer(mutating: stored.baseAddress!.advanced(by: inOffset).assumingMemoryBound(to: Bytef.self))
                stream.pointee.avail_in = uInt(inChunk)
                inOffset += inChunk
            }
            let intoSpare = produced == rawLength
            let outChunk = intoSpare ? 1 : min(rawLength - produced, 1 << 30)
            stream.pointee.next_out = intoSpare ? sparePointer : dst.advanced(by: produced).assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(outChunk)
            let availInBefore = stream.pointee.avail_in
            let r = inflate(stream, Z_NO_FLUSH)
            let wrote = outChunk - Int(stream.pointee.avail_out)
            // An error zlib reports is checked before the length: zlib keeps reading what
            // needs no output space (the end of a block, the Adler-32 trailer) after the
            // spare byte is filled, so "raw + 1 bytes, then a bad Adler-32" is corrupt, the
            // same answer as Python's `decompressobj().decompress(blob, raw + 1)` (spec §6).
            if r != Z_STREAM_END && r != Z_OK && r != Z_BUF_ERROR && r != Z_MEM_ERROR {
                let msg = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(r)"
                throw InflateFailure.corrupt(r == Z_NEED_DICT ? "stream needs a preset dictionary" : msg)
            }
            if intoSpare && wrote > 0 {
                if r == Z_STREAM_END {
                    let consumed = inOffset - Int(stream.pointee.avail_in)
                    let t = stored.baseAddress!.assumingMemoryBound(to: UInt8.self) + (consumed - 4)
                    let trailer = UInt32(t[0]) << 24 | UInt32(t[1]) << 16 | UInt32(t[2]) << 8 | UInt32(t[3])
                    let sum = cb_adler32(cb_adler32(1, dst, rawLength), sparePointer, 1)
                    guard sum == trailer else { throw InflateFailure.corrupt("incorrect data check") }
                }
                throw InflateFailure.tooLong
            }
            produced += wrote
            switch r {
            case Z_STREAM_END:
                let consumed = inOffset - Int(stream.pointee.avail_in)
                let t = stored.baseAddress!.assumingMemoryBound(to: UInt8.self) + (consumed - 4)
                let trailer = UInt32(t[0]) << 24 | UInt32(t[1]) << 16 | UInt32(t[2]) << 8 | UInt32(t[3])
                guard cb_adler32(1, dst, produced) == trailer else { throw InflateFailure.corrupt("incorrect data check") }
                let left = Int(stream.pointee.avail_in) + (stored.count - inOffset)
                if left > 0 { throw InflateFailure.trailingBytes(left) }
                if produced < rawLength { throw InflateFailure.tooShort(produced: produced) }
                return
            case Z_OK, Z_BUF_ERROR:
                // No progress with all input consumed: the stream is truncated.
                let consumed = availInBefore - stream.pointee.avail_in
                if stream.pointee.avail_in == 0 && inOffset == stored.count && (r == Z_BUF_ERROR || consumed == 0) {
                    throw InflateFailure.tooShort(produced: produced)
                }
                if r == Z_BUF_ERROR && stream.pointee.avail_out != 0 && stream.pointee.avail_in != 0 {
                    throw InflateFailure.corrupt("no progress")
                }
            case Z_MEM_ERROR:
                throw InflateFailure.outOfMemory
            default:  // Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR
                let msg = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(r)"
                throw InflateFailure.corrupt(r == Z_NEED_DICT ? "stream needs a preset dictionary" : msg)
            }
        }
    }
}

/// Inflates one zlib stream into `dst` with the guarantees of `zlibInflate` (same bytes,
/// same accept/reject decision, same `InflateFailure`): `cb_inflate_exact` decodes it, and
/// any stream it does not accept is inflated again from its first byte by zlib, which
/// either accepts it (a valid stream the fast decoder declines) or says what is wrong.
/// Returns `cb_crc32(crc, dst, rawLength)`, computed while the output is in cache.
func inflateExact(_ stored: UnsafeRawBufferPointer, into dst: UnsafeMutableRawPointer, rawLength: Int,
                  crc: UInt32 = 0) throws -> UInt32 {
    var sum = crc
    if let s = stored.baseAddress,
       cb_inflate_exact(dst.assumingMemoryBound(to: UInt8.self), rawLength, s.assumingMemoryBound(to: UInt8.self),
                        stored.count, &sum) == 1 {
        return sum
    }
    try zlibInflate(stored, into: dst, rawLength: rawLength)
    return cb_crc32(crc, dst, rawLength)
}

/// A tensor's values from its blob: inflated straight into the result's storage (filter
/// none) or into a scratch buffer and un-shuffled into it (`cb_inflate_unshuffle4`: stored
/// planes are un-shuffled straight from the blob), with the same guarantees as
/// `inflateExact`. Returns the values and the CRC-32 of the raw little-endian bytes.
/// `rawLength` is a multiple of 4, bounded by the caller.
func inflateFloats(_ stored: UnsafeRawBufferPointer, rawLength: Int, shuffled: Bool) throws -> (values: [Float], rawCRC: UInt32) {
    #if _endian(little)
    let n = rawLength / 4
    ReaderAllocationMeter.note(rawLength + 1)
    var rawCRC: UInt32 = 0
    let values = try [Float](unsafeUninitializedCapacity: max(n, 1)) { buf, count in
        count = 0
        let d = UnsafeMutableRawPointer(buf.baseAddress!)
        if shuffled && n > 0 {
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: rawLength, alignment: 64)
            defer { scratch.deallocate() }
            let (out, planes) = (d.assumingMemoryBound(to: UInt8.self), scratch.assumingMemoryBound(to: UInt8.self))
            if let s = stored.baseAddress,
               cb_inflate_unshuffle4(out, planes, n, s.assumingMemoryBound(to: UInt8.self), stored.count, &rawCRC) == 1 {
                count = n
                return
            }
            // Not accepted by the fast decoder: zlib's answer, from the blob's first byte.
            try zlibInflate(stored, into: scratch, rawLength: rawLength)
            rawCRC = cb_unshuffle4_crc32(out, planes, n, 0)
        } else {
            rawCRC = try inflateExact(stored, into: d, rawLength: rawLength)
        }
        count = n
    }
    return (values, rawCRC)
    #else
    return decodeFloats(try zlibInflateExact(stored, rawLength: rawLength), shuffled: shuffled)
    #endif
}

/// How the writer encodes each tensor's blob (`WriteOptions.compression`). Every choice
/// writes one ordinary zlib stream per tensor (any zlib inflates it) with both CRCs and
/// zlib's Adler-32, and none is recorded anywhere but in the blobs themselves: a reader
/// needs no knowledge of it. The rule and its measurement are in spec/FORMAT.md.
public enum BlobEncoding: String, CaseIterable, Sendable {
    /// Stored blocks (zlib level 0's format) of the unfiltered bytes: the fastest save at
    /// the raw size, still every checksum.
    case none
    /// The byte shuffle, then each byte plane on its own as stored blocks, one Huffman
    /// block of literals, or one of literals and runs, whichever is smallest by exact count
    /// (planes whose sample shows no gain are stored without a histogram). Dense float
    /// planes: the sign/exponent plane is coded, the near-random mantissa planes stored.
    /// The default.
    case fast
    /// `fast`'s candidates, zlib's level-9 deflate tried on every plane with many runs
    /// (LZ77 finds the repeats of structured tensors), and the filter chosen by encoding
    /// the whole tensor both ways. Dense trained floats come out as with `fast` (their
    /// planes are near their order-0 entropy, which literals reach); the gain is on
    /// structured tensors, at several times the CPU.
    case small
    /// The format 1.0 writer: one deflate of the filtered bytes at `WriteOptions.level`
    /// with `WriteOptions.strategy`, the filter by the sample rule.
    case zlib

    var effort: Int32 {
        switch self {
        case .none: return Int32(CB_EFFORT_STORED)
        case .fast, .zlib: return Int32(CB_EFFORT_FAST)
        case .small: return Int32(CB_EFFORT_SMALL)
        }
    }
}

/// One tensor's blob: the zlib stream, its filter, the CRC-32 of the raw bytes.
struct EncodedBlob {
    var stored: [UInt8]
    var filter: BlobFilter
    var rawCRC: UInt32
}

/// Encodes `values` as `compression` (not `.zlib`) says: `.none` stores the unfiltered
/// bytes (or the forced filter's); `.fast` takes the forced filter, else for tensors of
/// at most `exactChoiceLimit` elements encodes both ways and keeps the smaller (shuffle
/// only if strictly smaller), and for larger ones decides the same way on the writer's
/// sample (`sampleChunks` evenly spaced runs of `sampleChunkElements`); `.small` encodes
/// both ways always. Deterministic: the bytes depend only on the values and the options.
/// `scratch` (optional) holds the shuffled bytes, reused from one call to the next.
func encodeBlob(_ values: [Float], compression: BlobEncoding, filter forced: BlobFilter?,
                exactChoiceLimit: Int, sampleChunks: Int, sampleChunkElements: Int,
                scratch: ShuffleScratch? = nil) -> EncodedBlob {
    precondition(compression != .zlib)
    return values.withUnsafeBufferPointer { v in
        let raw = UnsafeRawBufferPointer(v)
        #if _endian(little)
        let rawCRC = crc32Of(raw)
        #else
        let rawCRC = crc32Of(littleEndianBytes(values))
        #endif
        let effort = compression.effort
        if let forced {
            return EncodedBlob(stored: planeStream(v, filter: forced, effort: effort, scratch: scratch), filter: forced, rawCRC: rawCRC)
        }
        if compression == .none {
            return EncodedBlob(stored: planeStream(v, filter: .none, effort: effort, scratch: scratch), filter: .none, rawCRC: rawCRC)
        }
        if compression == .small || v.count <= exactChoiceLimit {
            let plain = planeStream(v, filter: .none, effort: effort, scratch: scratch)
            let shuffled = planeStream(v, filter: .shuffle, effort: effort, scratch: scratch)
            return shuffled.count < plain.count ? EncodedBlob(stored: shuffled, filter: .shuffle, rawCRC: rawCRC)
                                                : EncodedBlob(stored: plain, filter: .none, rawCRC: rawCRC)
        }
        var sample: [Float] = []
        sample.reserveCapacity(sampleChunks * sampleChunkElements)
        for k in 0..<sampleChunks {
            let start = k * (v.count - sampleChunkElements) / (sampleChunks - 1)
            sample.append(contentsOf: v[start..<(start + sampleChunkElements)])
        }
        let choice: BlobFilter = sample.withUnsafeBufferPointer { s in
            planeStream(s, filter: .shuffle, effort: effort, scratch: scratch).count
                < planeStream(s, filter: .none, effort: effort, scratch: scratch).count
                ? .shuffle : .none
        }
        return EncodedBlob(stored: planeStream(v, filter: choice, effort: effort, scratch: scratch), filter: choice, rawCRC: rawCRC)
    }
}

/// A buffer for the shuffled bytes, kept by one thread across the tensors of a save, so
/// that a save does not allocate (and fault in) a fresh one for every tensor.
final class ShuffleScratch {
    private var buffer: UnsafeMutableRawPointer? = nil
    private var capacity = 0

    init() {}

    deinit { buffer?.deallocate() }

    /// Room for at least `bytes` bytes (its contents are not kept when it grows).
    func room(_ bytes: Int) -> UnsafeMutableRawPointer {
        if bytes > capacity || buffer == nil {
            buffer?.deallocate()
            capacity = max(bytes, 64)
            buffer = .allocate(byteCount: capacity, alignment: 64)
        }
        return buffer!
    }
}

/// One zlib stream of `values`' little-endian bytes, filtered by `filter`, written by
/// `cb_zlib_planes` (one plane of 4n bytes unfiltered, four planes of n bytes shuffled).
/// The shuffled bytes go to `scratch` when given, else to a buffer of this call's own.
func planeStream(_ values: UnsafeBufferPointer<Float>, filter: BlobFilter, effort: Int32,
                 scratch: ShuffleScratch? = nil) -> [UInt8] {
    let n = values.count
    let planes = filter == .shuffle ? 4 : 1
    let planeBytes = filter == .shuffle ? n : 4 * n
    let bound = cb_planes_bound(planeBytes, Int32(planes))
    let shuffleBuffer = scratch ?? ShuffleScratch()
    return [UInt8](unsafeUninitializedCapacity: bound) { out, count in
        var source: UnsafeRawPointer? = UnsafeRawPointer(values.baseAddress)
        var littleEndian: UnsafeMutableRawPointer? = nil   // big-endian hosts: the bytes swapped
        #if !_endian(little)
        let le = littleEndianBytes(Array(values))
        littleEndian = .allocate(byteCount: 4 * n, alignment: 64)
        le.withUnsafeBytes { littleEndian!.copyMemory(from: $0.baseAddress!, byteCount: 4 * n) }
        source = UnsafeRawPointer(littleEndian)
        #endif
        defer { littleEndian?.deallocate() }
        withExtendedLifetime(shuffleBuffer) {
            if filter == .shuffle && n > 0 {
                let shuffled = shuffleBuffer.room(4 * n)
                cb_shuffle4(shuffled.assumingMemoryBound(to: UInt8.self), source!.assumingMemoryBound(to: UInt8.self), n)
                source = UnsafeRawPointer(shuffled)
            }
            let data = (source ?? UnsafeRawPointer(bitPattern: 1)!).assumingMemoryBound(to: UInt8.self)
            let length = cb_zlib_planes(out.baseAddress!, data, planeBytes, Int32(planes), effort, nil)
            precondition(length > 0 && length <= bound, "cb_zlib_planes failed (out of memory)")
            count = length
        }
    }
}

/// Byte shuffle for `elementSize`-byte elements: output holds byte 0 of every element,
/// then byte 1 of every element, and so on. `input.count` must be a multiple of
/// `elementSize`.
func shuffleBytes(_ input: [UInt8], elementSize: Int) -> [UInt8] {
    let n = input.count / elementSize
    var out = [UInt8](repeating: 0, count: input.count)
    input.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            guard let s = src.baseAddress, let d = dst.baseAddress, n > 0 else { return }
            if elementSize == 4 {
                cb_shuffle4(d, s, n)
                return
            }
            for b in 0..<elementSize {
                let base = b &* n
                for i in 0..<n { d[base &+ i] = s[i &* elementSize &+ b] }
            }
        }
    }
    return out
}

/// The inverse of `shuffleBytes`.
func unshuffleBytes(_ input: [UInt8], elementSize: Int) -> [UInt8] {
    let n = input.count / elementSize
    var out = [UInt8](repeating: 0, count: input.count)
    input.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            for b in 0..<elementSize {
                let base = b &* n
                for i in 0..<n { dst[i &* elementSize &+ b] = src[base &+ i] }
            }
        }
    }
    return out
}

/// Little-endian bytes of Float32 values.
func littleEndianBytes(_ values: [Float]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: values.count * 4)
    #if _endian(little)
    out.withUnsafeMutableBytes { dst in values.withUnsafeBytes { dst.copyMemory(from: $0) } }
    #else
    for (i, v) in values.enumerated() {
        for k in 0..<4 { out[i * 4 + k] = UInt8(truncatingIfNeeded: v.bitPattern >> (8 * k)) }
    }
    #endif
    return out
}

/// Float32 values from stored bytes after inflation: `bytes` is the raw little-endian
/// data, or its byte shuffle when `shuffled`. Returns the values and the CRC-32 of the
/// raw (unshuffled) little-endian bytes. One pass, no intermediate copy.
func decodeFloats(_ bytes: [UInt8], shuffled: Bool) -> (values: [Float], rawCRC: UInt32) {
    let n = bytes.count / 4
    ReaderAllocationMeter.note(n * 4)
    // Decoded straight into the result's storage (no zero fill, no intermediate array).
    let values = [Float](unsafeUninitializedCapacity: n) { buf, count in
        count = 0
        guard n > 0, let base = buf.baseAddress else { return }
        let d = UnsafeMutableRawPointer(base).bindMemory(to: UInt32.self, capacity: n)
        bytes.withUnsafeBufferPointer { src in
            guard let s = src.baseAddress else { return }
            if shuffled {
                #if _endian(little)
                cb_unshuffle4(UnsafeMutableRawPointer(d).assumingMemoryBound(to: UInt8.self), s, n)
                #else
                let (s0, s1, s2, s3) = (s, s + n, s + 2 * n, s + 3 * n)
                for i in 0..<n {
                    d[i] = UInt32(s0[i]) | UInt32(s1[i]) << 8 | UInt32(s2[i]) << 16 | UInt32(s3[i]) << 24
                }
                #endif
            } else {
                #if _endian(little)
                UnsafeMutableRawPointer(d).copyMemory(from: s, byteCount: n * 4)
                #else
                for i in 0..<n {
                    let j = i * 4
                    d[i] = UInt32(s[j]) | UInt32(s[j + 1]) << 8 | UInt32(s[j + 2]) << 16 | UInt32(s[j + 3]) << 24
                }
                #endif
            }
        }
        count = n
    }
    #if _endian(little)
    let crc = values.withUnsafeBytes { crc32Of($0) }
    #else
    let crc = crc32Of(littleEndianBytes(values))
    #endif
    return (values, crc)
}
