import CZlib

// zlib through CZlib: CRC-32, one RFC 1950 stream per blob, and the byte-shuffle filter.

/// zlib's CRC-32 (ISO-HDLC: reflected polynomial 0xEDB88320, init and final xor 0xFFFFFFFF),
/// the same function as Python's `zlib.crc32`.
package func crc32Of(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
    var c = uLong(crc)
    guard var p = bytes.baseAddress?.assumingMemoryBound(to: Bytef.self) else { return crc }
    var left = bytes.count
    while left > 0 {
        let n = min(left, 1 << 30)
        c = CZlib.crc32(c, p, uInt(n))
        p += n
        left -= n
    }
    return UInt32(truncatingIfNeeded: c)
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
    let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    defer { stream.deallocate() }
    stream.initialize(to: z_stream())
    guard czlib_inflateInit2(stream, 15) == Z_OK else { throw InflateFailure.outOfMemory }
    defer { inflateEnd(stream) }
    // One spare byte: a stream that writes into it is longer than claimed. Not zero
    // filled: only the `produced` bytes inflate wrote are kept.
    ReaderAllocationMeter.note(rawLength + 1)
    var out = [UInt8](unsafeUninitializedCapacity: rawLength + 1) { _, count in count = rawLength + 1 }
    var produced = 0
    try out.withUnsafeMutableBytes { outBuf in
        var inOffset = 0
        while true {
            if stream.pointee.avail_in == 0 && inOffset < stored.count {
                let inChunk = min(stored.count - inOffset, 1 << 30)
                stream.pointee.next_in = UnsafeMutablePointer(mutating: stored.baseAddress!.advanced(by: inOffset).assumingMemoryBound(to: Bytef.self))
                stream.pointee.avail_in = uInt(inChunk)
                inOffset += inChunk
            }
            let outChunk = min(outBuf.count - produced, 1 << 30)
            stream.pointee.next_out = outBuf.baseAddress!.advanced(by: produced).assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(outChunk)
            let availInBefore = stream.pointee.avail_in
            let r = inflate(stream, Z_NO_FLUSH)
            produced += outChunk - Int(stream.pointee.avail_out)
            // An error zlib reports is checked before the length: zlib keeps reading what
            // needs no output space (the end of a block, the Adler-32 trailer) after the
            // spare byte is filled, so "raw + 1 bytes, then a bad Adler-32" is corrupt, the
            // same answer as Python's `decompressobj().decompress(blob, raw + 1)` (spec §6).
            if r != Z_STREAM_END && r != Z_OK && r != Z_BUF_ERROR && r != Z_MEM_ERROR {
                let msg = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(r)"
                throw InflateFailure.corrupt(r == Z_NEED_DICT ? "stream needs a preset dictionary" : msg)
            }
            if produced > rawLength { throw InflateFailure.tooLong }
            switch r {
            case Z_STREAM_END:
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
    out.removeLast()
    return out
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
                // One pass over the input, four sequential output streams.
                let (d0, d1, d2, d3) = (d, d + n, d + 2 &* n, d + 3 &* n)
                for i in 0..<n {
                    let j = i &* 4
                    d0[i] = s[j]; d1[i] = s[j &+ 1]; d2[i] = s[j &+ 2]; d3[i] = s[j &+ 3]
                }
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
                let (s0, s1, s2, s3) = (s, s + n, s + 2 * n, s + 3 * n)
                for i in 0..<n {
                    d[i] = UInt32(s0[i]) | UInt32(s1[i]) << 8 | UInt32(s2[i]) << 16 | UInt32(s3[i]) << 24
                }
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
