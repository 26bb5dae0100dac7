import Testing
@testable import TTCore

/// Expected digests are the FIPS 180-2 (Appendix B) / NIST "SHA-256 examples" values.
@Suite struct SHA256Tests {
    @Test func emptyMessage() {
        #expect(SHA256.hexDigest([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func oneBlockMessage() {
        #expect(SHA256.hexDigest(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func twoBlockMessage() {
        // 448 bits: the padding no longer fits in the first block.
        let m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
        #expect(SHA256.hexDigest(Array(m.utf8)) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func longerTwoBlockMessage() {
        let m = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
        #expect(SHA256.hexDigest(Array(m.utf8)) == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
    }

    @Test func millionAs() {
        #expect(SHA256.hexDigest([UInt8](repeating: 0x61, count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func streamingInUnevenChunksEqualsOneShot() {
        var bytes: [UInt8] = []
        var x: UInt32 = 12345
        for _ in 0..<1000 { x = x &* 1_103_515_245 &+ 12345; bytes.append(UInt8(truncatingIfNeeded: x >> 16)) }
        var hasher = SHA256()
        var i = 0
        for size in [0, 1, 63, 64, 65, 3, 127, 200] + [Int](repeating: 50, count: 20) where i < bytes.count {
            let end = min(bytes.count, i + size)
            hasher.update(bytes[i..<end])
            i = end
        }
        hasher.update(bytes[i...])
        let streamed = hasher.finalize().map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        #expect(streamed == SHA256.hexDigest(bytes))
    }

    /// The SHA-extensions path (CDigest) and the portable Swift code agree on every length
    /// around the block and padding boundaries and on a large buffer fed in uneven pieces.
    /// On a CPU without the extensions both hashers run the portable code.
    @Test func hardwareAndPortablePathsAgree() {
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        let bytes: [UInt8] = (0..<(1 << 20) + 77).map { _ in
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            return UInt8(truncatingIfNeeded: x)
        }
        func digest(_ data: ArraySlice<UInt8>, portable: Bool, pieces: [Int] = []) -> [UInt8] {
            var h = SHA256(portable: portable)
            var i = data.startIndex
            for n in pieces where i < data.endIndex {
                let end = min(data.endIndex, i + n)
                h.update(data[i..<end])
                i = end
            }
            h.update(data[i...])
            return h.finalize()
        }
        for n in 0...300 {
            #expect(digest(bytes[0..<n], portable: false) == digest(bytes[0..<n], portable: true), "length \(n)")
        }
        let pieces = [1, 63, 64, 65, 1000, 4096, 7, 100_000]
        #expect(digest(bytes[...], portable: false, pieces: pieces) == digest(bytes[...], portable: true))
        // And the NIST vector through the fast path.
        #expect(SHA256.hex(digest(ArraySlice([UInt8](repeating: 0x61, count: 1_000_000)), portable: false))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        print("SHA256Tests: SHA extensions \(SHA256.hasHardwarePath ? "used" : "not available; portable code only")")
    }

    /// `digests(a, b)` equals the portable digest of each, for pairs of lengths on both
    /// sides of the block boundaries (shorter first and longer first), and on two
    /// NIST messages.
    @Test func pairDigestsEqualSingleDigests() {
        var x: UInt64 = 0x2545_F491_4F6C_DD1D
        let bytes: [UInt8] = (0..<(1 << 16) + 300).map { _ in
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            return UInt8(truncatingIfNeeded: x)
        }
        func portable(_ d: ArraySlice<UInt8>) -> [UInt8] {
            var h = SHA256(portable: true)
            h.update(d)
            return h.finalize()
        }
        let lengths = [0, 1, 55, 56, 63, 64, 65, 127, 128, 129, 1000, 4096, 1 << 16, (1 << 16) + 77]
        for la in lengths {
            for lb in lengths {
                // Different contents: b starts 211 bytes into the buffer.
                let a = bytes[0..<la], b = bytes[211..<(211 + lb)]
                let (da, db) = a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in SHA256.digests(pa, pb) } }
                #expect(da == portable(a), "a of \(la) bytes beside \(lb)")
                #expect(db == portable(b), "b of \(lb) bytes beside \(la)")
            }
        }
        let abc = Array("abc".utf8), million = [UInt8](repeating: 0x61, count: 1_000_000)
        let (d1, d2) = million.withUnsafeBytes { m in abc.withUnsafeBytes { SHA256.digests(m, $0) } }
        #expect(SHA256.hex(d1) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        #expect(SHA256.hex(d2) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
