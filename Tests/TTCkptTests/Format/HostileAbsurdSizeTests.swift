import Foundation
import Testing
@testable import TTFormat

/// Files declaring absurd sizes are rejected before anything of that size is allocated:
/// the reader's largest file-sized buffer (`ReaderAllocationMeter`) stays within the bytes
/// the file really has.
@Suite struct HostileAbsurdSizeTests {
    typealias M = HostileMutationTests

    static let good: [UInt8] = try! CheckpointWriter.encodedBytes(FormatFixtures.checkpoint())

    /// Reads `bytes` (from memory, and from a file when `viaFile`) under a meter; returns the
    /// error kind and the largest noted allocation.
    static func read(_ bytes: [UInt8], viaFile: Bool = false) -> (FormatError.Kind?, Int) {
        let meter = ReaderAllocationMeter()
        let kind: FormatError.Kind? = ReaderAllocationMeter.$current.withValue(meter) {
            do {
                let reader: CheckpointReader
                if viaFile {
                    let dir = FormatFixtures.tempDirectory()
                    defer { try? FileManager.default.removeItem(atPath: dir) }
                    FormatFixtures.writeBytes(bytes, to: dir + "/x.ttc")
                    reader = try CheckpointReader(path: dir + "/x.ttc")
                } else {
                    reader = try CheckpointReader(bytes: bytes, name: "x.ttc")
                }
                _ = try reader.readCheckpoint()
                return nil
            } catch let e as FormatError {
                return e.kind
            } catch {
                return .other
            }
        }
        return (kind, meter.largest)
    }

    /// A field (by label, n-th occurrence) set to `value`, checksums recomputed.
    static func edited(_ label: String, occurrence: Int = 0, to value: UInt64) -> [UInt8] {
        var b = good
        let f = M.fields(of: b).filter { $0.label == label }[occurrence]
        M.store(&b, f.offset, f.width, value)
        return M.fixChecksums(b)
    }

    @Test func headerClaimingATerabyte() {
        for viaFile in [false, true] {
            let (kind, largest) = Self.read(BadFiles.headerClaiming1TB(Self.good), viaFile: viaFile)
            #expect(kind == .headerTooLarge)
            #expect(largest <= 32, "only the preamble was read")
        }
        // Within the 256 MiB cap but past the end of the file.
        let (kind, largest) = Self.read(Self.edited("header_length", to: 200 << 20), viaFile: true)
        #expect(kind == .headerOutOfFile)
        #expect(largest <= 32)
    }

    @Test func tensorsClaimingAbsurdElementCounts() {
        let n = Self.good.count
        let cases: [([UInt8], FormatError.Kind)] = [
            (BadFiles.tensorOf2To60Elements(Self.good), .sizeOverflow),
            (BadFiles.firstTensor(Self.good, dims: (UInt64.max, 2)), .sizeOverflow),
            (BadFiles.firstTensor(Self.good, dims: (1 << 31, 1 << 31)), .sizeOverflow),  // 2^62 elements
            (BadFiles.tensorClaiming2To40Elements(Self.good), .expansionRatio),
            // Raw length that agrees with a modest shape but not with the blob: caught by the
            // expansion cap, not by an allocation.
            (BadFiles.firstTensor(Self.good, dims: (1 << 14, 1 << 14), rawLength: 1 << 30), .expansionRatio),
        ]
        for (bytes, expected) in cases {
            let (kind, largest) = Self.read(bytes)
            #expect(kind == expected)
            #expect(largest <= n, "largest allocation \(largest) for a \(n)-byte file")
        }
    }

    @Test func countsBeyondTheirSection() {
        let n = Self.good.count
        let cases: [(String, UInt64, FormatError.Kind)] = [
            ("META count", 1 << 16, .malformedMetadata),
            ("META count", 1 << 62, .malformedMetadata),
            ("TDIR count", 1 << 20, .malformedDirectory),
            ("TDIR count", (1 << 20) + 1, .tooManyTensors),
            ("TDIR count", UInt64.max, .tooManyTensors),
            ("array count", 1 << 60, .malformedMetadata),
            ("array count", UInt64.max, .malformedMetadata),
            ("string length", 0xFFFF_FFFF, .malformedMetadata),
            ("array string length", 1 << 31, .malformedMetadata),
            ("name length", 0xFFFF_FFFF, .badName),
            ("section length", UInt64.max, .malformedSection),
        ]
        for (label, value, expected) in cases {
            let (kind, largest) = Self.read(Self.edited(label, to: value))
            #expect(kind == expected, "\(label) = \(value)")
            #expect(largest <= n, "\(label) = \(value): largest allocation \(largest) for a \(n)-byte file")
        }
    }

    /// The meter really sees the reader's buffers: on a valid file its largest is at least
    /// the header and the biggest tensor's inflate buffer (raw length + 1), and within
    /// 1032 × the file size.
    @Test func meterSeesTheReadersBuffers() throws {
        let (kind, largest) = Self.read(Self.good)
        #expect(kind == nil)
        let reader = try CheckpointReader(bytes: Self.good, name: "x.ttc")
        let biggest = reader.entries.map { Int($0.rawLength) }.max()!
        #expect(largest >= biggest + 1 && largest >= Int(reader.headerLength))
        #expect(largest <= 1032 * Self.good.count)
    }
}
