import Foundation
import Testing
@testable import TTCore
@testable import TTFormat
@testable import TTInterop

/// Issue 11 #19: the per-tensor SHA-256 of the raw bytes (`hash` section) and the model
/// digest (spec/FORMAT.md §4.2, §4.3).
@Suite struct ContentIdentityTests {
    static let base = FormatFixtures.checkpoint()

    @Test func sameModelAnyCompressionSameDigest() throws {
        var digests = Set<String>()
        var files = Set<[UInt8]>()
        // Stored blocks, the byte-plane encoder, and the 1.0 writer's deflate at level 9.
        for (compression, level, filter) in [(BlobEncoding.none, Int32(1), BlobFilter?.none), (.fast, 1, nil), (.zlib, 9, BlobFilter.none)] {
            var o = WriteOptions()
            o.compression = compression
            o.level = level
            o.filter = filter
            let bytes = try CheckpointWriter.encodedBytes(Self.base, options: o)
            files.insert(bytes)
            let reader = try CheckpointReader(bytes: bytes, name: "m.ttc")
            let stored = try #require(reader.storedModelDigest)
            #expect(try reader.computedModelDigest() == stored)
            digests.insert(stored)
        }
        #expect(files.count == 3 && digests.count == 1)
        #expect(digests.first == ModelDigest.of(Self.base))
        // The training state and the moments are not the model; the weights are.
        var trained = Self.base
        trained.training.step = 1
        trained.training.lossHistory = [1]
        trained.training.sessionStarts = [0]
        trained.training.tokensSeen = 1
        for i in trained.tensors.indices where trained.tensors[i].role != .parameter { trained.tensors[i].values[0] += 1 }
        #expect(ModelDigest.of(trained) == ModelDigest.of(Self.base))
        var changed = Self.base
        changed.tensors[1].values[0] = changed.tensors[1].values[0].nextUp
        #expect(ModelDigest.of(changed) != ModelDigest.of(Self.base))
        // Order does not matter.
        var reordered = Self.base
        reordered.tensors.reverse()
        #expect(ModelDigest.of(reordered) == ModelDigest.of(Self.base))
    }

    /// The digest definition written out independently from spec §4.3 (listing bytes built
    /// by hand), on a tiny two-tensor model.
    @Test func digestIsTheSpecsListing() {
        let a = NamedTensor(name: "b", role: .parameter, shape: [2], values: [1, -2])
        let b = NamedTensor(name: "a", role: .parameter, shape: [1, 1], values: [0.5])
        var listing = Array("ttc-model-digest-1\n".utf8)
        // Sorted by name: "a" first. u32 name length, name, dtype 0, rank, u64 dims, SHA-256.
        listing += [1, 0, 0, 0, 0x61, 0, 2] + [1, 0, 0, 0, 0, 0, 0, 0] + [1, 0, 0, 0, 0, 0, 0, 0]
        listing += SHA256.digest([0x00, 0x00, 0x00, 0x3F])  // 0.5 little-endian
        listing += [1, 0, 0, 0, 0x62, 0, 1] + [2, 0, 0, 0, 0, 0, 0, 0]
        listing += SHA256.digest([0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0])  // 1, -2
        let expected = SHA256.hexDigest(listing)
        let items = [a, b].map { ModelDigest.Item(name: $0.name, dtypeCode: 0, shape: $0.shape, sha256: rawDigest($0.values)) }
        #expect(ModelDigest.compute(items) == expected)
    }

    @Test func ttcAndItsSafetensorsExportMatch() throws {
        let dir = FormatFixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try CheckpointWriter.write(Self.base, to: dir + "/m.ttc")
        let reader = try CheckpointReader(path: dir + "/m.ttc")
        for optimizer in [false, true] {
            let path = dir + "/m-\(optimizer).safetensors"
            try SafetensorsCheckpoint.export(Self.base, to: path, includeOptimizer: optimizer)
            #expect(try SafetensorsFile(path: path).modelDigest() == reader.modelDigest())
        }
        // A safetensors file with other weights does not match.
        var other = Self.base
        other.tensors[0].values[3] += 1
        try SafetensorsCheckpoint.export(other, to: dir + "/o.safetensors", includeOptimizer: false)
        #expect(try SafetensorsFile(path: dir + "/o.safetensors").modelDigest() != reader.modelDigest())
    }

    /// A blob rewritten together with its CRCs (stored, raw, header, preamble) passes every
    /// CRC check; the SHA-256 in the `hash` section still catches it.
    @Test func rewrittenBlobWithItsCRCsIsCaughtByTheDigest() throws {
        var f = CraftedFile(Self.base)
        var values = Self.base.tensors[1].values
        values[0] += 1
        let raw = littleEndianBytes(values)
        f.restream(1, raw, level: 1)
        f.entries[1].rawCRC32 = crc32Of(raw)
        let reader = try CheckpointReader(bytes: f.bytes(), name: "r.ttc")
        let entry = reader.entries[1]
        #expect(try reader.loadTensor(entry) == values)  // every CRC agrees
        #expect {
            try reader.loadTensor(entry, checkingDigest: true)
        } throws: { e in
            let e = e as? FormatError
            return e?.kind == .rawDigest && e!.description.hasPrefix("r.ttc: tensor 'pos_emb': SHA-256 mismatch (hash section ")
        }
        // The stored model digest is that of the original weights, the computed one is not.
        #expect(reader.storedModelDigest == ModelDigest.of(Self.base))
        #expect(try reader.computedModelDigest() != reader.storedModelDigest)
    }

    @Test func hashSectionStructureIsChecked() {
        let cases: [([UInt8], String)] = [
            ([1, 2, 3], "section 'hash': 3 bytes, too short for its count"),
            ([1, 0, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 32), "section 'hash': 1 digests for 39 tensors"),
            ([39, 0, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 32 * 39 - 1), "section 'hash': 1247 bytes of digests, expected 32 × 39"),
        ]
        for (payload, message) in cases {
            var f = CraftedFile(Self.base)
            f.digestBytes = payload
            let e = FormatFixtures.readError(f.bytes(), name: "h.ttc")
            #expect(e?.kind == .malformedSection)
            #expect(e?.description == "h.ttc: " + message, "\(String(describing: e))")
        }
        var twice = CraftedFile(Self.base)
        twice.sectionOrder = [TTCFormat.metadataTag, TTCFormat.directoryTag, TTCFormat.digestTag, TTCFormat.digestTag]
        #expect(FormatFixtures.readError(twice.bytes())?.kind == .duplicateSection)
        // Without a hash section (a 1.0 file) everything reads; the digest is computed.
        var old = CraftedFile(Self.base)
        old.digests = nil
        #expect(FormatFixtures.readError(old.bytes()) == nil)
        let oldReader = try? CheckpointReader(bytes: old.bytes(), name: "o")
        #expect(oldReader != nil && oldReader?.storedModelDigest == nil)
        #expect((try? oldReader?.modelDigest()) == ModelDigest.of(Self.base))
    }
}
