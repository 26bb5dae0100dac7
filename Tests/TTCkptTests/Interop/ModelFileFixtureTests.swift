import Foundation
import Testing
@testable import TTAnalysis
@testable import TTCore
@testable import TTFormat
@testable import TTInterop

/// Agreement with the Python packages: every fixture was written by numpy + safetensors or
/// gguf.GGUFWriter, and expected.json holds what those packages read back. Decoded values
/// must equal them bit for bit (for Q8_0/Q4_0: equal gguf.quants.dequantize, which the
/// generator checked equals ggml's reference formula bit for bit).

private typealias M = ModelFixtures
private let expected = ModelFixtures.expected
private func fixture(_ name: String) -> String { ModelFixtures.path(name) }
private func expectedBits(_ e: HeaderJSON) -> (kind: String, bits: [UInt64]) { ModelFixtures.expectedBits(e) }
private func bits(_ v: TensorValues) -> (kind: String, bits: [UInt64]) { ModelFixtures.bits(v) }

/// Compares one tensor's decoded values and stats with an expected.json entry.
func checkValues(_ file: ModelFile, _ entry: HeaderJSON, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let name = entry["name"]!.stringValue!
    let want = expectedBits(entry)
    let got = bits(try file.values(of: name))
    #expect(got.kind == want.kind, "\(name): value type", sourceLocation: sourceLocation)
    #expect(got.bits.count == want.bits.count, "\(name): value count", sourceLocation: sourceLocation)
    if entry["nan_compare_by_class"]?.bool == true {
        // float8 NaN: ml_dtypes picks its own NaN payload when widening; compare NaN-ness
        // there and bits everywhere else.
        for (g, w) in zip(got.bits, want.bits) {
            let gn = Float(bitPattern: UInt32(g)).isNaN, wn = Float(bitPattern: UInt32(w)).isNaN
            #expect(gn == wn && (gn || g == w), "\(name): \(String(g, radix: 16)) vs \(String(w, radix: 16))", sourceLocation: sourceLocation)
        }
    } else {
        #expect(got.bits == want.bits, "\(name): bits differ", sourceLocation: sourceLocation)
    }

    // Stats against numpy on the same values (finite only). Counts, min and max are exact.
    // Mean and std: both sides sum in double in different orders (numpy pairwise, ours
    // blockwise + Chan), so they may differ by a few ulps of the running sums: relative
    // 1e-12 is ~4500 ulps, far above that rounding and far below any real error. Tensors
    // holding ±Double.greatestFiniteMagnitude are left out of mean/std: there any summation
    // order overflows or cancels differently, and numpy's own result is not meaningful.
    let s = try TensorScan.stats(file, tensors: [name], threads: 2)[0].get()
    let e = entry["stats"]!
    #expect(s.count == e["count"]!.int!, sourceLocation: sourceLocation)
    #expect(s.nanCount == e["nan"]!.int!, "\(name)", sourceLocation: sourceLocation)
    #expect(s.positiveInfCount == e["posinf"]!.int!, sourceLocation: sourceLocation)
    #expect(s.negativeInfCount == e["neginf"]!.int!, sourceLocation: sourceLocation)
    #expect(s.zeroCount == e["zero"]!.int!, "\(name)", sourceLocation: sourceLocation)
    if let min = e["min"]?.double {
        #expect(s.min == min && s.max == e["max"]!.double!, "\(name)", sourceLocation: sourceLocation)
        if let mean = e["mean"]?.double, let std = e["std"]?.double, Swift.max(Swift.abs(min), Swift.abs(e["max"]!.double!)) < 1e300 {
            #expect(Swift.abs(s.mean! - mean) <= 1e-12 * Swift.max(Swift.abs(mean), std, 1e-300), "\(name): mean \(s.mean!) vs \(mean)", sourceLocation: sourceLocation)
            #expect(Swift.abs(s.std! - std) <= 1e-12 * Swift.max(std, 1e-300), "\(name): std \(s.std!) vs \(std)", sourceLocation: sourceLocation)
        }
    } else {
        #expect(s.min == nil && s.mean == nil, sourceLocation: sourceLocation)
    }
}

