import Foundation
import Testing
@testable import TTCore
@testable import TTFormat

/// Damaged files: every single-byte change, truncation and extension must give a
/// FormatError (never a crash, and never a silent success).
@Suite struct CheckpointReaderCorruptionTests {
    /// The checkpoint the corruption tests damage: the golden samples/tutorial-init.ttc.
    static let file: [UInt8] = {
        return FormatFixtures.readBytes(TestPaths.path("samples/tutorial-init.ttc"))
    }()

    @Test func theUndamagedFileReads() {
        #expect(FormatFixtures.readError(Self.file) == nil)
    }

    /// Every byte of the file is changed in turn (in four parallel quarters). The xor mask
    /// is pseudo-random and nonzero, so each position sees some change; CRC-32 catches any
    /// change confined to 32 bits, so one mask per byte shows that the byte is covered.
    @Test(arguments: 0..<4) func everySingleByteChangeIsDetected(quarter: Int) {
        var b = Self.file
        let n = b.count
        var failures: [Int] = []
        var r = PythonRandom(seed: UInt64(9 + quarter))
        for i in stride(from: quarter, to: n, by: 4) {
            let original = b[i]
            b[i] = original ^ UInt8(1 + r.randbelow(255))
            if FormatFixtures.readError(b) == nil { failures.append(i) }
            b[i] = original
        }
        #expect(failures.isEmpty, "undetected changes at offsets \(failures.prefix(20))")
        #expect(FormatFixtures.readError(b) == nil)  // the restored file reads
    }

    @Test func everyTruncationIsDetected() {
        var undetected: [Int] = []
        for n in 0..<Self.file.count where FormatFixtures.readError(Array(Self.file[0..<n])) == nil {
            undetected.append(n)
        }
        #expect(undetected.isEmpty, "truncations that read: \(undetected.prefix(20))")
    }

    @Test func extensionsAreDetected() {
        var r = PythonRandom(seed: 3)
        for n in [1, 2, 7, 100, 4096] {
            let tail = (0..<n).map { _ in UInt8(r.randbelow(256)) }
            let e = FormatFixtures.readError(Self.file + tail)
            #expect(e?.kind == .trailingBytes, "\(n): \(String(describing: e))")
        }
        // A second copy of the whole file appended.
        #expect(FormatFixtures.readError(Self.file + Self.file)?.kind == .trailingBytes)
    }

    @Test func randomMultiByteDamageIsDetected() {
        // Splices and byte runs, fixed seed: either a typed error or nothing changed.
        var r = PythonRandom(seed: 11)
        let n = Self.file.count
        for _ in 0..<300 {
            var b = Self.file
            let at = Int(r.randbelow(UInt64(n)))
            let len = 1 + Int(r.randbelow(64))
            for k in at..<min(n, at + len) { b[k] = UInt8(r.randbelow(256)) }
            if b == Self.file { continue }
            #expect(FormatFixtures.readError(b) != nil, "damage at \(at) length \(len) not detected")
        }
    }

    @Test func damagedFileOnDiskIsDetected() throws {
        // The same through the path-based reader, for a sample of positions.
        let dir = FormatFixtures.tempDirectory()
        let path = dir + "/c.ttc"
        for i in stride(from: 0, to: Self.file.count, by: 997) {
            var b = Self.file
            b[i] ^= 0x40
            FormatFixtures.writeBytes(b, to: path)
            #expect(throws: FormatError.self) { _ = try CheckpointReader(path: path).readCheckpoint() }
        }
    }
}

/// Damage that a CRC does not stop: the header or a blob is changed and its CRCs are
/// recomputed, so the structural and semantic checks (and zlib) must catch what is wrong.
/// Fixed seeds; each case must give a FormatError or read completely, never trap.
@Suite struct CheckpointReaderCRCFixedMutationTests {
    static let file = CheckpointReaderCorruptionTests.file

    /// Recomputes the header and preamble CRCs of `b` (header length taken from `b`, capped
    /// to the file).
    static func fixCRCs(_ b: inout [UInt8]) {
        let hl = Int(min(le64(b, 16), UInt64(b.count - 32)))
        let h = crc32Of(b[32..<(32 + hl)])
        for k in 0..<4 { b[24 + k] = UInt8(truncatingIfNeeded: h >> (8 * k)) }
        let p = crc32Of(b[0..<28])
        for k in 0..<4 { b[28 + k] = UInt8(truncatingIfNeeded: p >> (8 * k)) }
    }

    @Test func headerMutationsWithValidCRCs() {
        var r = PythonRandom(seed: 21)
        let headerLength = Int(le64(Self.file, 16))
        var errors: [FormatError.Kind: Int] = [:]
        for _ in 0..<3000 {
            var b = Self.file
            let edits = 1 + Int(r.randbelow(4))
            for _ in 0..<edits {
                let at = 8 + Int(r.randbelow(UInt64(24 + headerLength)))
                if at >= 24 && at < 32 { continue }  // the CRCs themselves are fixed below
                switch r.randbelow(4) {
                case 0: b[at] = UInt8(r.randbelow(256))
                case 1: b[at] = 0xFF
                case 2: b[at] = 0
                default: b[at] ^= 1 << UInt8(r.randbelow(8))
                }
            }
            Self.fixCRCs(&b)
            if let e = FormatFixtures.readError(b) { errors[e.kind, default: 0] += 1 }
        }
        // Most edits hit lengths, counts or names and must be rejected structurally.
        #expect(errors.values.reduce(0, +) > 1500, "\(errors)")
    }

    @Test func blobMutationsWithValidStoredCRC() throws {
        var r = PythonRandom(seed: 22)
        let reader = try CheckpointReader(bytes: Self.file, name: "x")
        for _ in 0..<1000 {
            var b = Self.file
            let i = Int(r.randbelow(UInt64(reader.entries.count)))
            var e = reader.entries[i]
            let at = Int(e.offset) + Int(r.randbelow(e.storedLength))
            let old = b[at]
            b[at] ^= UInt8(1 + r.randbelow(255))
            // Fix the stored CRC in the directory copy and re-encode the header.
            e.storedCRC32 = crc32Of(b[Int(e.offset)..<Int(e.offset + e.storedLength)])
            var entries = reader.entries
            entries[i] = e
            let h = Self.file[32..<(32 + Int(reader.headerLength))]
            let newDir = encodeDirectory(entries), oldDir = encodeDirectory(reader.entries)
            guard let dirAt = Array(h).firstRange(of: oldDir)?.lowerBound else {
                Issue.record("directory not found in header")
                return
            }
            b.replaceSubrange((32 + dirAt)..<(32 + dirAt + newDir.count), with: newDir)
            Self.fixCRCs(&b)
            let err = FormatFixtures.readError(b)
            // zlib's checks or the raw CRC-32 must catch a change to the content. The only
            // change allowed to pass is one in the unused padding bits of the last deflate
            // byte, which decodes to the same data.
            if err == nil {
                let back = try CheckpointReader(bytes: b, name: "x").loadTensor(entries[i])
                #expect(try reader.loadTensor(reader.entries[i]) == back, "byte \(at) (was \(old)) changed data silently")
            }
        }
    }
}
