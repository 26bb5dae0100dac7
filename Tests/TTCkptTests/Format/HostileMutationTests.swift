import Foundation
import Testing
@testable import TTCore
@testable import TTFormat

/// Deterministic mutation fuzzing of the reader on real checkpoints (HostileSamples and
/// samples/*.ttc): byte flips, splices, truncations, extensions and edits of every length
/// field, most with the checksums recomputed so that they reach the checks behind them.
///
/// Each case must (1) throw a typed FormatError with a one-line message, or load tensors
/// whose CRC-32s verify independently; (2) not trap (a trap ends the test process);
/// (3) allocate no single buffer larger than max(64 KiB, 1032 × file size), as recorded by
/// `ReaderAllocationMeter` (every reader allocation whose size comes from the file reports
/// to it). The libFuzzer run (Tests/Fuzz/run.sh) checks allocations independently through its
/// malloc hook (`-malloc_limit_mb`), which sees every malloc.
@Suite struct HostileMutationTests {
    /// SplitMix64: a fixed, platform-independent sequence for a given seed.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// A field of the file that holds a length, count, size or code: where and how wide.
    struct Field {
        var offset: Int
        var width: Int
        var label: String
    }

    static func le(_ b: [UInt8], _ at: Int, _ n: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(b[at + i]) << (8 * UInt64(i)) }
        return v
    }

    static func store(_ b: inout [UInt8], _ at: Int, _ n: Int, _ v: UInt64) {
        for i in 0..<n { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
    }

    /// Every structural field of a valid image (spec/FORMAT.md §1–§4), found by walking it.
    static func fields(of b: [UInt8]) -> [Field] {
        var out = [Field(offset: 8, width: 2, label: "major"), Field(offset: 12, width: 4, label: "reserved"),
                   Field(offset: 16, width: 8, label: "header_length")]
        let hEnd = 32 + Int(le(b, 16, 8))
        var p = 32
        while p < hEnd {
            let tag = le(b, p, 4), length = Int(le(b, p + 4, 8))
            out.append(Field(offset: p, width: 4, label: "section tag"))
            out.append(Field(offset: p + 4, width: 8, label: "section length"))
            p += 12
            let end = p + length
            if tag == UInt64(TTCFormat.metadataTag) { metaFields(b, p, &out) }
            if tag == UInt64(TTCFormat.directoryTag) { directoryFields(b, p, &out) }
            p = end
        }
        return out
    }

    static func metaFields(_ b: [UInt8], _ start: Int, _ out: inout [Field]) {
        var p = start
        let count = Int(le(b, p, 8))
        out.append(Field(offset: p, width: 8, label: "META count"))
        p += 8
        func string(_ label: String) {
            out.append(Field(offset: p, width: 4, label: label))
            p += 4 + Int(le(b, p, 4))
        }
        let sizes: [UInt8: Int] = [0: 4, 1: 8, 2: 8, 3: 4, 4: 8, 5: 1]
        for _ in 0..<count {
            string("key length")
            out.append(Field(offset: p, width: 1, label: "value type"))
            let type = b[p]
            p += 1
            if let s = sizes[type] { p += s } else if type == 6 { string("string length") } else {
                out.append(Field(offset: p, width: 1, label: "array element type"))
                let element = b[p]
                out.append(Field(offset: p + 1, width: 8, label: "array count"))
                let n = Int(le(b, p + 1, 8))
                p += 9
                for _ in 0..<n {
                    if let s = sizes[element] { p += s } else { string("array string length") }
                }
            }
        }
    }

    static func directoryFields(_ b: [UInt8], _ start: Int, _ out: inout [Field]) {
        var p = start
        let count = Int(le(b, p, 8))
        out.append(Field(offset: p, width: 8, label: "TDIR count"))
        p += 8
        for _ in 0..<count {
            out.append(Field(offset: p, width: 4, label: "name length"))
            p += 4 + Int(le(b, p, 4))
            for (i, l) in ["role", "dtype", "compression", "filter", "rank"].enumerated() {
                out.append(Field(offset: p + i, width: 1, label: l))
            }
            let rank = Int(b[p + 4])
            p += 5
            for _ in 0..<rank {
                out.append(Field(offset: p, width: 8, label: "dimension"))
                p += 8
            }
            out.append(Field(offset: p, width: 8, label: "offset"))
            out.append(Field(offset: p + 8, width: 8, label: "stored_length"))
            out.append(Field(offset: p + 16, width: 8, label: "raw_length"))
            p += 32
        }
    }

    /// The image with every checksum recomputed where its structure can be followed: each
    /// entry's stored CRC-32 (and its raw CRC-32 when the blob inflates to its raw length),
    /// then the header CRC-32, then the preamble CRC-32.
    static func fixChecksums(_ input: [UInt8]) -> [UInt8] {
        var b = input
        guard b.count >= 32 else { return b }
        let headerLength = le(b, 16, 8)
        if headerLength <= UInt64(b.count - 32) {
            let hEnd = 32 + Int(headerLength)
            var p = 32
            while hEnd - p >= 12 {
                let tag = le(b, p, 4), length = le(b, p + 4, 8)
                p += 12
                guard length <= UInt64(hEnd - p) else { break }
                if tag == UInt64(TTCFormat.directoryTag) { fixDirectory(&b, from: p, to: p + Int(length)) }
                p += Int(length)
            }
            store(&b, 24, 4, UInt64(crc32Of(b[32..<hEnd])))
        }
        store(&b, 28, 4, UInt64(crc32Of(b[0..<28])))
        return b
    }

    static func fixDirectory(_ b: inout [UInt8], from start: Int, to end: Int) {
        var p = start
        func has(_ n: Int) -> Bool { n >= 0 && end - p >= n }
        guard has(8) else { return }
        let count = le(b, p, 8)
        p += 8
        var i: UInt64 = 0
        while i < count {
            guard has(4) else { return }
            let nameLength = le(b, p, 4)
            guard nameLength <= UInt64(end - p - 4) else { return }
            p += 4 + Int(nameLength)
            guard has(5) else { return }
            let filter = b[p + 3], rank = Int(b[p + 4])
            p += 5
            guard rank <= 64, has(8 * rank + 32) else { return }
            p += 8 * rank
            let offset = le(b, p, 8), stored = le(b, p + 8, 8), raw = le(b, p + 16, 8)
            if offset <= UInt64(b.count), stored <= UInt64(b.count) - offset {
                let blob = b[Int(offset)..<Int(offset + stored)]
                store(&b, p + 28, 4, UInt64(crc32Of(blob)))
                if raw % 4 == 0, raw <= 1 << 24,
                   let inflated = try? blob.withUnsafeBytes({ try zlibInflateExact($0, rawLength: Int(raw)) }) {
                    let bytes = filter == 1 ? unshuffleBytes(inflated, elementSize: 4) : inflated
                    store(&b, p + 24, 4, UInt64(crc32Of(bytes)))
                }
            }
            p += 32
            i += 1
        }
    }

    /// Interesting values for a field of `width` bytes holding `v` in a file of `size` bytes.
    static func editedValue(_ v: UInt64, width: Int, size: Int, _ rng: inout SplitMix) -> UInt64 {
        let candidates: [UInt64] = [0, 1, v &+ 1, v &- 1, v &* 2, v / 2, v &+ 4, v &- 4, v &+ 41, UInt64(size), UInt64(size) &- v,
                                    0x7F, 0xFF, 0xFFFF, 1 << 31, 1 << 32, 1 << 40, 1 << 60, 1 << 62, 1 << 63,
                                    UInt64.max, UInt64.max - 1, 256 << 20, (256 << 20) + 1, 1 << 20, 1025, 257, 9,
                                    rng.next()]
        let mask: UInt64 = width == 8 ? .max : (1 << (8 * UInt64(width))) - 1
        return candidates[Int(rng.next() % UInt64(candidates.count))] & mask
    }

    enum Outcome { case rejected(FormatError.Kind), accepted }

    /// Reads `bytes` fully under an allocation meter and checks the three properties.
    static func check(_ bytes: [UInt8], _ label: String, mustFail: Bool = false) -> Outcome {
        let meter = ReaderAllocationMeter()
        let result: Result<(CheckpointReader, [[Float]]), Error> = ReaderAllocationMeter.$current.withValue(meter) {
            Result {
                let reader = try CheckpointReader(bytes: bytes, name: "m.ttc")
                return (reader, try reader.entries.map { try reader.loadTensor($0) })
            }
        }
        let bound = max(64 << 10, 1032 * bytes.count)
        #expect(meter.largest <= bound, "\(label): allocated \(meter.largest) bytes for a \(bytes.count)-byte file")
        switch result {
        case .failure(let error):
            guard let e = error as? FormatError else {
                Issue.record("\(label): non-FormatError \(error)")
                return .rejected(.other)
            }
            #expect(![.other, .io, .unknownEntry, .invalidCheckpoint, .writeFailed].contains(e.kind), "\(label): kind \(e.kind): \(e)")
            #expect(!e.description.contains("\n") && e.description.hasPrefix("m.ttc: "), "\(label): \(e)")
            return .rejected(e.kind)
        case .success(let (reader, tensors)):
            #expect(!mustFail, "\(label): accepted a file that must be rejected")
            for (entry, values) in zip(reader.entries, tensors) {
                let stored = bytes[Int(entry.offset)..<Int(entry.offset + entry.storedLength)]
                let ok = values.count == entry.elementCount
                    && crc32Of(littleEndianBytes(values)) == entry.rawCRC32 && crc32Of(stored) == entry.storedCRC32
                #expect(ok, "\(label): tensor \(entry.name) loaded but does not verify")
            }
            return .accepted
        }
    }

    @Test func mutationsOfRealCheckpoints() throws {
        let images = try HostileSamples.images()
        var rng = SplitMix(state: 0x7474_636B_7074_2D66)  // fixed seed: "ttckpt-f"
        var kinds: [FormatError.Kind: Int] = [:]
        var accepted = 0, cases = 0
        func record(_ o: Outcome) {
            cases += 1
            switch o {
            case .rejected(let k): kinds[k, default: 0] += 1
            case .accepted: accepted += 1
            }
        }
        func pick(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        // Cases per image are scaled so the whole test stays well under 30 s in debug.
        for (name, image) in images {
            let fields = Self.fields(of: image)
            let n = image.count
            // Each case reads the whole image, so a large one (samples/gpt-tiny.ttc, 650 KB)
            // gets fewer cases: the per-image counts below times `scale`.
            let scale = n > 100_000 ? 0.2 : 1.0
            func times(_ k: Int) -> Int { Int(Double(k) * scale) }
            // 1. Single-byte flips without any fix-up: each must be detected (spec: every
            //    byte is covered by a checksum or a validated field).
            for _ in 0..<times(300) {
                var b = image
                let at = pick(n)
                b[at] ^= UInt8(1 + pick(255))
                record(Self.check(b, "\(name) flip@\(at)", mustFail: true))
            }
            // 2. 1-8 random byte changes with checksums recomputed.
            for _ in 0..<times(300) {
                var b = image
                for _ in 0...pick(8) { b[pick(n)] = UInt8(truncatingIfNeeded: rng.next()) }
                record(Self.check(Self.fixChecksums(b), "\(name) bytes+fix"))
            }
            // 3. Length, count, code and offset fields set to edge values, checksums fixed.
            for _ in 0..<times(800) {
                var b = image
                let f = fields[pick(fields.count)]
                let v = Self.editedValue(Self.le(b, f.offset, f.width), width: f.width, size: n, &rng)
                Self.store(&b, f.offset, f.width, v)
                let fixed = pick(8) != 0 ? Self.fixChecksums(b) : b
                record(Self.check(fixed, "\(name) \(f.label)@\(f.offset)=\(v)"))
            }
            // 4. Splices: a range of another image written over or inserted into this one.
            for _ in 0..<times(60) {
                let other = images[pick(images.count)].bytes
                let from = pick(other.count), length = 1 + pick(min(4096, other.count - from))
                var b = image
                let at = pick(n)
                if pick(2) == 0 {
                    b.insert(contentsOf: other[from..<(from + length)], at: at)
                } else {
                    let end = min(n, at + length)
                    b.replaceSubrange(at..<end, with: other[from..<(from + (end - at))])
                }
                record(Self.check(pick(4) != 0 ? Self.fixChecksums(b) : b, "\(name) splice@\(at)"))
            }
            // 5. Truncations (with and without fix-up) must all be rejected.
            for i in 0..<max(8, times(80)) {
                let cut = i < 8 ? [0, 1, 7, 8, 31, 32, 33, n - 1][i] : pick(n)
                let b = Array(image[0..<cut])
                record(Self.check(i % 2 == 0 ? Self.fixChecksums(b) : b, "\(name) truncated to \(cut)", mustFail: true))
            }
            // 6. Extensions: bytes after the last blob must be rejected.
            for i in 0..<times(40) {
                var b = image
                let extra = 1 + pick(i < 20 ? 8 : 5000)
                for _ in 0..<extra { b.append(i % 3 == 0 ? 0 : UInt8(truncatingIfNeeded: rng.next())) }
                record(Self.check(i % 2 == 0 ? Self.fixChecksums(b) : b, "\(name) extended by \(extra)", mustFail: true))
            }
        }
        // The checksum fix-up must let mutations reach the deep checks; if it did not, the
        // test would only ever see CRC errors. These kinds sit behind both header CRCs.
        let deep: [FormatError.Kind] = [.headerOutOfFile, .malformedSection, .malformedMetadata, .malformedDirectory,
                                        .blobPlacement, .rawLengthMismatch, .trailingBytes, .corruptStream, .invalidValue]
        for k in deep { #expect(kinds[k, default: 0] > 0, "no case reached \(k)") }
        print("HostileMutationTests: \(cases) cases on \(images.count) images, \(accepted) accepted; "
              + kinds.sorted { $0.value > $1.value }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", "))
    }

    /// The layout size the allocation meter charges for must match ParameterLayout.
    @Test func canonicalTensorCountMatchesLayout() {
        for arch in Architecture.allCases {
            for layers in [1, 2, 7] {
                let c = ModelConfig(arch: arch, vocabSize: 5, dModel: 8, nHeads: 2, dFF: 4, nLayers: layers, context: 3)
                #expect(canonicalTensorCount(c) == ParameterLayout(config: c).slots.count)
            }
        }
    }
}
