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

@Suite struct HostileSafetensorsTests {
    let f32x2 = [UInt8](repeating: 0, count: 8)

    @Test func truncatedAtEveryByte() throws {
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: fixture("all_dtypes.safetensors"))))
        let full = try SafetensorsFile(source: InMemorySource(bytes))
        let n = UInt64(full.headerLength)
        for length in 0..<bytes.count {
            let problem = safetensorsProblem(Array(bytes[0..<length]))
            let l = UInt64(length)
            if l < 8 {
                #expect(problem == .stFileTooShort(l))
            } else if l < 8 + n {
                #expect(problem == .stHeaderPastEnd(length: n, fileSize: l))
            } else {
                #expect(problem == .stDataLengthMismatch(dataLength: l - 8 - n, covered: UInt64(bytes.count) - 8 - n), "prefix \(length)")
            }
        }
        #expect(safetensorsProblem(bytes) == nil)
        #expect(safetensorsProblem(bytes + [0]) == .stDataLengthMismatch(dataLength: UInt64(bytes.count) - 8 - n + 1, covered: UInt64(bytes.count) - 8 - n))
    }

    @Test func headerLength() {
        #expect(safetensorsProblem(le64(1 << 40) + [UInt8](repeating: 0x20, count: 16)) == .stHeaderTooLarge(1 << 40, limit: 100_000_000))
        #expect(safetensorsProblem(le64(UInt64.max)) == .stHeaderTooLarge(UInt64.max, limit: 100_000_000))
        #expect(safetensorsProblem(le64(1) + [0x7B]) == .stHeaderTooShort(1))
        #expect(safetensorsProblem(le64(4) + Array(" {} ".utf8)) == .stHeaderNotObjectStart)
        #expect(safetensorsProblem(safetensorsBytes("[1]", data: [])) == .stHeaderNotObjectStart)
    }

    @Test func headerJSON() {
        guard case .stHeaderJSON? = safetensorsProblem(safetensorsBytes("{\"a\":", data: [])) else { Issue.record("bad JSON"); return }
        let dup = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"
        #expect(safetensorsProblem(safetensorsBytes(dup, data: f32x2)) == .stHeaderJSON("invalid JSON at byte 54: duplicate key 'a'"))
        // Invalid UTF-8 inside a string.
        var h = Array("{\"__metadata__\":{\"k\":\"".utf8) + [0xC0, 0xAF] + Array("\"}}".utf8)
        while h.count % 8 != 0 { h.append(0x20) }
        guard case .stHeaderJSON? = safetensorsProblem(le64(UInt64(h.count)) + h) else { Issue.record("bad UTF-8"); return }
        // 65 dimensions: over the array cap, refused by the parser.
        let deep = "{\"t\":{\"dtype\":\"U8\",\"shape\":[" + Array(repeating: "1", count: 65).joined(separator: ",") + "],\"data_offsets\":[0,1]}}"
        guard case let .stHeaderJSON(text)? = safetensorsProblem(safetensorsBytes(deep, data: [0])), text.contains("more than 64 items") else {
            Issue.record("rank 65"); return
        }
        // Nesting 65 deep.
        let nested = "{\"__metadata__\":" + String(repeating: "[", count: 70) + String(repeating: "]", count: 70) + "}"
        guard case let .stHeaderJSON(text2)? = safetensorsProblem(safetensorsBytes(nested, data: [])), text2.contains("nesting deeper") else {
            Issue.record("nesting"); return
        }
    }

    @Test func entries() {
        func one(_ entry: String, _ data: [UInt8] = []) -> ModelFileError.Problem? { safetensorsProblem(safetensorsBytes("{\"t\":\(entry)}", data: data)) }
        #expect(safetensorsProblem(safetensorsBytes("{\"__metadata__\":[1]}", data: [])) == .stMetadataNotObject)
        #expect(safetensorsProblem(safetensorsBytes("{\"__metadata__\":{\"k\":1}}", data: [])) == .stMetadataValueNotString(key: "k"))
        #expect(safetensorsProblem(safetensorsBytes("{\"__metadata__\":null}", data: [])) == nil)
        #expect(one("[]") == .stEntryNotObject(tensor: "t"))
        #expect(one("{\"shape\":[],\"data_offsets\":[0,4]}") == .stMissingDtype(tensor: "t"))
        #expect(one("{\"dtype\":\"F128\",\"shape\":[],\"data_offsets\":[0,4]}") == .stUnknownDtype(tensor: "t", dtype: "F128"))
        #expect(one("{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}") == .stBadShape(tensor: "t"))
        #expect(one("{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}") == .stBadShape(tensor: "t"))
        #expect(one("{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}") == .stBadShape(tensor: "t"))
        #expect(one("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}") == .stBadOffsets(tensor: "t"))
        #expect(one("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}") == .stNotContiguous(tensor: "t", begin: 4, end: 0, expected: 0))
        #expect(one("{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}")
                == .stShapeOverflow(tensor: "t", shape: [1 << 32, 1 << 32]))
        #expect(one("{\"dtype\":\"F64\",\"shape\":[2305843009213693952, 2],\"data_offsets\":[0,0]}")
                == .stShapeOverflow(tensor: "t", shape: [1 << 61, 2]))
        #expect(one("{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}", [0, 0]) == .stPartialByte(tensor: "t", dtype: "F4", shape: [3]))
        #expect(one("{\"dtype\":\"F6_E2M3\",\"shape\":[4],\"data_offsets\":[0,3]}", [0, 0, 0]) == nil)
        #expect(one("{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}", f32x2)
                == .stByteLengthMismatch(tensor: "t", dtype: "F32", shape: [3], needed: 12, span: 8))
        // A gap, and two tensors on the same bytes.
        let gap = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}"
        #expect(safetensorsProblem(safetensorsBytes(gap, data: [UInt8](repeating: 0, count: 12))) == .stNotContiguous(tensor: "b", begin: 8, end: 12, expected: 4))
        let overlap = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}"
        #expect(safetensorsProblem(safetensorsBytes(overlap, data: f32x2)) == .stNotContiguous(tensor: "b", begin: 4, end: 8, expected: 8))
        // Offsets past the data: the last END must be the end of the file.
        #expect(one("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", [0, 0, 0, 0]) == .stDataLengthMismatch(dataLength: 4, covered: 8))
    }

    @Test func fuzzEntryPointNeverTraps() throws {
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: fixture("raw_dtypes.safetensors"))))
        for length in 0...bytes.count { #expect(Array(bytes[0..<length]).withUnsafeBytes(ModelFileFuzzing.safetensors)) }
        for i in stride(from: 0, to: bytes.count, by: 3) {
            for v: UInt8 in [0, 0xFF, bytes[i] ^ 0x20] {
                var m = bytes
                m[i] = v
                #expect(m.withUnsafeBytes(ModelFileFuzzing.safetensors), "byte \(i) = \(v)")
            }
        }
    }
}

