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
}
