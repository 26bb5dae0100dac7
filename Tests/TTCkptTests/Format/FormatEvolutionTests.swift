import Foundation
import Testing
@testable import TTCore
@testable import TTFormat

/// Issue 11 #20: what a 1.1 reader does with what it does not know (spec/FORMAT.md §7):
/// unknown critical sections are refused, unknown ancillary ones skipped; a tensor whose
/// dtype, compression or filter code is unknown fails only the operations that need its
/// values, naming it; unknown roles are refused.
@Suite struct FormatEvolutionTests {
    static let base = FormatFixtures.checkpoint()

    /// The base checkpoint plus an `other` tensor "future.x" whose entry carries `codes`.
    static func withFutureTensor(dtype: UInt8 = 0, compression: UInt8 = 1, filter: UInt8 = 0) -> [UInt8] {
        var c = base
        c.tensors.append(NamedTensor(name: "future.x", role: .other, shape: [3, 4], values: (0..<12).map { Float($0) }))
        var f = CraftedFile(c)
        let i = f.entries.count - 1
        f.entries[i].dtype = DType(rawValue: dtype)
        f.entries[i].compression = BlobCompression(rawValue: compression)
        f.entries[i].filter = BlobFilter(rawValue: filter)
        return f.bytes()
    }

    @Test func sectionsAreCriticalOrAncillaryByTheirFirstLetter() throws {
        #expect(TTCFormat.isCritical(TTCFormat.metadataTag) && TTCFormat.isCritical(TTCFormat.directoryTag))
        #expect(!TTCFormat.isCritical(TTCFormat.digestTag))
        for (tag, critical) in [(UInt32(0x5441_5858), true), (0x5441_5878, false), (0x0000_0000, true), (0x7a7a_7a7a, false)] {
            var f = CraftedFile(Self.base)
            f.extraSections = [(tag, [9, 9, 9])]
            let e = FormatFixtures.readError(f.bytes(), name: "n.ttc")
            if critical {
                #expect(e?.kind == .unknownCriticalSection, "\(tag): \(String(describing: e))")
            } else {
                #expect(e == nil, "\(tag): \(String(describing: e))")
            }
        }
        var f = CraftedFile(Self.base)
        f.extraSections = [(0x4B4E_5546, [1])]  // "FUNK"
        #expect(FormatFixtures.readError(f.bytes(), name: "n.ttc")?.description
                == "n.ttc: section 'FUNK' is critical (first letter uppercase) and unknown to this reader (format 1.1); a newer tt-ckpt is needed")
    }

    @Test func unknownTensorCodesFailOnlyThatTensorsValues() throws {
        let cases: [(UInt8, UInt8, UInt8, String)] = [(9, 1, 0, "dtype 9"), (0, 7, 0, "compression 7"), (0, 1, 5, "filter 5")]
        for (dtype, compression, filter, label) in cases {
            let bytes = Self.withFutureTensor(dtype: dtype, compression: compression, filter: filter)
            // The header, metadata and directory read; the entry shows its code.
            let reader = try CheckpointReader(bytes: bytes, name: "f.ttc")
            let entry = try #require(reader.entry(named: "future.x"))
            #expect(!entry.isDecodable && entry.unknownCode == label)
            #expect([entry.dtype.label, entry.compression.label, entry.filter.label].contains(label))
            // Every other tensor loads and verifies, the model digest is there.
            for e in reader.entries where e.name != "future.x" { _ = try reader.loadTensor(e, checkingDigest: true) }
            #expect(reader.storedModelDigest == ModelDigest.of(Self.base))
            // The unknown one fails, named, with its own kind; so does reading everything.
            #expect {
                try reader.loadTensor(entry)
            } throws: { e in
                (e as? FormatError)?.kind == .unsupportedEncoding && (e as? FormatError)?.description
                    == "f.ttc: tensor 'future.x': \(label) is not known to this reader (format 1.1); its values need a newer tt-ckpt"
            }
            #expect { try reader.readCheckpoint() } throws: { ($0 as? FormatError)?.kind == .unsupportedEncoding }
            // The stored CRC is still checked first: damage is reported as damage.
            var damaged = bytes
            damaged[Int(entry.offset)] ^= 1
            #expect { try CheckpointReader(bytes: damaged, name: "f.ttc").loadTensor(entry) } throws: { ($0 as? FormatError)?.kind == .storedCRC }
        }
    }

    @Test func unknownDTypeSkipsOnlyTheSizeRuleItCannotApply() {
        // A known dtype's raw length must be product(shape) × 4; an unknown one's cannot be
        // checked, but stays bounded.
        var c = Self.base
        c.tensors.append(NamedTensor(name: "future.x", role: .other, shape: [3, 4], values: [Float](repeating: 1, count: 12)))
        var f = CraftedFile(c)
        let i = f.entries.count - 1
        f.entries[i].dtype = DType(rawValue: 9)
        f.entries[i].rawLength = 6  // e.g. 4-bit elements
        #expect(throws: Never.self) { try CheckpointReader(bytes: f.bytes(), name: "f.ttc") }
        f.entries[i].rawLength = 1 << 62
        #expect(FormatFixtures.readError(f.bytes())?.kind == .sizeOverflow)
        f.entries[i].dtype = .f32
        f.entries[i].rawLength = 6
        #expect(FormatFixtures.readError(f.bytes())?.kind == .rawLengthMismatch)
    }

    @Test func unknownRolesAreStillRefused() {
        let bytes = CheckpointReaderValidationTests.patchedFirstEntry(0, 200)
        #expect(FormatFixtures.readError(bytes)?.kind == .badRole)
    }

    @Test func theWriterWritesOnlyKnownCodes() {
        var options = WriteOptions()
        options.filter = BlobFilter(rawValue: 5)
        #expect { try CheckpointWriter.encodedBytes(Self.base, options: options) } throws: { e in
            (e as? FormatError)?.kind == .invalidCheckpoint && (e as? FormatError)!.description.contains("filter 5")
        }
    }

    /// Through the binary: `inspect` reads a file holding a tensor with an unknown code and
    /// shows the code; reading that tensor's values fails with one line naming it
    /// (BAD-INPUT rule-9 has `sample`).
    @Test func inspectShowsAnUnknownCodeAndLoadsFailNamingTheTensor() throws {
        let dir = try TemporaryDirectory("evolution")
        try dir.write("f.ttc", Data(Self.withFutureTensor(dtype: 9)))
        let r = try CLIRunner.run(["inspect", dir.path("f.ttc")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("future.x") && r.stdout.contains("dtype 9"), "\(r.stdout)")
        let e = try CLIRunner.run(["inspect", dir.path("f.ttc"), "--tensor", "future.x"])
        expectUserError(e, subject: dir.path("f.ttc"), containing: "tensor 'future.x': dtype 9 is not known to this reader")
    }
}
