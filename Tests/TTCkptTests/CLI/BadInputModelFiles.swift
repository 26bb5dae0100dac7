import Foundation
@testable import TTCore
@testable import TTInterop

/// The hostile GGUF, safetensors and sharded-set inputs of spec/BAD-INPUT.md (rows gguf-*,
/// st-*, shard-*, detect-*), written into BadInputTests' fixture directory. Every file is
/// crafted from the fixtures the Python packages wrote (Tests/Fixtures/modelfiles) or field
/// by field (`GGUFBuilder`), as in HostileGGUFTests and HostileSafetensorsTests.
enum BadModelFiles {
    typealias M = ModelFixtures
    typealias Add = (_ id: String, _ input: String, _ args: [String], _ prepare: (@Sendable (String) throws -> Void)?) -> Void

    /// A valid GGUF file with one F32 tensor `blk.0.attn_q.weight` of 4 values, edited.
    static func gguf(_ edit: (inout GGUFBuilder) -> Void = { _ in }) -> [UInt8] {
        var b = GGUFBuilder()
        b.key("general.architecture", type: 8, M.ggufString("llama"))
        b.tensor("blk.0.attn_q.weight", dims: [4], type: 0, offset: 0)
        b.data = [Float](repeating: 1.5, count: 4).flatMap { M.le32($0.bitPattern) }
        edit(&b)
        return b.bytes
    }

    /// Like `gguf` but with the given tensor infos only.
    static func ggufTensors(_ edit: (inout GGUFBuilder) -> Void) -> [UInt8] {
        gguf { $0.infos = []; edit(&$0) }
    }

    static let f32x4 = [UInt8](repeating: 0, count: 16)