@Suite struct SafetensorsFixtureTests {
    @Test(arguments: ["all_dtypes.safetensors", "raw_dtypes.safetensors", "f6.safetensors"])
    func tensorsAndValuesMatchTheReference(_ name: String) throws {
        let want = expected["files"]![name]!
        for mapped in [true, false] {
            let file = try ModelFileOpener.open(path: fixture(name), mapped: mapped)
            #expect(file.formatName == "safetensors")
            let entries = want["tensors"]!.array
            #expect(file.tensors.map(\.name).sorted() == entries.map { $0["name"]!.stringValue! }.sorted())
            for e in entries {
                let t = try #require(file.tensor(named: e["name"]!.stringValue!))
                #expect(t.dtype == e["dtype"]!.stringValue!)
                #expect(t.shape == e["shape"]!.ints)
                #expect(t.byteCount == e["bytes"]!.uint64!)
                #expect(t.decodable == (e["values_hex"] != nil), "\(t.name) decodable")
                if e["values_hex"] != nil {
                    try checkValues(file, e)
                } else {
                    #expect(throws: ModelFileError(path: fixture(name), .valuesNotDecoded(tensor: t.name, dtype: t.dtype))) {
                        try file.values(of: t.name)
                    }
                }
            }
            let meta = want["metadata"]!
            #expect(file.metadata.map(\.key).sorted() == meta.members.map(\.0).sorted())
            for m in file.metadata { #expect(meta[m.key]?.stringValue == m.summary) }
        }
    }

    @Test func everyReferenceDtypeIsKnown() throws {
        // The 22 names of safetensors 0.8.0's Dtype enum, in its order.
        #expect(SafetensorsDType.allCases.map(\.rawValue) == [
            "BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ",
            "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64"])
        // Every decodable dtype and every listed one appears in a fixture written by the package.
        let seen = Set(["all_dtypes.safetensors", "raw_dtypes.safetensors", "f6.safetensors", "sharded"].flatMap {
            expected["files"]![$0]!["tensors"]!.array.map { $0["dtype"]!.stringValue! }
        })
        #expect(Set(SafetensorsDType.allCases.map(\.rawValue)).subtracting(seen) == [], "dtypes without a fixture")
    }
}

@Suite struct ShardedFixtureTests {
    @Test(arguments: ["sharded", "sharded/model.safetensors.index.json"])
    func setMatchesTheReference(_ path: String) throws {
        let want = expected["files"]!["sharded"]!
        let (format, _) = try ModelFileOpener.detect(path: fixture(path))
        #expect(format == .shardedSafetensors)
        let file = try ModelFileOpener.open(path: fixture(path))
        #expect(file.formatName == "safetensors (sharded, 2 shards)")
        #expect(file.metadata.first { $0.key == "total_size" }?.summary == String(want["total_size"]!.int!))
        let entries = want["tensors"]!.array
        #expect(file.tensors.map(\.name).sorted() == entries.map { $0["name"]!.stringValue! }.sorted())
        for e in entries {
            let t = try #require(file.tensor(named: e["name"]!.stringValue!))
            #expect(t.dtype == e["dtype"]!.stringValue! && t.shape == e["shape"]!.ints && t.byteCount == e["bytes"]!.uint64!)
            try checkValues(file, e)
        }
        let set = try ShardedSafetensors(indexPath: fixture("sharded/model.safetensors.index.json"))
        #expect(set.totalSize == want["total_size"]!.uint64!)
        for e in entries {
            #expect(set.shards[set.tensors.first { $0.info.name == e["name"]!.stringValue! }!.shard].name == e["shard"]!.stringValue!)
        }
    }
}

@Suite struct GGUFFixtureTests {
    @Test(arguments: ["model-v3.gguf", "model-v2.gguf"])
    func headerTensorsAndValuesMatchGGUFPy(_ name: String) throws {
        let want = expected["files"]![name]!
        for mapped in [true, false] {
            let gguf = try GGUFFile(path: fixture(name), mapped: mapped)
            #expect(gguf.version == UInt32(want["version"]!.int!))
            #expect(gguf.alignment == UInt32(want["alignment"]!.int!))
            #expect(gguf.dataStart == want["data_offset"]!.uint64!)
            #expect(gguf.isCanonicalLayout)
            let file = ModelFileOpener.view(gguf)
            #expect(file.formatName == "GGUF v\(want["version"]!.int!)")
            let entries = want["tensors"]!.array
            #expect(gguf.tensors.map(\.name) == entries.map { $0["name"]!.stringValue! })
            for e in entries {
                let t = try #require(gguf.tensor(named: e["name"]!.stringValue!))
                #expect(t.type.name == e["dtype"]!.stringValue!)
                #expect(t.dims.map(Int.init) == e["dims"]!.ints, "ggml order")
                #expect(t.shape == e["shape"]!.ints, "row-major = dims reversed")
                #expect(t.byteCount == e["bytes"]!.uint64!)
                #expect(gguf.dataStart + t.offset == e["offset"]!.uint64!)
                #expect((t.type.encoding != nil) == (e["values_hex"] != nil), "\(t.name) decodable")
                if e["values_hex"] != nil { try checkValues(file, e) }
            }
            try checkMetadata(gguf, want["kv"]!.array)
        }
    }

