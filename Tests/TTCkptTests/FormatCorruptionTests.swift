import Foundation
import Testing
@testable import TTCkpt

/// Damaged files: every single-byte change, truncation and extension must give a
/// FormatError (never a crash, and never a silent success).
@Suite struct FormatCorruptionTests {
    /// The tutorial-size checkpoint the corruption tests damage: samples/tutorial-init.ttc
    /// when it exists (it must read cleanly), else one built here with
    /// ParameterLayout(config: .tutorial) and deterministic values.
    static let file: [UInt8] = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let sample = root.appendingPathComponent("samples/tutorial-init.ttc").path
        if FileManager.default.fileExists(atPath: sample) { return FormatFixtures.readBytes(sample) }
        return try! CheckpointWriter.encodedBytes(FormatFixtures.checkpoint())
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
