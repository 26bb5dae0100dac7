import Foundation
import TTCore
import TTFormat

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// A sharded safetensors checkpoint as transformers and huggingface_hub write it:
//
//   model.safetensors.index.json   {"metadata": {"total_size": BYTES, ...},
//                                   "weight_map": {TENSOR: "model-00001-of-00002.safetensors", ...}}
//   model-0000K-of-0000N.safetensors
//
// `total_size` is the sum of the tensors' data bytes (not the files' sizes). Validation:
// the index a JSON object with a weight_map of strings; every shard name a plain file name
// (no '/', not '.', '..' or empty) that resolves, through symlinks, inside the directory
// (or, in a huggingface_hub cache snapshot, `REPO/snapshots/REV/`, inside `REPO/blobs/`,
// where the hub keeps the files its snapshot symlinks point to); every shard a valid
// safetensors file; every index entry present in the shard it names; no tensor in two
// shards; no shard tensor missing from the index; total_size, when given, equal to the sum.

/// A validated sharded safetensors set.
public final class ShardedSafetensors {
    /// The index is read whole; real ones are a few hundred KB.
    public static let maxIndexSize: UInt64 = 100_000_000
    public static let maxEntries = 1 << 20

    public let indexPath: String
    public let directory: String
    /// The index's `metadata` members in file order, values as JSON text (strings unquoted).
    public let metadata: [(key: String, value: String)]
    /// The same members with their JSON values.
    public let metadataValues: [(key: String, value: HeaderJSON)]
    public let totalSize: UInt64?
    /// Shards by file name, sorted by name.
    public let shards: [(name: String, file: SafetensorsFile)]
    /// Every tensor: shard by shard (in `shards` order), in data-offset order within each.
    public let tensors: [(info: SafetensorsTensorInfo, shard: Int)]
    private let tensorIndex: [String: Int]

    /// Opens the index file at `path`. (`ModelFiles.open` also takes a directory.)
    public init(indexPath path: String, mapped: Bool = true) throws {
        indexPath = path
        func fail(_ p: ModelFileError.Problem) -> ModelFileError { ModelFileError(path: path, p) }
        let source = try FileSource(path: path, mapped: false)
        guard source.size <= Self.maxIndexSize else { throw fail(.shardIndexTooLarge(source.size, limit: Self.maxIndexSize)) }
        let bytes = try source.read(offset: 0, count: Int(source.size))
        let json: HeaderJSON
        do {
            json = try HeaderJSON.parse(bytes, maxArrayLength: Self.maxEntries, maxObjectMembers: Self.maxEntries)
        } catch let e as HeaderJSONError {
            throw fail(.shardIndexJSON(e.description))
        }
        guard case .object = json else { throw fail(.shardIndexNotObject) }
        guard case let .object(weightMap)? = json["weight_map"] else { throw fail(.shardIndexNoWeightMap) }

        var metadata: [(key: String, value: String)] = []
        var metadataValues: [(key: String, value: HeaderJSON)] = []
        var totalSize: UInt64? = nil
        if let m = json["metadata"], m != .null {
            guard case let .object(members) = m else { throw fail(.shardIndexMetadataNotObject) }
            for (k, v) in members {
                metadata.append((k, v.stringValue ?? v.jsonValue.serialized(pretty: false, escaping: .minimal)))
                metadataValues.append((k, v))
                if k == "total_size" {
                    // transformers writes an integer; some tools write it as a float with no
                    // fraction. Anything else is refused.
                    guard case let .number(text) = v, let size = Self.exactSize(text) else { throw fail(.shardIndexTotalSizeInvalid) }
                    totalSize = size
                }
            }
        }
        self.metadata = metadata
        self.metadataValues = metadataValues
        self.totalSize = totalSize

        let directory = (path as NSString).deletingLastPathComponent
        self.directory = directory.isEmpty ? "." : directory
        var entries: [(tensor: String, file: String)] = []
        for (tensor, v) in weightMap {
            guard let file = v.stringValue else { throw fail(.shardIndexEntryNotString(tensor: tensor)) }
            guard Self.isPlainName(file) else { throw fail(.shardBadName(tensor: tensor, file: file)) }
            entries.append((tensor, file))
        }
        entries.sort { Array($0.tensor.utf8).lexicographicallyPrecedes(Array($1.tensor.utf8)) }

        // Open each shard once, in name order; a shard's own problems are reported under
        // the shard's path.
        let names = Set(entries.map(\.file)).sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        let realDirectory = Self.realPath(self.directory)
        var shards: [(name: String, file: SafetensorsFile)] = []
        for name in names {
            let shardPath = self.directory + "/" + name
            if let realDirectory, let resolved = Self.realPath(shardPath), !Self.isInside(resolved, directory: realDirectory) {
                throw fail(.shardEscapes(file: name, resolved: resolved))
            }
            shards.append((name, try SafetensorsFile(path: shardPath, mapped: mapped)))
        }

        // Where each tensor actually is; then the index against that.
        var location: [String: Int] = [:]
        var tensors: [(info: SafetensorsTensorInfo, shard: Int)] = []
        for (s, shard) in shards.enumerated() {
            for t in shard.file.tensors {
                if let first = location[t.name] {
                    throw fail(.shardTensorInTwoShards(tensor: t.name, first: shards[first].name, second: shard.name))
                }
                location[t.name] = s
                tensors.append((t, s))
            }
        }
        var listed = Set<String>()
        for e in entries {
            listed.insert(e.tensor)
            guard let s = location[e.tensor], shards[s].name == e.file else {
                throw fail(.shardTensorMissing(tensor: e.tensor, shard: e.file))
            }
        }
        for (t, s) in tensors where !listed.contains(t.name) {
            throw fail(.shardTensorNotInIndex(tensor: t.name, shard: shards[s].name))
        }
        if let totalSize {
            var sum: UInt64 = 0
            for (t, _) in tensors {
                let (v, overflow) = sum.addingReportingOverflow(UInt64(t.byteCount))
                sum = overflow ? UInt64.max : v
            }
            guard sum == totalSize else { throw fail(.shardTotalSizeMismatch(declared: totalSize, actual: sum)) }
        }
        self.shards = shards
        self.tensors = tensors
        var index: [String: Int] = [:]
        for (i, t) in tensors.enumerated() { index[t.info.name] = i }
        tensorIndex = index
    }

