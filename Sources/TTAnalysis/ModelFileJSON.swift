import TTCore
import TTFormat
import TTInterop

/// The JSON forms of a foreign model file (safetensors, sharded set, GGUF) for
/// `inspect --json`: its format, metadata and tensors, and a tensor's values. Keys are
/// snake_case like the .ttc document's.
public enum ModelFileJSON {
    /// A GGUF value, whole: numbers exact (Int, UInt64, Float32 as Float, Float64 as
    /// Double; non-finite as null), strings as strings, arrays as arrays.
    public static func gguf(_ v: GGUFValue) -> JSONValue {
        switch v {
        case let .uint8(x): return .int(Int(x))
        case let .int8(x): return .int(Int(x))
        case let .uint16(x): return .int(Int(x))
        case let .int16(x): return .int(Int(x))
        case let .uint32(x): return .int(Int(x))
        case let .int32(x): return .int(Int(x))
        case let .float32(x): return .float(x)
        case let .bool(x): return .bool(x)
        case let .string(x): return .string(x)
        case let .uint64(x): return .uint(x)
        case let .int64(x): return .int(Int(x))
        case let .float64(x): return .double(x)
        case let .array(a): return ggufArray(a)
        }
    }

    static func ggufArray(_ a: GGUFArray) -> JSONValue {
        switch a {
        case let .uint8(x): return .array(x.map { .int(Int($0)) })
        case let .int8(x): return .array(x.map { .int(Int($0)) })
        case let .uint16(x): return .array(x.map { .int(Int($0)) })
        case let .int16(x): return .array(x.map { .int(Int($0)) })
        case let .uint32(x): return .array(x.map { .int(Int($0)) })
        case let .int32(x): return .array(x.map { .int(Int($0)) })
        case let .float32(x): return .array(x.map { .float($0) })
        case let .bool(x): return .array(x.map { .bool($0) })
        case let .string(x): return .array(x.map { .string($0) })
        case let .uint64(x): return .array(x.map { .uint($0) })
        case let .int64(x): return .array(x.map { .int(Int($0)) })
        case let .float64(x): return .array(x.map { .double($0) })
        case let .array(x): return .array(x.map(ggufArray))
        }
    }

    /// The number of elements of all tensors.
    public static func parameterCount(_ file: ModelFile) -> UInt64 {
        file.tensors.reduce(0) { $0 &+ $1.elementCount }
    }

    /// One tensor: {name, dtype, shape, elements, bytes, storage, values_decoded, offset,
    /// [shard]}.
    public static func tensor(_ t: ModelTensor, in file: ModelFile) -> [(String, JSONValue)] {
        var m: [(String, JSONValue)] = [
            ("name", .string(t.name)),
            ("dtype", .string(t.dtype)),
            ("shape", .array(t.shape.map { .int($0) })),
            ("elements", .uint(t.elementCount)),
            ("bytes", .uint(t.byteCount)),
            ("storage", .string(t.storage)),
            ("values_decoded", .bool(t.decodable)),
        ]
        if let shard = t.shard { m.append(("shard", .string(shard))) }
        if let offset = file.dataOffset(of: t.name) { m.append(("offset", .uint(offset))) }
        return m
    }

    /// The file-level members: {file, format, [gguf_version, alignment, data_offset],
    /// [index, shards], metadata, parameter_count}.
    public static func header(_ file: ModelFile, fileSize: UInt64) -> [(String, JSONValue)] {
        var m: [(String, JSONValue)] = [
            ("file", .string(file.path)),
            ("format", .string(file.format == .shardedSafetensors ? "sharded safetensors" : file.format.rawValue)),
            ("file_size", .uint(fileSize)),
        ]
        if let g = file.gguf {
            m.append(("gguf_version", .int(Int(g.version))))
            m.append(("alignment", .int(Int(g.alignment))))
            m.append(("data_offset", .uint(g.dataStart)))
            m.append(("metadata", .array(g.metadata.map {
                .object([("key", .string($0.key)), ("type", .string(ggufTypeName($0.value))), ("value", gguf($0.value))])
            })))
        } else if let s = file.safetensors {
            m.append(("header_bytes", .int(s.headerLength)))
            m.append(("metadata", s.metadataPairs.map { pairs in .object(pairs.map { ($0.key, .string($0.value)) }) } ?? .null))
        } else if let set = file.sharded {
            m.append(("index", .string(set.indexPath)))
            m.append(("total_size", set.totalSize.map { .uint($0) } ?? .null))
            m.append(("shards", .array(set.shards.map { shard in
                let held = set.tensors.filter { set.shards[$0.shard].name == shard.name }
                return .object([
                    ("file", .string(shard.name)),
                    ("file_size", .int(shard.file.fileSize)),
                    ("tensors", .int(held.count)),
                    ("metadata", shard.file.metadataPairs.map { pairs in .object(pairs.map { ($0.key, .string($0.value)) }) } ?? .null),
                ])
            })))
            m.append(("metadata", .object(set.metadataValues.map { ($0.key, $0.value.jsonValue) })))
        }
        m.append(("parameter_count", .uint(parameterCount(file))))
        return m
    }

    /// Row-major nested arrays of `leaves` with the given shape (`[]`: the one scalar).
    public static func nested(_ leaves: [JSONValue], shape: [Int]) -> JSONValue {
        if shape.isEmpty { return leaves.first ?? .null }
        func build(_ dim: Int, _ base: Int) -> JSONValue {
            let n = shape[dim]
            if dim == shape.count - 1 { return .array((0..<n).map { leaves[base + $0] }) }
            let stride = shape[(dim + 1)...].reduce(1, *)
            return .array((0..<n).map { build(dim + 1, base + $0 * stride) })
        }
        return build(0, 0)
    }

    /// A tensor's values as JSON leaves: integers exact, Floats as the shortest decimal
    /// that reads back as the same Float, Doubles likewise; NaN and ±Inf as null (listed by
    /// `nonFinite`).
    public static func leaves(_ file: ModelFile, _ name: String) throws -> (leaves: [JSONValue], nonFinite: [(Int, String)]) {
        if let ints = try file.integers(of: name) {
            switch ints {
            case let .signed(v): return (v.map { .int(Int($0)) }, [])
            case let .unsigned(v): return (v.map { .uint($0) }, [])
            }
        }
        var nonFinite: [(Int, String)] = []
        func kind(_ x: Double) -> String { x.isNaN ? "nan" : x > 0 ? "inf" : "-inf" }
        switch try file.values(of: name) {
        case let .float(v):
            for (i, x) in v.enumerated() where !x.isFinite { nonFinite.append((i, kind(Double(x)))) }
            return (v.map { .float($0) }, nonFinite)
        case let .double(v):
            for (i, x) in v.enumerated() where !x.isFinite { nonFinite.append((i, kind(x))) }
            return (v.map { .double($0) }, nonFinite)
        }
    }
}