    static func write(into dir: String) {
        func put(_ name: String, _ bytes: [UInt8]) { M.write(bytes, to: dir + "/" + name) }
        // GGUF.
        let v3 = try! M.read("model-v3.gguf")
        put("model.gguf", v3)
        put("cut-meta.gguf", Array(v3[0..<1000]))
        put("cut-data.gguf", Array(v3[0..<2000]))
        put("cut-magic.gguf", Array(v3[0..<6]))
        put("version1.gguf", gguf { $0.version = 1 })
        put("version4.gguf", gguf { $0.version = 4 })
        put("big-endian.gguf", gguf { $0.version = 0x0300_0000 })
        put("tensor-count.gguf", gguf { $0.tensorCount = 1 << 63 })
        put("key-count.gguf", gguf { $0.keyCount = 1 << 40 })
        put("key-length.gguf", gguf { $0.kv.append(M.le64(1 << 62)) })
        put("duplicate-key.gguf", gguf { $0.key("general.architecture", type: 8, M.ggufString("gpt2")) })
        put("value-type.gguf", gguf { $0.key("general.name", type: 13, []) })
        put("bool.gguf", gguf { $0.key("general.flag", type: 7, [2]) })
        put("string-length.gguf", gguf { $0.key("general.name", type: 8, M.le64(1 << 40)) })
        put("array-length.gguf", gguf { $0.key("tokenizer.ggml.tokens", type: 9, M.le32(8) + M.le64(1 << 60)) })
        put("array-bytes.gguf", gguf { $0.key("tokenizer.ggml.scores", type: 9, M.le32(10) + M.le64(10_000_000)) })
        func nested(_ depth: Int) -> [UInt8] { depth == 1 ? M.le32(4) + M.le64(1) + M.le32(7) : M.le32(9) + M.le64(1) + nested(depth - 1) }
        put("nested.gguf", gguf { $0.key("general.nested", type: 9, nested(9)) })
        put("alignment-type.gguf", gguf { $0.key("general.alignment", type: 10, M.le64(32)) })
        put("alignment-48.gguf", gguf { $0.key("general.alignment", type: 4, M.le32(48)) })
        put("long-name.gguf", gguf { $0.tensor(String(repeating: "x", count: 64), dims: [1], type: 0, offset: 32) })
        put("duplicate-tensor.gguf", gguf { $0.tensor("blk.0.attn_q.weight", dims: [4], type: 0, offset: 32) })
        put("dims-5.gguf", ggufTensors { $0.tensor("t", dims: [1, 1, 1, 1, 1], type: 0, offset: 0) })
        put("dim-huge.gguf", ggufTensors { $0.tensor("t", dims: [1 << 63], type: 0, offset: 0) })
        put("dims-overflow.gguf", ggufTensors { $0.tensor("t", dims: [1 << 32, 1 << 32], type: 0, offset: 0) })
        put("type-99.gguf", ggufTensors { $0.tensor("t", dims: [4], type: 99, offset: 0) })
        put("type-removed.gguf", ggufTensors { $0.tensor("t", dims: [32], type: 4, offset: 0) })
        put("q8-row.gguf", ggufTensors { $0.tensor("t", dims: [33], type: 8, offset: 0) })
        put("bytes-overflow.gguf", ggufTensors { $0.tensor("t", dims: [1 << 61], type: 28, offset: 0) })
        put("misaligned.gguf", ggufTensors { $0.tensor("blk.0.attn_q.weight", dims: [4], type: 0, offset: 4) })
        put("offset-past-end.gguf", ggufTensors { $0.tensor("blk.0.attn_q.weight", dims: [4], type: 0, offset: 1 << 40) })
        put("overlap.gguf", ggufTensors {
            $0.tensor("blk.0.attn_q.weight", dims: [4], type: 0, offset: 0)
            $0.tensor("blk.0.attn_k.weight", dims: [4], type: 0, offset: 0)
        })
        put("evil-name.gguf", ggufTensors { $0.tensor("evil\n\u{1b}[2Jname", dims: [4], type: 0, offset: 4) })

        // safetensors, from the export of m.ttc (m.safetensors, written by the template).
        let st = try! Array(Data(contentsOf: URL(fileURLWithPath: dir + "/m.safetensors")))
        let n = Int(HostileMutationTests.le(st, 0, 8))
        put("short.safetensors", Array(st[0..<7]))
        put("cut-header.safetensors", Array(st[0..<100]))
        put("cut-data.safetensors", Array(st[0..<(st.count - 10)]))
        put("appended.safetensors", st + [0])
        var huge = st
        for i in 0..<8 { huge[i] = UInt8(truncatingIfNeeded: UInt64(1 << 40) >> (8 * UInt64(i))) }
        put("header-2-40.safetensors", huge)
        put("not-object.safetensors", M.safetensorsBytes("[1,2,3]", data: []))
        put("bad-json.safetensors", M.safetensorsBytes("{\"w\":{\"dtype\":\"F32\",", data: []))
        func one(_ entry: String, _ data: [UInt8]) -> [UInt8] { M.safetensorsBytes("{\"w\":\(entry)}", data: data) }
        put("duplicate.safetensors", M.safetensorsBytes(
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
            data: [UInt8](repeating: 0, count: 8)))
        put("dtype.safetensors", one("{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}", f32x4))
        put("negative-dim.safetensors", one("{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}", [0, 0, 0, 0]))
        put("gap.safetensors", M.safetensorsBytes(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
            data: [UInt8](repeating: 0, count: 12)))
        put("overlap.safetensors", M.safetensorsBytes(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
            data: [UInt8](repeating: 0, count: 8)))
        put("shape-overflow.safetensors", one("{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}", []))
        put("span.safetensors", one("{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}", [UInt8](repeating: 0, count: 8)))
        put("f4-odd.safetensors", one("{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}", [0, 0]))
        put("metadata.safetensors", M.safetensorsBytes("{\"__metadata__\":{\"format\":1}}", data: []))
        _ = n

        // Sharded sets: copies of the fixture set, each with one fault.
        let shard1 = "model-00001-of-00002.safetensors", shard2 = "model-00002-of-00002.safetensors"
        let fm = FileManager.default
        func set(_ name: String, index: String? = nil, _ edit: (String) -> Void = { _ in }) {
            let d = dir + "/" + name
            try! fm.createDirectory(atPath: d, withIntermediateDirectories: false)
            for f in [shard1, shard2, "model.safetensors.index.json"] {
                try! fm.copyItem(atPath: M.path("sharded/" + f), toPath: d + "/" + f)
            }
            if let index { M.write(Array(index.utf8), to: d + "/model.safetensors.index.json") }
            edit(d)
        }
        /// The fixture's index with its weight map edited; total_size as given.
        func index(total: String = "320", _ edit: (inout [(String, String)]) -> Void = { _ in }) -> String {
            let json = try! HeaderJSON.parse(Array(Data(contentsOf: URL(fileURLWithPath: M.path("sharded/model.safetensors.index.json")))))
            var map = json["weight_map"]!.members.map { ($0.0, $0.1.stringValue!) }
            edit(&map)
            let members = map.map { JSONValue.string($0.0).serialized(pretty: false) + ":" + JSONValue.string($0.1).serialized(pretty: false) }
            return "{\"metadata\":{\"total_size\":\(total)},\"weight_map\":{" + members.joined(separator: ",") + "}}"
        }
        try! fm.createDirectory(atPath: dir + "/no-index", withIntermediateDirectories: false)
        M.write(Array("{}".utf8), to: dir + "/no-index/config.json")
        set("two-indexes") { d in
            try! fm.moveItem(atPath: d + "/model.safetensors.index.json", toPath: d + "/a.safetensors.index.json")
            M.write(Array("{}".utf8), to: d + "/b.safetensors.index.json")
        }
        set("index-json", index: "{\"weight_map\":{\"a\":")
        set("no-weight-map", index: "{\"metadata\":{}}")
        set("entry-type", index: "{\"weight_map\":{\"a\":1}}")
        set("dotdot", index: index { $0[0].1 = "../" + shard1 })
        set("absolute", index: index { $0[0].1 = "/etc/passwd" })
        // "symlink": its shard 2 becomes a link out of the directory in the row's own copy
        // (`linkOut`), so the link resolves there.
        set("symlink")
        set("missing-shard") { d in try! fm.removeItem(atPath: d + "/" + shard2) }
        set("damaged-shard") { d in M.write([1, 2, 3], to: d + "/" + shard2) }
        set("ghost", index: index { $0.append(("ghost", shard2)) })
        set("unlisted", index: index { map in map.removeAll { $0.0 == "model.norm.bias" } })
        set("two-shards") { d in
            let one = try! SafetensorsFile(path: M.path("sharded/" + shard1))
            let emb = one.tensor(named: "model.embed.weight")!
            let header = "{\"model.embed.weight\":{\"dtype\":\"F32\",\"shape\":[8,4],\"data_offsets\":[0,\(emb.byteCount)]}}"
            M.write(M.safetensorsBytes(header, data: try! one.loadBytes(emb)), to: d + "/" + shard2)
        }
        set("total-size", index: index(total: "321"))
        set("total-negative", index: index(total: "-320"))

        // Detection and decoding.
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]
        png += [UInt8](repeating: 7, count: 200)
        put("picture.safetensors", png)
        put("empty.gguf", [])
        // gpt2 names with no c_attn.weight: diff cannot tell transformers' layout from nanoGPT's.
        let hf = try! SafetensorsFile(path: M.path("gpt2-hf.safetensors"))
        let kept = hf.tensors.filter { !$0.name.hasSuffix("c_attn.weight") }
        let tensors = kept.map { SafetensorsTensor(name: $0.name, shape: $0.shape, values: try! hf.loadFloats($0)) }
        put("gpt2-partial.safetensors", SafetensorsWriter.serialize(tensors, metadata: nil))
        let canonical = try! SafetensorsFile(path: M.path("gpt2-nanogpt.safetensors")).tensors.compactMap { t -> SafetensorsTensor? in
            guard let m = GPT2Naming.nanoGPT.canonicalName(for: t.name) else { return nil }
            return SafetensorsTensor(name: m.canonical, shape: t.shape, values: [Float](repeating: 0, count: t.elementCount))
        }
        put("gpt2-canonical.safetensors", SafetensorsWriter.serialize(canonical, metadata: nil))
    }

    /// Moves symlink/'s second shard to elsewhere/ and links it back.
    @Sendable static func linkOut(_ dir: String) throws {
        let shard2 = "model-00002-of-00002.safetensors"
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/elsewhere", withIntermediateDirectories: false)
        try fm.moveItem(atPath: dir + "/symlink/" + shard2, toPath: dir + "/elsewhere/" + shard2)
        try fm.createSymbolicLink(atPath: dir + "/symlink/" + shard2, withDestinationPath: "../elsewhere/" + shard2)
    }

    static func rows(_ addRow: Add) {
        func add(_ id: String, _ input: String, _ args: [String]) { addRow(id, input, args, id == "shard-8" ? linkOut : nil) }
        let g: [(String, String, String)] = [
            ("gguf-1", "model-v3 fixture cut to 1000 bytes (inside the metadata)", "cut-meta.gguf"),
            ("gguf-2", "model-v3 fixture cut to 2000 bytes (inside the data)", "cut-data.gguf"),
            ("gguf-3", "GGUF magic, cut inside the version", "cut-magic.gguf"),
            ("gguf-4", "version 1", "version1.gguf"),
            ("gguf-5", "version 4", "version4.gguf"),
            ("gguf-6", "big-endian file", "big-endian.gguf"),
            ("gguf-7", "tensor count 2^63", "tensor-count.gguf"),
            ("gguf-8", "key count 2^40", "key-count.gguf"),
            ("gguf-9", "key length 2^62", "key-length.gguf"),
            ("gguf-10", "duplicate key", "duplicate-key.gguf"),
            ("gguf-11", "value type 13", "value-type.gguf"),
            ("gguf-12", "bool byte 2", "bool.gguf"),
            ("gguf-13", "string length 2^40", "string-length.gguf"),
            ("gguf-14", "array length 2^60", "array-length.gguf"),
            ("gguf-15", "array of 10^7 u64 in a small file", "array-bytes.gguf"),
            ("gguf-16", "arrays nested 9 deep", "nested.gguf"),
            ("gguf-17", "general.alignment of type u64", "alignment-type.gguf"),
            ("gguf-18", "general.alignment 48", "alignment-48.gguf"),
            ("gguf-19", "tensor name of 64 bytes", "long-name.gguf"),
            ("gguf-20", "duplicate tensor name", "duplicate-tensor.gguf"),
            ("gguf-21", "5 dimensions", "dims-5.gguf"),
            ("gguf-22", "dimension 2^63", "dim-huge.gguf"),
            ("gguf-23", "dims 2^32 × 2^32", "dims-overflow.gguf"),
            ("gguf-24", "unknown ggml type 99", "type-99.gguf"),
            ("gguf-25", "removed ggml type 4", "type-removed.gguf"),
            ("gguf-26", "Q8_0 row of 33", "q8-row.gguf"),
            ("gguf-27", "byte size overflow (2^61 F64)", "bytes-overflow.gguf"),
            ("gguf-28", "misaligned offset", "misaligned.gguf"),
            ("gguf-29", "offset past the end", "offset-past-end.gguf"),
            ("gguf-30", "two tensors on the same bytes", "overlap.gguf"),
            ("gguf-31", "control characters in a tensor name", "evil-name.gguf"),
        ]
        for (id, input, file) in g { add(id, input, ["inspect", file]) }
        add("gguf-32", "--stats of a file cut inside the data", ["inspect", "cut-data.gguf", "--stats"])
        add("gguf-33", "diff against a file cut inside the data", ["diff", "model.gguf", "cut-data.gguf"])

        let s: [(String, String, String)] = [
            ("st-2", "cut inside the header", "cut-header.safetensors"),
            ("st-3", "cut inside the data", "cut-data.safetensors"),
            ("st-4", "a byte appended", "appended.safetensors"),
            ("st-5", "header length 2^40", "header-2-40.safetensors"),
            ("st-7", "invalid JSON", "bad-json.safetensors"),
            ("st-8", "duplicate tensor name", "duplicate.safetensors"),
            ("st-9", "unknown dtype", "dtype.safetensors"),
            ("st-10", "negative dimension", "negative-dim.safetensors"),
            ("st-11", "gap between tensors", "gap.safetensors"),
            ("st-12", "overlapping tensors", "overlap.safetensors"),
            ("st-13", "shape overflows", "shape-overflow.safetensors"),
            ("st-14", "shape and offsets disagree", "span.safetensors"),
            ("st-15", "F4 with an odd element count", "f4-odd.safetensors"),
            ("st-16", "__metadata__ value not a string", "metadata.safetensors"),
        ]
        // st-1 and st-6 have no safetensors signature (detection says so: detect-1); import
        // reads its input as safetensors directly.
        add("st-1", "7 bytes (import)", ["import", "short.safetensors", "x.ttc"])
        for (id, input, file) in s { add(id, input, ["inspect", file]) }
        add("st-6", "header not a JSON object (import)", ["import", "not-object.safetensors", "x.ttc"])
        add("st-17", "diff against a file cut inside the data", ["diff", "m.safetensors", "cut-data.safetensors"])

        let d: [(String, String, String)] = [
            ("shard-1", "directory without an index or model.safetensors", "no-index"),
            ("shard-2", "two index files, neither the default", "two-indexes"),
            ("shard-3", "index is not JSON", "index-json"),
            ("shard-4", "index without weight_map", "no-weight-map"),
            ("shard-5", "weight_map value not a string", "entry-type"),
            ("shard-6", "shard name with ..", "dotdot"),
            ("shard-7", "absolute shard name", "absolute"),
            ("shard-8", "shard is a symlink out of the directory", "symlink"),
            ("shard-9", "shard file missing", "missing-shard"),
            ("shard-10", "shard file damaged (3 bytes)", "damaged-shard"),
            ("shard-11", "index names a tensor the shard lacks", "ghost"),
            ("shard-12", "shard holds a tensor the index omits", "unlisted"),
            ("shard-13", "tensor in two shards", "two-shards"),
            ("shard-14", "total_size off by one", "total-size"),
            ("shard-15", "total_size negative", "total-negative"),
        ]
        for (id, input, dir) in d { add(id, input, ["inspect", dir]) }
        add("shard-16", "index file named directly (total_size off by one)", ["inspect", "total-size/model.safetensors.index.json"])

        add("detect-1", "PNG bytes named picture.safetensors", ["inspect", "picture.safetensors"])
        add("detect-2", "empty file named empty.gguf", ["inspect", "empty.gguf"])
        add("detect-4", "--tensor whose values are not decoded (Q4_K)", ["inspect", "model.gguf", "--tensor", "q4_k.listed"])
        add("detect-5", "--tensor unknown name in a GGUF file", ["inspect", "model.gguf", "--tensor", "nosuch"])
        add("inspect-5", "--depth 0", ["inspect", "model.gguf", "--tree", "--depth", "0"])
        add("inspect-6", "--depth without --tree", ["inspect", "model.gguf", "--depth", "2"])
        add("inspect-7", "--threads 0", ["inspect", "model.gguf", "--stats", "--threads", "0"])
        add("diff-8", "--map unknown", ["diff", "m.ttc", "m.safetensors", "--map", "llama"])
        add("diff-9", "gpt2 names whose layout cannot be told", ["diff", "gpt2-canonical.safetensors", "gpt2-partial.safetensors"])
    }
}
