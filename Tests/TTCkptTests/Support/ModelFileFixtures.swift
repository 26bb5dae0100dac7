import Foundation
import Testing
@testable import TTInterop

/// Tests/Fixtures/modelfiles, written by python/tools/make_modelfile_fixtures.py with numpy,
/// safetensors and gguf, and the builders of crafted (hostile) files.
enum ModelFixtures {
    static let directory = TestPaths.path("Tests/Fixtures/modelfiles")

    static func path(_ name: String) -> String { directory + "/" + name }

    /// expected.json: what the Python packages read from the fixtures.
    static let expected: HeaderJSON = {
        let bytes = try! Array(Data(contentsOf: URL(fileURLWithPath: path("expected.json"))))
        return try! HeaderJSON.parse(bytes)
    }()

    static func hexBytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var it = hex.utf8.makeIterator()
        func nibble(_ c: UInt8) -> UInt8 { c <= 0x39 ? c - 0x30 : c - 0x61 + 10 }
        while let a = it.next(), let b = it.next() { out.append(nibble(a) << 4 | nibble(b)) }
        return out
    }

    /// Expected decoded values as bit patterns (u32 for float32, u64 for float64).
    static func expectedBits(_ entry: HeaderJSON) -> (kind: String, bits: [UInt64]) {
        let kind = entry["kind"]!.stringValue!
        let bytes = hexBytes(entry["values_hex"]!.stringValue!)
        let width = kind == "f64" ? 8 : 4
        let bits = stride(from: 0, to: bytes.count, by: width).map { i in
            (0..<width).reduce(UInt64(0)) { $0 | UInt64(bytes[i + $1]) << (8 * UInt64($1)) }
        }
        return (kind, bits)
    }

    static func bits(_ values: TensorValues) -> (kind: String, bits: [UInt64]) {
        switch values {
        case let .float(v): return ("f32", v.map { UInt64($0.bitPattern) })
        case let .double(v): return ("f64", v.map { $0.bitPattern })
        }
    }

    static func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
    static func le64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
    static func ggufString(_ s: String) -> [UInt8] { le64(UInt64(s.utf8.count)) + Array(s.utf8) }

    /// A safetensors file from a header text (padded with spaces to 8) and a data buffer.
    static func safetensorsBytes(_ header: String, data: [UInt8]) -> [UInt8] {
        var h = Array(header.utf8)
        while h.count % 8 != 0 { h.append(0x20) }
        return le64(UInt64(h.count)) + h + data
    }

    /// The problem a GGUF / safetensors parse of `bytes` throws, or nil if it is accepted.
    static func ggufProblem(_ bytes: [UInt8]) -> ModelFileError.Problem? {
        do { _ = try GGUFFile(source: InMemorySource(bytes, path: "t.gguf")); return nil } catch let e as ModelFileError { return e.problem } catch { return .io("unexpected \(error)") }
    }

    static func safetensorsProblem(_ bytes: [UInt8]) -> ModelFileError.Problem? {
        do { _ = try SafetensorsFile(source: InMemorySource(bytes, path: "t.safetensors")); return nil } catch let e as ModelFileError { return e.problem } catch { return .io("unexpected \(error)") }
    }

    /// A fresh temporary directory.
    static func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "tt-ckpt-modelfiles-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func write(_ bytes: [UInt8], to path: String) {
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }

    static func read(_ name: String) throws -> [UInt8] { try Array(Data(contentsOf: URL(fileURLWithPath: path(name)))) }
}

/// A GGUF file built field by field, for hostile-input tests.
struct GGUFBuilder {
    typealias M = ModelFixtures
    var version: UInt32 = 3
    var tensorCount: UInt64? = nil
    var keyCount: UInt64? = nil
    var kv: [[UInt8]] = []
    var infos: [[UInt8]] = []
    var alignment = 32
    var data: [UInt8] = []

    mutating func key(_ k: String, type: UInt32, _ value: [UInt8]) { kv.append(M.ggufString(k) + M.le32(type) + value) }
    mutating func tensor(_ name: String, dims: [UInt64], type: UInt32, offset: UInt64) {
        infos.append(M.ggufString(name) + M.le32(UInt32(dims.count)) + dims.flatMap(M.le64) + M.le32(type) + M.le64(offset))
    }

    var bytes: [UInt8] {
        var out = Array("GGUF".utf8) + M.le32(version) + M.le64(tensorCount ?? UInt64(infos.count)) + M.le64(keyCount ?? UInt64(kv.count))
        out += kv.flatMap { $0 } + infos.flatMap { $0 }
        while out.count % alignment != 0 { out.append(0) }
        return out + data
    }
}

extension HeaderJSON {
    var array: [HeaderJSON] { if case let .array(a) = self { return a } else { return [] } }
    var members: [(String, HeaderJSON)] { if case let .object(m) = self { return m } else { return [] } }
    var int: Int? { if case let .number(t) = self { return Int(t) } else { return nil } }
    var uint64: UInt64? { if case let .number(t) = self { return UInt64(t) } else { return nil } }
    var double: Double? { if case let .number(t) = self { return Double(t) } else { return nil } }
    var bool: Bool? { if case let .bool(b) = self { return b } else { return nil } }
    var ints: [Int] { array.compactMap(\.int) }

    /// A JSON scalar or array flattened to strings the way GGUF values print.
    var flattenedScalars: [String] {
        switch self {
        case let .array(items): return items.flatMap(\.flattenedScalars)
        case let .number(t): return [t]
        case let .string(s): return [s]
        case let .bool(b): return ["\(b)"]
        default: return ["null"]
        }
    }
}
