import Foundation
import Testing
@testable import TTCore
@testable import TTFormat
@testable import TTInterop

private typealias M = ModelFixtures
private func fixture(_ name: String) -> String { ModelFixtures.path(name) }
private func le32(_ v: UInt32) -> [UInt8] { ModelFixtures.le32(v) }
private func le64(_ v: UInt64) -> [UInt8] { ModelFixtures.le64(v) }
private func ggufString(_ s: String) -> [UInt8] { ModelFixtures.ggufString(s) }
private func ggufProblem(_ b: [UInt8]) -> ModelFileError.Problem? { ModelFixtures.ggufProblem(b) }
private func safetensorsProblem(_ b: [UInt8]) -> ModelFileError.Problem? { ModelFixtures.safetensorsProblem(b) }
private func safetensorsBytes(_ h: String, data: [UInt8]) -> [UInt8] { ModelFixtures.safetensorsBytes(h, data: data) }
private func write(_ bytes: [UInt8], to path: String) { ModelFixtures.write(bytes, to: path) }
private func temporaryDirectory() -> String { ModelFixtures.temporaryDirectory() }

/// Hostile GGUF files: each gives its own error, names the key or tensor, and never traps or
/// allocates from an unchecked size.
@Suite struct HostileGGUFTests {
    /// A valid file with one F32 tensor of 4 values, for mutating.
    func base(_ edit: (inout GGUFBuilder) -> Void = { _ in }) -> [UInt8] {
        var b = GGUFBuilder()
        b.key("general.architecture", type: 8, ggufString("llama"))
        b.tensor("w", dims: [4], type: 0, offset: 0)
        b.data = [Float](repeating: 1.5, count: 4).flatMap { le32($0.bitPattern) }
        edit(&b)
        return b.bytes
    }

    @Test func baseIsValid() throws {
        let f = try GGUFFile(source: InMemorySource(base()))
        #expect(f.tensors.map(\.name) == ["w"])
        #expect(try f.values(f.tensors[0]) == .float([1.5, 1.5, 1.5, 1.5]))
    }