@Suite struct HostileShardedTests {
    /// A copy of the sharded fixture in a fresh directory, with the index replaced by `index`
    /// when given.
    func shardedCopy(index: String? = nil) throws -> String {
        let dir = temporaryDirectory()
        for name in try FileManager.default.contentsOfDirectory(atPath: fixture("sharded")) {
            try FileManager.default.copyItem(atPath: fixture("sharded/" + name), toPath: dir + "/" + name)
        }
        if let index { write(Array(index.utf8), to: dir + "/model.safetensors.index.json") }
        return dir
    }

    func problem(_ dir: String) -> ModelFileError? {
        do { _ = try ModelFileOpener.open(path: dir); return nil } catch let e as ModelFileError { return e } catch { return nil }
    }

    /// The fixture's index with one change.
    func index(_ edit: (inout [(String, String)], inout String) -> Void) throws -> String {
        let json = try HeaderJSON.parse(Array(Data(contentsOf: URL(fileURLWithPath: fixture("sharded/model.safetensors.index.json")))))
        var map = json["weight_map"]!.members.map { ($0.0, $0.1.stringValue!) }
        var total = json["metadata"]!["total_size"]!.jsonValue.serialized(pretty: false)
        edit(&map, &total)
        let members = map.map { JSONValue.string($0.0).serialized(pretty: false) + ":" + JSONValue.string($0.1).serialized(pretty: false) }
        return "{\"metadata\":{\"total_size\":\(total)},\"weight_map\":{" + members.joined(separator: ",") + "}}"
    }

    @Test func validSetOpens() throws {
        let dir = try shardedCopy(index: try index { _, _ in })
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(problem(dir) == nil)
    }

    @Test func badShardNames() throws {
        for bad in ["../model-00001-of-00002.safetensors", "/etc/passwd", "sub/x.safetensors", "..", ""] {
            let dir = try shardedCopy(index: try index { map, _ in map[0].1 = bad })
            defer { try? FileManager.default.removeItem(atPath: dir) }
            // The index's first entry (sorted keys, as transformers writes them).
            #expect(problem(dir)?.problem == .shardBadName(tensor: "lm_head.weight", file: bad), "\(bad)")
        }
    }

    @Test func symlinkEscapes() throws {
        let outside = temporaryDirectory()
        let dir = try shardedCopy()
        defer { try? FileManager.default.removeItem(atPath: dir); try? FileManager.default.removeItem(atPath: outside) }
        let shard = "model-00002-of-00002.safetensors"
        try FileManager.default.moveItem(atPath: dir + "/" + shard, toPath: outside + "/" + shard)
        try FileManager.default.createSymbolicLink(atPath: dir + "/" + shard, withDestinationPath: outside + "/" + shard)
        let resolved = ShardedSafetensors.realPath(outside + "/" + shard)!
        #expect(problem(dir)?.problem == .shardEscapes(file: shard, resolved: resolved))
    }

