import Foundation
import Testing
@testable import TTCore
@testable import TTFormat

/// Files for the end-to-end tests, written through the library's `CheckpointWriter`.
enum AnalysisFiles {
    /// Writes `checkpoint` to `dir/name` and returns the path.
    static func write(_ checkpoint: Checkpoint, _ dir: URL, _ name: String) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try CheckpointWriter.write(checkpoint, to: path)
        return path
    }

    /// Flips one byte in the middle of the stored blob of `tensor`.
    static func corruptBlob(_ path: String, tensor: String) throws {
        let entry = try #require(try CheckpointReader(path: path).entry(named: tensor))
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[Int(entry.offset + entry.storedLength / 2)] ^= 0x5A
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// A file that starts like a PNG image.
    static func png(_ dir: URL) throws -> String {
        let path = dir.appendingPathComponent("picture.png").path
        var bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]
        bytes += [UInt8](repeating: 7, count: 200)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// CRC-32 (IEEE, reflected, as zlib) computed bit by bit: an independent check of the
    /// directory's CRCs.
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
        }
        return ~crc
    }

    static func littleEndianBytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { v -> [UInt8] in
            let b = v.bitPattern
            return [UInt8(b & 0xFF), UInt8((b >> 8) & 0xFF), UInt8((b >> 16) & 0xFF), UInt8(b >> 24)]
        }
    }

    static func parseJSON(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// A JSON number as the Float it stands for (through Double, as Python's json would).
    static func float(_ any: Any?) -> Float? {
        (any as? NSNumber).map { Float($0.doubleValue) }
    }
}