    func checkMetadata(_ gguf: GGUFFile, _ kv: [HeaderJSON]) throws {
        #expect(gguf.metadata.map(\.key) == kv.map { $0["key"]!.stringValue! })
        for e in kv {
            let key = e["key"]!.stringValue!
            let value = try #require(gguf[key])
            let types = e["types"]!.array.map { $0.stringValue! }
            #expect(typeNames(value) == types, "\(key)")
            #expect(flatten(value) == e["value"]!.flattenedScalars, "\(key)")
        }
    }

    /// gguf-py's type list: ["ARRAY", "ARRAY", "INT32"] for an array of arrays of i32.
    func typeNames(_ v: GGUFValue) -> [String] {
        let names: [GGUFValueType: String] = [.uint8: "UINT8", .int8: "INT8", .uint16: "UINT16", .int16: "INT16", .uint32: "UINT32",
                                              .int32: "INT32", .float32: "FLOAT32", .bool: "BOOL", .string: "STRING", .array: "ARRAY",
                                              .uint64: "UINT64", .int64: "INT64", .float64: "FLOAT64"]
        guard case var .array(a) = v else { return [names[v.type]!] }
        var out = ["ARRAY"]
        while case let .array(items) = a, let first = items.first { out.append("ARRAY"); a = first }
        return out + [names[a.elementType]!]
    }

    /// Values as gguf-py's contents() gives them, flattened, floats as bit patterns.
    func flatten(_ v: GGUFValue) -> [String] {
        func arr(_ a: GGUFArray) -> [String] {
            switch a {
            case let .uint8(x): return x.map { "\($0)" }
            case let .int8(x): return x.map { "\($0)" }
            case let .uint16(x): return x.map { "\($0)" }
            case let .int16(x): return x.map { "\($0)" }
            case let .uint32(x): return x.map { "\($0)" }
            case let .int32(x): return x.map { "\($0)" }
            case let .float32(x): return x.map { "\($0.bitPattern)" }
            case let .bool(x): return x.map { "\($0)" }
            case let .string(x): return x
            case let .uint64(x): return x.map { "\($0)" }
            case let .int64(x): return x.map { "\($0)" }
            case let .float64(x): return x.map { "\($0.bitPattern)" }
            case let .array(x): return x.flatMap(arr)
            }
        }
        switch v {
        case let .uint8(x): return ["\(x)"]
        case let .int8(x): return ["\(x)"]
        case let .uint16(x): return ["\(x)"]
        case let .int16(x): return ["\(x)"]
        case let .uint32(x): return ["\(x)"]
        case let .int32(x): return ["\(x)"]
        case let .float32(x): return ["\(x.bitPattern)"]
        case let .bool(x): return ["\(x)"]
        case let .string(x): return [x]
        case let .uint64(x): return ["\(x)"]
        case let .int64(x): return ["\(x)"]
        case let .float64(x): return ["\(x.bitPattern)"]
        case let .array(a): return arr(a)
        }
    }

    @Test func listedTypesShowNameAndSize() throws {
        let file = try ModelFileOpener.open(path: fixture("model-v3.gguf"))
        let t = try #require(file.tensor(named: "q4_k.listed"))
        #expect(t.dtype == "Q4_K" && !t.decodable && t.shape == [1, 256] && t.byteCount == 144)
        #expect(t.storage == "256 values in 144-byte blocks")
        #expect(try ModelFileOpener.open(path: fixture("raw_dtypes.safetensors")).tensor(named: "f4")?.storage == "4 bits")
        #expect(throws: ModelFileError(path: fixture("model-v3.gguf"), .valuesNotDecoded(tensor: "q4_k.listed", dtype: "Q4_K"))) {
            try file.values(of: "q4_k.listed")
        }
        let summary = file.metadata.first { $0.key == "test.string" }!.summary
        #expect(summary == "\"héllo\nwörld \u{2028} ✓\"", "as stored")
        #expect(TerminalText.escaped(summary) == "\"héllo\\nwörld \\u{2028} ✓\"", "escaped when printed: one line")
        #expect(file.metadata.first { $0.key == "test.array.nested" }!.type == "arr[arr[i32]]")
    }

    @Test func typeTableMatchesGGUFPySizes() {
        // Spot checks against gguf-py's GGML_QUANT_SIZES (block, bytes).
        let want: [String: (Int, Int)] = ["Q4_0": (32, 18), "Q8_0": (32, 34), "Q2_K": (256, 84), "Q3_K": (256, 110),
                                          "Q4_K": (256, 144), "Q5_K": (256, 176), "Q6_K": (256, 210), "Q8_K": (256, 292),
                                          "IQ2_XXS": (256, 66), "IQ1_M": (256, 56), "TQ1_0": (256, 54), "MXFP4": (32, 17),
                                          "NVFP4": (64, 36), "Q1_0": (128, 18), "BF16": (1, 2)]
        for (name, (block, bytes)) in want {
            #expect(GGMLType.named(name).map { ($0.blockSize, $0.typeSize) } ?? (0, 0) == (block, bytes), "\(name)")
        }
    }
}