    @Test func hubCacheSnapshotLayoutIsAccepted() throws {
        // huggingface_hub: REPO/snapshots/REV/FILE -> ../../blobs/HASH
        let repo = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: repo) }
        try FileManager.default.createDirectory(atPath: repo + "/blobs", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: repo + "/snapshots/abc123", withIntermediateDirectories: true)
        for (i, name) in try FileManager.default.contentsOfDirectory(atPath: fixture("sharded")).enumerated() {
            try FileManager.default.copyItem(atPath: fixture("sharded/" + name), toPath: repo + "/blobs/hash\(i)")
            try FileManager.default.createSymbolicLink(atPath: repo + "/snapshots/abc123/" + name, withDestinationPath: "../../blobs/hash\(i)")
        }
        let file = try ModelFileOpener.open(path: repo + "/snapshots/abc123")
        #expect(file.tensors.count == 5)
    }

    @Test func indexAgainstShards() throws {
        let shard1 = "model-00001-of-00002.safetensors", shard2 = "model-00002-of-00002.safetensors"
        // An index entry naming the wrong shard.
        var dir = try shardedCopy(index: try index { map, _ in
            let i = map.firstIndex { $0.0 == "lm_head.weight" }!
            map[i].1 = shard1
        })
        #expect(problem(dir)?.problem == .shardTensorMissing(tensor: "lm_head.weight", shard: shard1))
        try? FileManager.default.removeItem(atPath: dir)
        // An index entry for a tensor no shard has.
        dir = try shardedCopy(index: try index { map, _ in map.append(("ghost", shard2)) })
        #expect(problem(dir)?.problem == .shardTensorMissing(tensor: "ghost", shard: shard2))
        try? FileManager.default.removeItem(atPath: dir)
        // A shard tensor the index does not list.
        dir = try shardedCopy(index: try index { map, _ in map.removeAll { $0.0 == "model.norm.bias" } })
        #expect(problem(dir)?.problem == .shardTensorNotInIndex(tensor: "model.norm.bias", shard: shard2))
        try? FileManager.default.removeItem(atPath: dir)
        // total_size off by one.
        dir = try shardedCopy(index: try index { _, total in total = String(Int(total)! + 1) })
        let declared = UInt64(ModelFixtures.expected["files"]!["sharded"]!["total_size"]!.int! + 1)
        #expect(problem(dir)?.problem == .shardTotalSizeMismatch(declared: declared, actual: declared - 1))
        try? FileManager.default.removeItem(atPath: dir)
        dir = try shardedCopy(index: try index { _, total in total = "-3" })
        #expect(problem(dir)?.problem == .shardIndexTotalSizeInvalid)
        try? FileManager.default.removeItem(atPath: dir)
        // A tensor in two shards: shard 2 rewritten to also hold shard 1's embedding.
        dir = try shardedCopy()
        let one = try SafetensorsFile(path: fixture("sharded/" + shard1))
        let emb = one.tensor(named: "model.embed.weight")!
        let header = "{\"model.embed.weight\":{\"dtype\":\"F32\",\"shape\":[8,4],\"data_offsets\":[0,\(emb.byteCount)]}}"
        write(safetensorsBytes(header, data: try one.loadBytes(emb)), to: dir + "/" + shard2)
        #expect(problem(dir)?.problem == .shardTensorInTwoShards(tensor: "model.embed.weight", first: shard1, second: shard2))
        try? FileManager.default.removeItem(atPath: dir)
        // A missing shard: the shard's own open error, under its path.
        dir = try shardedCopy()
        try FileManager.default.removeItem(atPath: dir + "/" + shard2)
        #expect(problem(dir) == ModelFileError(path: dir + "/" + shard2, .io("cannot open: No such file or directory")))
        // A damaged shard: its own error, under its path.
        write([1, 2, 3], to: dir + "/" + shard2)
        #expect(problem(dir) == ModelFileError(path: dir + "/" + shard2, .stFileTooShort(3)))
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func indexShape() throws {
        for (text, p) in [("[]", ModelFileError.Problem.shardIndexNotObject), ("{}", .shardIndexNoWeightMap),
                          ("{\"weight_map\":[]}", .shardIndexNoWeightMap),
                          ("{\"metadata\":1,\"weight_map\":{}}", .shardIndexMetadataNotObject),
                          ("{\"weight_map\":{\"a\":1}}", .shardIndexEntryNotString(tensor: "a"))] {
            let dir = try shardedCopy(index: text)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            #expect(problem(dir)?.problem == p, "\(text)")
        }
        let dir = try shardedCopy(index: "{\"weight_map\":{\"a\":")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        guard case .shardIndexJSON? = problem(dir)?.problem else { Issue.record("bad JSON"); return }
        // Two index files and neither is the default: ambiguous.
        try FileManager.default.moveItem(atPath: dir + "/model.safetensors.index.json", toPath: dir + "/a.safetensors.index.json")
        write(Array("{}".utf8), to: dir + "/b.safetensors.index.json")
        #expect(problem(dir)?.problem == .shardSeveralIndexes(["a.safetensors.index.json", "b.safetensors.index.json"]))
    }
}
