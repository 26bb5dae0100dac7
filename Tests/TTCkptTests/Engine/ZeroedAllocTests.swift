import CKernels
import Testing

/// `ck_zeroed_alloc`, the engine's allocator for its large arrays: zeros, aligned,
/// writable to the last byte, freed again, on both sides of the huge-page threshold.
@Suite struct ZeroedAllocTests {
    @Test(arguments: [1, 64, 4095, Int(CK_HUGE_MIN) - 1, Int(CK_HUGE_MIN), Int(CK_HUGE_MIN) + 1, 5 << 20 + 12])
    func zeroFilledAlignedAndWritable(bytes: Int) throws {
        for _ in 0..<3 {   // again after a free: a reused block must come back zeroed too
            let p = try #require(ck_zeroed_alloc(bytes))
            let address = UInt(bitPattern: p)
            #expect(address % 64 == 0)
            if bytes >= Int(CK_HUGE_MIN) { #expect(address % (2 << 20) == 0) }
            let b = p.assumingMemoryBound(to: UInt8.self)
            #expect(UnsafeBufferPointer(start: b, count: bytes).allSatisfy { $0 == 0 })
            b.update(repeating: 0xA5, count: bytes)
            #expect(b[bytes - 1] == 0xA5)
            ck_zeroed_free(p, bytes)
        }
    }
}
