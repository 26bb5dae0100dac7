import Foundation
import Testing
@testable import TTFormat

/// The version rules of spec/FORMAT.md: newer minors are read (unknown sections and keys
/// skipped), other majors are rejected with a clear message.
@Suite struct FormatCompatibilityTests {
    static let base = FormatFixtures.checkpoint()

    @Test func newerMinorWithUnknownSectionAndKeysStillReads() throws {
        var f = CraftedFile(Self.base)
        f.minor = 7
        f.extraSections = [(0x5441_5878, [1, 2, 3, 4, 5])]  // "xXAT": unknown, ancillary (lowercase first letter)
        f.sectionOrder = [TTCFormat.directoryTag, TTCFormat.metadataTag]  // order is free
        f.setMeta("aaa.future", .f64Array([1, 2]))
        f.setMeta("model.future_field", .stringArray(["x"]))
        f.setMeta("zzz.future", .bool(true))
        let reader = try CheckpointReader(bytes: f.bytes(), name: "future.ttc")
        #expect(reader.formatVersion == (1, 7))
        #expect(reader.metadataKeys.contains("aaa.future") && reader.metadataKeys.contains("zzz.future"))
        #expect(reader.sectionTags == [TTCFormat.directoryTag, TTCFormat.metadataTag, 0x5441_5878])
        #expect(FormatFixtures.bitExactlyEqual(try reader.readCheckpoint(), Self.base))
    }

    @Test func otherMajorsAreRejected() {
        for major: UInt16 in [0, 2, 0xFFFF] {
            var f = CraftedFile(Self.base)
            f.major = major
            f.minor = 0
            let e = FormatFixtures.readError(f.bytes(), name: "new.ttc")
            #expect(e?.kind == .unsupportedVersion)
            #expect(e?.description == "new.ttc: format version \(major).0 is not supported (this tt-ckpt reads major version 1 only)")
        }
    }

    @Test func fileMagicEntryIdentifiesCheckpoints() throws {
        let filePaths = ["/usr/bin/file", "/bin/file"].filter { FileManager.default.isExecutableFile(atPath: $0) }
        guard let fileTool = filePaths.first else { return }  // file(1) not installed: nothing to check
        let magic = TestPaths.path("spec/ttc.magic")
        let dir = FormatFixtures.tempDirectory()
        let path = dir + "/m.ttc"
        try CheckpointWriter.write(Self.base, to: path)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: fileTool)
        p.arguments = ["-b", "-m", magic, path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        p.waitUntilExit()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(out.hasPrefix("tt-ckpt checkpoint, format 1.1"), "\(out)")
    }
}
