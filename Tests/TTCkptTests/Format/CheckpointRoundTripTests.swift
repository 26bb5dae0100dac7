import Foundation
import Testing
@testable import TTCore
@testable import TTFormat

@Suite struct CheckpointRoundTripTests {
    @Test func everyFieldAndTensorRoundTripsBitExactly() throws {
        var c = FormatFixtures.checkpoint()
        // Values whose bits a careless path would change: -0, NaN payloads, infinities,
        // subnormals, the largest finite Float.
        c.tensors.append(NamedTensor(name: "extra.specials", role: .other, shape: [2, 4],
                                     values: [-0.0, Float(bitPattern: 0x7fc0_1234), Float(bitPattern: 0xffa0_0001), .infinity,
                                              -.infinity, Float(bitPattern: 1), -Float.leastNormalMagnitude, .greatestFiniteMagnitude]))
        c.training.lossHistory[1] = Float(bitPattern: 0x7fc0_0042)
        c.training.optimizer.learningRate = Double(bitPattern: 0x3f1a_36e2_eb1c_432d)  // 1e-4 with every mantissa bit used
        c.training.rng.gaussNext = Double(bitPattern: 0x8000_0000_0000_0001)          // -4.9e-324, a subnormal
        let dir = FormatFixtures.tempDirectory()
        let path = dir + "/a.ttc"
        try CheckpointWriter.write(c, to: path)
        let reader = try CheckpointReader(path: path)
        #expect(reader.formatVersion == (1, 1))
        #expect(reader.toolVersion == TTCkptVersion.string)
        #expect(reader.fileSize == UInt64(FormatFixtures.readBytes(path).count))
        let back = try reader.readCheckpoint()
        #expect(FormatFixtures.bitExactlyEqual(c, back))
        #expect(back.training.rng.gaussNext?.bitPattern == 0x8000_0000_0000_0001)
        #expect(back.tensors.last!.values.map(\.bitPattern) == c.tensors.last!.values.map(\.bitPattern))
        // The restored generator continues the sequence exactly.
        var a = PythonRandom(state: c.training.rng), b = PythonRandom(state: back.training.rng)
        for _ in 0..<10 { #expect(a.gauss() == b.gauss()) }
    }

    @Test func absentOptionalFieldsStayAbsent() throws {
        let c = FormatFixtures.checkpoint(steps: 0, gaussCached: false, withData: false)
        #expect(c.training.rng.gaussNext == nil)
        let back = try CheckpointReader(bytes: try CheckpointWriter.encodedBytes(c), name: "m").readCheckpoint()
        #expect(FormatFixtures.bitExactlyEqual(c, back))
        #expect(back.training.rng.gaussNext == nil)
        #expect(back.training.data == nil)
        #expect(back.training.lossHistory.isEmpty)
    }

    @Test func gptConfigRoundTrips() throws {
        let chars = (0..<40).map { String(UnicodeScalar(UInt8(48 + $0))) }
        var config = ModelConfig.gptSmall(vocabSize: 40)
        config.nLayers = 1
        config.dModel = 32
        config.dFF = 64
        config.context = 8
        let c = FormatFixtures.checkpoint(config: config, vocabulary: Vocabulary(kind: .char, tokens: chars))
        let bytes = try CheckpointWriter.encodedBytes(c)
        let back = try CheckpointReader(bytes: bytes, name: "g").readCheckpoint()
        #expect(FormatFixtures.bitExactlyEqual(c, back))
    }

    @Test func sameCheckpointGivesIdenticalBytesForAnyThreadCount() throws {
        let c = FormatFixtures.checkpoint()
        let one = try CheckpointWriter.encodedBytes(c)
        var options = WriteOptions()
        options.threads = 4
        let four = try CheckpointWriter.encodedBytes(c, options: options)
        #expect(one == four)
        #expect(try CheckpointWriter.encodedBytes(c) == one)
        // And the file on disk is exactly those bytes.
        let path = FormatFixtures.tempDirectory() + "/d.ttc"
        try CheckpointWriter.write(c, to: path, options: options)
        #expect(FormatFixtures.readBytes(path) == one)
    }

    @Test func forcedFiltersAndLevelsAllReadBack() throws {
        let c = FormatFixtures.checkpoint()
        for filter in BlobFilter.allCases {
            for level: Int32 in [0, 1, 9] {
                var o = WriteOptions()
                o.filter = filter
                o.level = level
                let reader = try CheckpointReader(bytes: try CheckpointWriter.encodedBytes(c, options: o), name: "f")
                #expect(reader.entries.allSatisfy { $0.filter == filter })
                #expect(FormatFixtures.bitExactlyEqual(c, try reader.readCheckpoint()))
            }
        }
    }

    @Test func writerPicksFilterByMeasurement() throws {
        // All-zero tensor: both filters give the same stream length, and ties go to none.
        let zeros = [Float](repeating: 0, count: 100)
        #expect(CheckpointWriter.compressTensor(zeros, options: WriteOptions()).filter == .none)
        // Dense N(0, 0.02) floats: the exponent bytes are nearly constant, which only the
        // shuffled layout exposes to deflate (measured: ~9% smaller, see spec/FORMAT.md).
        var r = PythonRandom(seed: 1)
        for n in [1000, 50_000] {  // exact rule and sample rule
            let dense = (0..<n).map { _ in Float(r.gauss(mu: 0, sigma: 0.02)) }
            let blob = CheckpointWriter.compressTensor(dense, options: WriteOptions())
            #expect(blob.filter == .shuffle)
            var none = WriteOptions()
            none.filter = BlobFilter.none
            #expect(blob.stored.count < CheckpointWriter.compressTensor(dense, options: none).stored.count)
        }
        // Bytes counting up: shuffle turns the low bytes into long runs of one pattern too,
        // so both are small; the rule must pick whichever is really smaller.
        let ramp = (0..<20_000).map { Float($0) }
        let chosen = CheckpointWriter.compressTensor(ramp, options: WriteOptions())
        var other = WriteOptions()
        other.filter = chosen.filter == .shuffle ? BlobFilter.none : .shuffle
        #expect(chosen.stored.count <= CheckpointWriter.compressTensor(ramp, options: other).stored.count)
    }

    @Test func shuffleIsTheDocumentedPermutation() {
        // Two f32 elements: bytes a0 a1 a2 a3 b0 b1 b2 b3 -> a0 b0 a1 b1 a2 b2 a3 b3.
        let raw: [UInt8] = [0xA0, 0xA1, 0xA2, 0xA3, 0xB0, 0xB1, 0xB2, 0xB3]
        #expect(shuffleBytes(raw, elementSize: 4) == [0xA0, 0xB0, 0xA1, 0xB1, 0xA2, 0xB2, 0xA3, 0xB3])
        #expect(unshuffleBytes(shuffleBytes(raw, elementSize: 4), elementSize: 4) == raw)
    }

    @Test func layoutMatchesTheSpecIndependently() throws {
        // Parse the preamble and headers by hand (offsets from spec/FORMAT.md) and check
        // the CRCs with a bitwise CRC-32 that does not use zlib.
        let c = FormatFixtures.checkpoint()
        let b = try CheckpointWriter.encodedBytes(c)
        #expect(Array(b[0..<8]) == [0x89, 0x54, 0x54, 0x43, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(le16(b, 8) == 1)
        #expect(le16(b, 10) == 1)
        #expect(le32(b, 12) == 0)
        let headerLength = Int(le64(b, 16))
        #expect(le32(b, 24) == referenceCRC32(b[32..<(32 + headerLength)]))
        #expect(le32(b, 28) == referenceCRC32(b[0..<28]))
        // First section: tag "META".
        #expect(Array(b[32..<36]) == Array("META".utf8))
        let metaLength = Int(le64(b, 36))
        let dirAt = 32 + 12 + metaLength
        #expect(Array(b[dirAt..<(dirAt + 4)]) == Array("TDIR".utf8))
        // Third and last: "hash", a count and one SHA-256 of the raw bytes per tensor.
        let hashAt = dirAt + 12 + Int(le64(b, dirAt + 4))
        #expect(Array(b[hashAt..<(hashAt + 4)]) == Array("hash".utf8))
        #expect(le64(b, hashAt + 4) == UInt64(8 + 32 * c.tensors.count))
        #expect(hashAt + 12 + 8 + 32 * c.tensors.count == 32 + headerLength)
        #expect(le64(b, hashAt + 12) == UInt64(c.tensors.count))
        for (i, t) in c.tensors.enumerated() {
            let at = hashAt + 20 + 32 * i
            #expect(Array(b[at..<(at + 32)]) == SHA256.digest(littleEndianBytes(t.values)), "\(t.name)")
        }
        // Blobs follow contiguously; each stored CRC matches; the file ends at the last.
        let reader = try CheckpointReader(bytes: b, name: "x")
        var expected = UInt64(32 + headerLength)
        for e in reader.entries {
            #expect(e.offset == expected)
            #expect(referenceCRC32(b[Int(e.offset)..<Int(e.offset + e.storedLength)]) == e.storedCRC32)
            #expect(b[Int(e.offset)] == 0x78)  // zlib CMF: deflate, 32 KiB window
            expected += e.storedLength
        }
        #expect(expected == UInt64(b.count))
        // Raw CRC is over the unfiltered little-endian values.
        let first = c.tensors[0]
        let le = first.values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * $0)) } }
        #expect(reader.entries[0].rawCRC32 == referenceCRC32(le))
        // Metadata keys are in strictly increasing byte order.
        #expect(reader.metadataKeys == reader.metadataKeys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        #expect(Set(reader.metadataKeys).count == reader.metadataKeys.count)
    }

    @Test func loadingOneTensorTouchesOnlyThatBlob() throws {
        // Damage the last blob: the header still reads and other tensors load, which shows
        // the reader neither inflates nor checks blobs before they are asked for.
        let c = FormatFixtures.checkpoint()
        var b = try CheckpointWriter.encodedBytes(c)
        b[b.count - 3] ^= 0x55
        let reader = try CheckpointReader(bytes: b, name: "x")
        #expect(try reader.loadTensor(reader.entries[0]) == c.tensors[0].values)
        #expect(throws: FormatError.self) { try reader.loadTensor(reader.entries.last!) }
        #expect(reader.entry(named: "layers.0.attn.wq")?.shape == [2, 16, 8])
    }
}