@Suite struct DetectionTests {
    @Test func detectsByContentNotExtension() throws {
        let dir = M.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Fixtures copied under misleading names.
        for (from, to, format) in [("model-v3.gguf", "a.safetensors", ModelFileFormat.gguf),
                                   ("all_dtypes.safetensors", "b.gguf", .safetensors),
                                   ("sharded/model.safetensors.index.json", "c.bin", .shardedSafetensors)] {
            try FileManager.default.copyItem(atPath: fixture(from), toPath: dir + "/" + to)
            #expect(try ModelFileOpener.detect(path: dir + "/" + to).format == format, "\(to)")
        }
        M.write(TTCFormat.magic + [UInt8](repeating: 0, count: 40), to: dir + "/d.gguf")
        #expect(try ModelFileOpener.detect(path: dir + "/d.gguf").format == .ttc)
        // A .ttc goes to the .ttc reader, whose error it then is.
        #expect(throws: FormatError.self) { try ModelFileOpener.open(path: dir + "/d.gguf") }
        // A file cut inside the magic is a truncated .ttc too.
        M.write(Array(TTCFormat.magic.prefix(5)), to: dir + "/cut")
        #expect(try ModelFileOpener.detect(path: dir + "/cut").format == .ttc)
        M.write(Array("\u{89}PNG\r\n\u{1a}\nxxxxxxxxxxxx".utf8), to: dir + "/e.safetensors")
        #expect(throws: ModelFileError(path: dir + "/e.safetensors", .unknownFormat)) { try ModelFileOpener.detect(path: dir + "/e.safetensors") }
        M.write([], to: dir + "/empty")
        #expect(throws: ModelFileError(path: dir + "/empty", .emptyFile)) { try ModelFileOpener.detect(path: dir + "/empty") }
        #expect(throws: ModelFileError(path: dir + "/missing", .io("cannot open: No such file or directory"))) { try ModelFileOpener.detect(path: dir + "/missing") }
        #expect(throws: ModelFileError(path: "/dev/null", .notRegularFile)) { try ModelFileOpener.detect(path: "/dev/null") }
        // A directory with only model.safetensors is that file; an empty one is an error.
        try FileManager.default.createDirectory(atPath: dir + "/single", withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: fixture("all_dtypes.safetensors"), toPath: dir + "/single/model.safetensors")
        #expect(try ModelFileOpener.detect(path: dir + "/single") == (.safetensors, dir + "/single/model.safetensors"))
        try FileManager.default.createDirectory(atPath: dir + "/none", withIntermediateDirectories: false)
        #expect(throws: ModelFileError(path: dir + "/none", .shardNoIndex)) { try ModelFileOpener.detect(path: dir + "/none") }
    }
}

@Suite struct SafetensorsModelDigestTests {
    @Test func shardedAndSingleFileGiveTheSameDigestWhateverTheThreads() throws {
        // The sharded fixture's F32 tensors rewritten as one file and as two shards (the
        // fixture itself also holds F16, I64 and F64 tensors: no tt-ckpt digest).
        #expect(try ModelFileOpener.open(path: M.path("sharded")).safetensorsModelDigest() == nil)
        let hf = try SafetensorsFile(path: M.path("gpt2-hf.safetensors"))
        let tensors = try hf.tensors.map { SafetensorsTensor(name: $0.name, shape: $0.shape, values: try hf.loadFloats($0)) }
        let dir = M.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try SafetensorsWriter.write(tensors, metadata: nil, to: dir + "/one.safetensors")
        try FileManager.default.createDirectory(atPath: dir + "/set", withIntermediateDirectories: false)
        let half = tensors.count / 2
        try SafetensorsWriter.write(Array(tensors[..<half]), metadata: nil, to: dir + "/set/a.safetensors")
        try SafetensorsWriter.write(Array(tensors[half...]), metadata: nil, to: dir + "/set/b.safetensors")
        let map = tensors.enumerated().map { "\"\($0.element.name)\":\"\($0.offset < half ? "a" : "b").safetensors\"" }
        M.write(Array(("{\"weight_map\":{" + map.joined(separator: ",") + "}}").utf8), to: dir + "/set/model.safetensors.index.json")
        let one = try ModelFileOpener.open(path: dir + "/one.safetensors")
        let reference = try SafetensorsFile(path: dir + "/one.safetensors").modelDigest()
        for threads in [1, 2, 5] {
            #expect(try one.safetensorsModelDigest(threads: threads) == reference)
            #expect(try ModelFileOpener.open(path: dir + "/set").safetensorsModelDigest(threads: threads) == reference)
        }
        #expect(try ModelFileOpener.open(path: M.path("model-v3.gguf")).safetensorsModelDigest() == nil)
    }
}
