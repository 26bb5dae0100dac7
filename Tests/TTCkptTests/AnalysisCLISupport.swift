import Foundation
import Testing
@testable import TTCkpt

/// Runs the built `tt-ckpt` binary (private to the inspect/diff tests until the shared
/// runner lands). The binary sits next to the test bundle in `.build/<triple>/debug`, or
/// `$TT_CKPT_BIN` names it.
enum AnalysisCLI {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }
    }

    static let binaryPath: String = {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["TT_CKPT_BIN"], fm.isExecutableFile(atPath: env) { return env }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("tt-ckpt").path
            if fm.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/tt-ckpt").path
    }()

    static func run(_ args: [String]) throws -> Result {
        let scratch = try AnalysisFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let out = scratch.appendingPathComponent("stdout"), err = scratch.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binaryPath)
        process.arguments = args
        process.standardInput = FileHandle.nullDevice
        let outHandle = try FileHandle(forWritingTo: out), errHandle = try FileHandle(forWritingTo: err)
        process.standardOutput = outHandle
        process.standardError = errHandle
        try process.run()
        process.waitUntilExit()
        try outHandle.close()
        try errHandle.close()
        return Result(status: process.terminationStatus,
                      stdout: try String(contentsOf: out, encoding: .utf8),
                      stderr: try String(contentsOf: err, encoding: .utf8))
    }
}

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