    public func tensor(named name: String) -> (info: SafetensorsTensorInfo, file: SafetensorsFile)? {
        tensorIndex[name].map { (tensors[$0].info, shards[tensors[$0].shard].file) }
    }

    /// The index file to use for a directory: the one `*.safetensors.index.json`, or
    /// `model.safetensors.index.json` among several; nil when there is none.
    /// - Throws: `.shardSeveralIndexes` when there are several and none is the default.
    public static func indexFile(inDirectory directory: String) throws -> String? {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw ModelFileError(path: directory, .io("cannot list the directory"))
        }
        let indexes = names.filter { $0.hasSuffix(".safetensors.index.json") }.sorted()
        if indexes.isEmpty { return nil }
        if indexes.count == 1 { return directory + "/" + indexes[0] }
        if indexes.contains("model.safetensors.index.json") { return directory + "/model.safetensors.index.json" }
        throw ModelFileError(path: directory, .shardSeveralIndexes(indexes))
    }

    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.utf8.contains(0)
    }

    /// An integer ≥ 0 written as digits, optionally followed by ".0…" (a float with no
    /// fraction), that fits in UInt64.
    static func exactSize(_ text: String) -> UInt64? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        if parts.count == 2, !(parts[1].utf8.allSatisfy { $0 == 0x30 }) { return nil }
        return UInt64(whole)
    }

    static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    /// `resolved` is inside `directory`, or the directory is a hub snapshot
    /// (`REPO/snapshots/REV`) and `resolved` is inside `REPO/blobs`.
    static func isInside(_ resolved: String, directory: String) -> Bool {
        if resolved.hasPrefix(directory == "/" ? "/" : directory + "/") { return true }
        let parts = directory.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count >= 3, parts[parts.count - 2] == "snapshots" {
            let repo = parts.dropLast(2).joined(separator: "/")
            return resolved.hasPrefix(repo + "/blobs/")
        }
        return false
    }
}
