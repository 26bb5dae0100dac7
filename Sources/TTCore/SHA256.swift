import CDigest

/// SHA-256 (FIPS 180-4), used for `DataIdentity.sha256` and the .ttc per-tensor digests
/// (spec/FORMAT.md §4.2). Streaming: `update` any number of times, then `finalize`.
/// Tested against the FIPS 180-2 / NIST example vectors. Whole 64-byte blocks are read
/// straight from the caller's buffer: with the x86 SHA extensions (CDigest) when the CPU has
/// them, else with the portable Swift code below (about 200 MB/s in a release build).
public struct SHA256: Sendable {
    private static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    /// The eight working words h0...h7.
    private struct State {
        typealias Words = (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32)
        var a: UInt32 = 0x6a09e667, b: UInt32 = 0xbb67ae85, c: UInt32 = 0x3c6ef372, d: UInt32 = 0xa54ff53a
        var e: UInt32 = 0x510e527f, f: UInt32 = 0x9b05688c, g: UInt32 = 0x1f83d9ab, h: UInt32 = 0x5be0cd19

        init() {}
        init(_ w: Words) { (a, b, c, d, e, f, g, h) = w }
        /// h0...h7 as a tuple, contiguous in memory, for the C block functions.
        var words: Words { (a, b, c, d, e, f, g, h) }
    }

    private var state = State()
    /// Bytes of a partial block (fewer than 64).
    private var buffer: [UInt8] = []
    private var length: UInt64 = 0
    /// Use the portable code even where the SHA extensions exist (tests compare the two).
    private let portable: Bool

    public init() { self.init(portable: false) }

    init(portable: Bool) {
        self.portable = portable
        buffer.reserveCapacity(64)
    }

    /// Whether this CPU runs the SHA extensions' path.
    static var hasHardwarePath: Bool {
        var h: [UInt32] = [0, 0, 0, 0, 0, 0, 0, 0]
        return h.withUnsafeMutableBufferPointer { cdigest_sha256_blocks($0.baseAddress!, nil, 0) } != 0
    }