    @Test(arguments: ["model-v2.gguf", "model-v3.gguf"])
    func truncatedAtEveryByte(_ name: String) throws {
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: fixture(name))))
        let full = try GGUFFile(source: InMemorySource(bytes))
        for length in 0..<bytes.count {
            let problem = ggufProblem(Array(bytes[0..<length]))
            if UInt64(length) < full.headerEnd {
                guard case let .truncated(_, offset, count, size)? = problem else {
                    Issue.record("prefix \(length): \(String(describing: problem))"); continue
                }
                #expect(size == UInt64(length) && offset + count > size, "prefix \(length)")
            } else {
                // Header intact, data cut: the first tensor (in file order) whose bytes are
                // not all there is named. A cut inside the last tensor's trailing padding
                // leaves every tensor whole: such a file is valid.
                guard let cut = full.tensors.first(where: { full.dataStart + $0.offset + $0.byteCount > UInt64(length) }) else {
                    #expect(problem == nil, "prefix \(length)")
                    continue
                }
                #expect(problem == .ggufTensorOutOfFile(tensor: cut.name, offset: cut.offset, bytes: cut.byteCount,
                                                        dataStart: full.dataStart, fileSize: UInt64(length)), "prefix \(length)")
            }
        }
        #expect(ggufProblem(bytes) == nil)
    }

    @Test func headerFields() {
        #expect(ggufProblem(Array("GGUG".utf8) + le32(3) + le64(0) + le64(0)) == .ggufBadMagic)
        #expect(ggufProblem(Array("GG".utf8)) == .truncated(what: "the magic", offset: 0, count: 4, size: 2))
        for (v, p) in [(UInt32(0), ModelFileError.Problem.ggufUnsupportedVersion(0)), (1, .ggufVersion1), (4, .ggufUnsupportedVersion(4)),
                       (0x0300_0000, .ggufBigEndian(0x0300_0000))] {
            #expect(ggufProblem(base { $0.version = v }) == p, "version \(v)")
        }
        #expect(ggufProblem(base { $0.tensorCount = 1 << 63 }) == .ggufTooManyTensors(1 << 63, limit: GGUFFile.maxTensors))
        #expect(ggufProblem(base { $0.keyCount = 1 << 40 }) == .ggufTooManyKeys(1 << 40, limit: GGUFFile.maxKeys))
        // Counts under the caps but beyond the file: plain truncation, found field by field.
        var noTensors = GGUFBuilder()
        noTensors.tensorCount = 1000
        noTensors.alignment = 1
        #expect(ggufProblem(noTensors.bytes) == .truncated(what: "the name length of tensor info 0", offset: 24, count: 8, size: 24))
        var empty = GGUFBuilder()
        empty.keyCount = 1_000_000
        empty.alignment = 1
        #expect(ggufProblem(empty.bytes) == .truncated(what: "the key length of metadata entry 0", offset: 24, count: 8, size: 24))
    }

    @Test func keys() {
        // Key length 2^62: refused before any allocation.
        var b = GGUFBuilder()
        b.kv = [le64(1 << 62)]
        #expect(ggufProblem(b.bytes) == .ggufKeyTooLong(index: 0, length: 1 << 62, limit: 65_535))
        #expect(ggufProblem(base { $0.key("", type: 4, le32(1)) }) == .ggufEmptyKey(index: 1))
        #expect(ggufProblem(base { $0.kv.append(le64(2) + [0xC3, 0x28] + le32(4) + le32(1)) }) == .ggufKeyNotUTF8(index: 1))
        #expect(ggufProblem(base { $0.key("general.architecture", type: 4, le32(1)) }) == .ggufDuplicateKey("general.architecture"))
        #expect(ggufProblem(base { $0.key("k", type: 13, []) }) == .ggufInvalidValueType(key: "k", type: 13))
        #expect(ggufProblem(base { $0.key("k", type: 7, [2]) }) == .ggufInvalidBool(key: "k", byte: 2))
    }

    @Test func stringsAndArrays() {
        #expect(ggufProblem(base { $0.key("s", type: 8, le64(1 << 40)) }) == .ggufStringTooLong(key: "s", length: 1 << 40, limit: GGUFFile.maxStringLength))
        guard case let .truncated(what, _, count, _)? = ggufProblem(base { $0.key("s", type: 8, le64(5000)) }), count == 5000 else {
            Issue.record("string past the end"); return
        }
        #expect(what == "a string in 's'")
        #expect(ggufProblem(base { $0.key("s", type: 8, le64(2) + [0xFF, 0xFE]) }) == .ggufStringNotUTF8(key: "s"))
        // Array of 2^60 u8: over the cap. Array of 10^7 u64 in a tiny file: truncation,
        // decided from count × 8 before anything is allocated.
        #expect(ggufProblem(base { $0.key("a", type: 9, le32(0) + le64(1 << 60)) }) == .ggufArrayTooLong(key: "a", count: 1 << 60, limit: GGUFFile.maxArrayLength))
        guard case let .truncated(_, _, count2, _)? = ggufProblem(base { $0.key("a", type: 9, le32(10) + le64(10_000_000)) }), count2 == 80_000_000 else {
            Issue.record("array past the end"); return
        }
        // 10^7 empty strings would need 8 bytes each: same check.
        guard case .truncated? = ggufProblem(base { $0.key("a", type: 9, le32(8) + le64(10_000_000)) }) else { Issue.record("string array"); return }
        #expect(ggufProblem(base { $0.key("a", type: 9, le32(99) + le64(1)) }) == .ggufInvalidValueType(key: "a", type: 99))
        #expect(ggufProblem(base { $0.key("a", type: 9, le32(7) + le64(3) + [1, 0, 5]) }) == .ggufInvalidBool(key: "a", byte: 5))
        // Nesting: 8 levels of arrays are read, a 9th is refused.
        func nested(_ depth: Int) -> [UInt8] { depth == 1 ? le32(4) + le64(1) + le32(7) : le32(9) + le64(1) + nested(depth - 1) }
        #expect(ggufProblem(base { $0.key("n", type: 9, nested(8)) }) == nil)
        #expect(ggufProblem(base { $0.key("n", type: 9, nested(9)) }) == .ggufArrayTooDeep(key: "n", limit: 8))
        // An empty array of arrays is fine.
        #expect(ggufProblem(base { $0.key("e", type: 9, le32(9) + le64(0)) }) == nil)
    }

    @Test func alignment() throws {
        #expect(ggufProblem(base { $0.key("general.alignment", type: 10, le64(32)) }) == .ggufAlignmentType(type: "u64"))
        #expect(ggufProblem(base { $0.key("general.alignment", type: 4, le32(48)) }) == .ggufAlignmentInvalid(48))
        #expect(ggufProblem(base { $0.key("general.alignment", type: 4, le32(0)) }) == .ggufAlignmentInvalid(0))
        let f = try GGUFFile(source: InMemorySource(base { $0.key("general.alignment", type: 4, le32(256)); $0.alignment = 256 }))
        #expect(f.alignment == 256 && f.dataStart % 256 == 0)
        // 2^31: the padded data start lies past the file, so the tensor is outside it.
        guard case .ggufTensorOutOfFile? = ggufProblem(base { $0.key("general.alignment", type: 4, le32(1 << 31)) }) else {
            Issue.record("huge alignment"); return
        }
    }

    @Test func tensorInfos() {
        let long = String(repeating: "x", count: 64)
        #expect(ggufProblem(base { $0.tensor(long, dims: [1], type: 0, offset: 32) }) == .ggufTensorNameTooLong(index: 1, length: 64, limit: 63))
        #expect(ggufProblem(base { $0.tensor("w", dims: [1], type: 0, offset: 32) }) == .ggufDuplicateTensor("w"))
        #expect(ggufProblem(base { $0.infos.append(le64(1) + [0xFF] + le32(1) + le64(1) + le32(0) + le64(0)) }) == .ggufTensorNameNotUTF8(index: 1))
        #expect(ggufProblem(base { $0.tensor("t", dims: [1, 1, 1, 1, 1], type: 0, offset: 32) }) == .ggufTooManyDimensions(tensor: "t", count: 5, limit: 4))
        #expect(ggufProblem(base { $0.infos = [ggufString("t") + le32(0xFFFF_FFFF)] }) == .ggufTooManyDimensions(tensor: "t", count: 0xFFFF_FFFF, limit: 4))
        #expect(ggufProblem(base { $0.tensor("t", dims: [1 << 63], type: 0, offset: 32) }) == .ggufDimensionTooLarge(tensor: "t", index: 0, value: 1 << 63))
        #expect(ggufProblem(base { $0.tensor("t", dims: [1 << 32, 1 << 32], type: 0, offset: 32) }) == .ggufElementCountOverflow(tensor: "t", dims: [1 << 32, 1 << 32]))
        #expect(ggufProblem(base { $0.tensor("t", dims: [1 << 62, 2, 2], type: 0, offset: 32) }) == .ggufElementCountOverflow(tensor: "t", dims: [1 << 62, 2, 2]))
        #expect(ggufProblem(base { $0.tensor("t", dims: [1], type: 99, offset: 32) }) == .ggufUnknownType(tensor: "t", type: 99))
        #expect(ggufProblem(base { $0.tensor("t", dims: [32], type: 4, offset: 32) }) == .ggufRemovedType(tensor: "t", type: 4, name: "Q4_2"))
        #expect(ggufProblem(base { $0.tensor("t", dims: [33], type: 8, offset: 32) }) == .ggufRowNotMultipleOfBlock(tensor: "t", type: "Q8_0", rowLength: 33, blockSize: 32))
        // 2^61 F64 elements fit in Int64 but their bytes (2^64) do not.
        #expect(ggufProblem(base { $0.tensor("t", dims: [1 << 61], type: 28, offset: 32) }) == .ggufByteSizeOverflow(tensor: "t"))
    }

    @Test func offsets() throws {
        let dataStart = try GGUFFile(source: InMemorySource(base())).dataStart
        #expect(ggufProblem(base { $0.infos = []; $0.tensor("t", dims: [4], type: 0, offset: 4) }) == .ggufOffsetMisaligned(tensor: "t", offset: 4, alignment: 32))
        #expect(ggufProblem(base { $0.infos = []; $0.tensor("t", dims: [4], type: 0, offset: 1 << 40) })
                == .ggufTensorOutOfFile(tensor: "t", offset: 1 << 40, bytes: 16, dataStart: dataStart, fileSize: dataStart + 16))
        // Offset + start would wrap around 2^64.
        let top = UInt64.max / 32 * 32
        #expect(ggufProblem(base { $0.infos = []; $0.tensor("t", dims: [4], type: 0, offset: top) })
                == .ggufTensorOutOfFile(tensor: "t", offset: top, bytes: 16, dataStart: dataStart, fileSize: dataStart + 16))
        // Two tensors on the same bytes: the later one (in file order) is named.
        var b = GGUFBuilder()
        b.tensor("first", dims: [8], type: 0, offset: 0)
        b.tensor("second", dims: [4], type: 0, offset: 0)
        b.data = [UInt8](repeating: 0, count: 32)
        #expect(ggufProblem(b.bytes) == .ggufTensorsOverlap(tensor: "second", other: "first"))
        b.infos = []
        b.tensor("a", dims: [4], type: 0, offset: 32)
        b.tensor("b", dims: [16], type: 0, offset: 0)
        b.data = [UInt8](repeating: 0, count: 64)
        #expect(ggufProblem(b.bytes) == .ggufTensorsOverlap(tensor: "b", other: "a"))
        // Zero-size tensors anywhere inside, and out-of-order offsets without overlap, are
        // accepted (gguf-py reads them), but are not ggml's canonical layout.
        b.infos = []
        b.tensor("a", dims: [8], type: 0, offset: 32)
        b.tensor("b", dims: [8], type: 0, offset: 0)
        b.tensor("empty", dims: [0, 3], type: 0, offset: 32)
        let f = try GGUFFile(source: InMemorySource(b.bytes))
        #expect(!f.isCanonicalLayout && f.tensors.count == 3)
    }

    @Test func namesAreEscapedInMessages() {
        let e = ModelFileError(path: "m\u{1b}.gguf", .ggufTensorsOverlap(tensor: "a\nb", other: "c\u{202e}d"))
        #expect(e.description == "m\\u{1b}.gguf: tensor 'a\\nb': data overlaps tensor 'c\\u{202e}d'")
        #expect(!e.description.contains("\n"))
    }

    @Test func fuzzEntryPointNeverTraps() throws {
        // Every truncation and every single-byte change of a small valid file (the bytes a
        // mutating fuzzer touches first) through the libFuzzer entry point.
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: fixture("model-v2.gguf"))))
        for length in 0...bytes.count { #expect(Array(bytes[0..<length]).withUnsafeBytes(ModelFileFuzzing.gguf)) }
        for i in 0..<bytes.count {
            for v: UInt8 in [0, 0xFF, bytes[i] ^ 0x80, bytes[i] &+ 1] {
                var m = bytes
                m[i] = v
                #expect(m.withUnsafeBytes(ModelFileFuzzing.gguf), "byte \(i) = \(v)")
            }
        }
    }
}