    /// Feeds more message bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        length &+= UInt64(bytes.count)
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        // Fill a partial block first.
        if !buffer.isEmpty {
            let n = min(left, 64 - buffer.count)
            buffer.append(contentsOf: UnsafeRawBufferPointer(start: p, count: n))
            p += n
            left -= n
            if buffer.count == 64 {
                let block = buffer
                block.withUnsafeBytes { compress($0.baseAddress!, blocks: 1) }
                buffer.removeAll(keepingCapacity: true)
            }
        }
        // Whole blocks straight from the input.
        let blocks = left / 64
        if blocks > 0 {
            compress(p, blocks: blocks)
            p += 64 * blocks
            left -= 64 * blocks
        }
        if left > 0 { buffer.append(contentsOf: UnsafeRawBufferPointer(start: p, count: left)) }
    }

    /// Feeds more message bytes.
    public mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if let done: Void = bytes.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) {
            return done
        }
        let copy = Array(bytes)
        copy.withUnsafeBytes { update($0) }
    }

    /// The 32-byte digest. Consumes the hasher.
    public consuming func finalize() -> [UInt8] {
        let bitLength = length &* 8
        var tail = buffer
        tail.append(0x80)
        while tail.count % 64 != 56 { tail.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        tail.withUnsafeBytes { compress($0.baseAddress!, blocks: $0.count / 64) }
        var digest: [UInt8] = []
        digest.reserveCapacity(32)
        for word in [state.a, state.b, state.c, state.d, state.e, state.f, state.g, state.h] {
            for shift in [24, 16, 8, 0] { digest.append(UInt8(truncatingIfNeeded: word >> UInt32(shift))) }
        }
        return digest
    }

    /// SHA-256 of `bytes` (32 bytes).
    public static func digest(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// SHA-256 of two messages, the same as `digest` of each. The whole blocks they have in
    /// common go through the SHA extensions as two interleaved chains (about 1.8x the
    /// throughput of one), the rest of the longer one alone.
    public static func digests(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> ([UInt8], [UInt8]) {
        var ha = SHA256(), hb = SHA256()
        let common = 64 * (min(a.count, b.count) / 64)
        if common > 0, ha.compressPair(with: &hb, a.baseAddress!, b.baseAddress!, blocks: common / 64) {
            ha.length = UInt64(common)
            hb.length = UInt64(common)
            ha.update(UnsafeRawBufferPointer(rebasing: a[common...]))
            hb.update(UnsafeRawBufferPointer(rebasing: b[common...]))
        } else {
            ha.update(a)
            hb.update(b)
        }
        return (ha.finalize(), hb.finalize())
    }

    /// SHA-256 of `bytes` (32 bytes).
    public static func digest<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// SHA-256 of `bytes`, lowercase hex (64 characters).
    public static func hexDigest<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        hex(digest(bytes))
    }

    /// Lowercase hex of a digest (or any bytes).
    public static func hex(_ digest: [UInt8]) -> String {
        digest.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// Runs the compression function over `blocks` 64-byte blocks at `p`.
    private mutating func compress(_ p: UnsafeRawPointer, blocks: Int) {
        if !portable {
            var h = state.words
            let done = withUnsafeMutableBytes(of: &h) {
                cdigest_sha256_blocks($0.baseAddress!.assumingMemoryBound(to: UInt32.self), p, blocks)
            }
            if done != 0 {
                state = State(h)
                return
            }
        }
        Self.compressPortable(&state, p, blocks: blocks)
    }

    /// Runs the compression function over `blocks` blocks of `a` for this hasher and of `b`
    /// for `other`, interleaved, if this CPU has the SHA extensions; false (both untouched)
    /// if not, or if either hasher is the portable one.
    private mutating func compressPair(with other: inout SHA256, _ a: UnsafeRawPointer, _ b: UnsafeRawPointer, blocks: Int) -> Bool {
        guard !portable, !other.portable else { return false }
        var h = state.words, g = other.state.words
        let done = withUnsafeMutableBytes(of: &h) { h in
            withUnsafeMutableBytes(of: &g) { g in
                cdigest_sha256_blocks2(h.baseAddress!.assumingMemoryBound(to: UInt32.self), a,
                                       g.baseAddress!.assumingMemoryBound(to: UInt32.self), b, blocks)
            }
        }
        guard done != 0 else { return false }
        state = State(h)
        other.state = State(g)
        return true
    }

    /// The compression function in Swift (FIPS 180-4 §6.2.2).
    private static func compressPortable(_ s: inout State, _ p: UnsafeRawPointer, blocks: Int) {
        @inline(__always) func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 &- n)) }
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
            k.withUnsafeBufferPointer { k in
                var p = p
                for _ in 0..<blocks {
                    for t in 0..<16 { w[t] = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 4 &* t, as: UInt32.self)) }
                    for t in 16..<64 {
                        let x = w[t &- 15], y = w[t &- 2]
                        w[t] = w[t &- 16] &+ (rotr(x, 7) ^ rotr(x, 18) ^ (x >> 3)) &+ w[t &- 7]
                            &+ (rotr(y, 17) ^ rotr(y, 19) ^ (y >> 10))
                    }
                    var (a, b, c, d, e, f, g, h) = (s.a, s.b, s.c, s.d, s.e, s.f, s.g, s.h)
                    for t in 0..<64 {
                        let t1 = h &+ (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) &+ ((e & f) ^ (~e & g)) &+ k[t] &+ w[t]
                        let t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) &+ ((a & b) ^ (a & c) ^ (b & c))
                        h = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ t2
                    }
                    s.a &+= a; s.b &+= b; s.c &+= c; s.d &+= d; s.e &+= e; s.f &+= f; s.g &+= g; s.h &+= h
                    p += 64
                }
            }
        }
    }
}
