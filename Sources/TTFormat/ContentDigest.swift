import TTCore
// Content identity (spec/FORMAT.md §4.2, §4.3): the `hash` section's per-tensor SHA-256 of the
// raw bytes, and the model digest computed from canonical content, the same for any
// compression, filter or tensor order, and for a safetensors export of the same weights.

/// SHA-256 of a tensor's raw bytes: its Float32 values as little-endian bytes, the bytes the
/// raw CRC-32 covers (and the bytes of a safetensors F32 tensor).
package func rawDigest(_ values: [Float]) -> [UInt8] {
    #if _endian(little)
    return values.withUnsafeBytes { SHA256.digest($0) }
    #else
    return SHA256.digest(littleEndianBytes(values))
    #endif
}

/// The `rawDigest` of tensors two at a time (`SHA256.digests`, whose interleaved chains run
/// about 1.8x the bytes a second of one), paired by `pairsLargestFirst`.
/// `hash(k, values, out)` stores pair k's digests.
struct DigestPairs {
    let pairs: [(Int, Int?)]

    init(sizes: [Int]) { pairs = pairsLargestFirst(sizes: sizes) }

    func hash(_ k: Int, _ values: (Int) -> [Float], into out: UnsafeMutableBufferPointer<[UInt8]>) {
        let (i, j) = pairs[k]
        guard let j else { return out[i] = rawDigest(values(i)) }
        #if _endian(little)
        (out[i], out[j]) = values(i).withUnsafeBytes { a in values(j).withUnsafeBytes { b in SHA256.digests(a, b) } }
        #else
        (out[i], out[j]) = (rawDigest(values(i)), rawDigest(values(j)))
        #endif
    }
}

/// Encodes a `hash` payload: u64 count, then the 32-byte digests in directory order.
func encodeDigests(_ digests: [[UInt8]]) -> [UInt8] {
    var w = ByteWriter()
    w.u64(UInt64(digests.count))
    for d in digests {
        precondition(d.count == 32)
        w.append(d)
    }
    return w.bytes
}

/// Decodes and checks a `hash` payload: one 32-byte digest per directory entry, nothing more.
func decodeDigests(_ bytes: [UInt8], from start: Int, to end: Int, tensorCount: Int) throws -> [[UInt8]] {
    var r = ByteReader(bytes, from: start, to: end)
    guard let count = try? r.u64() else {
        throw ContentError(.malformedSection, "section 'hash': \(end - start) bytes, too short for its count")
    }
    guard count == UInt64(tensorCount) else {
        throw ContentError(.malformedSection, "section 'hash': \(count) digests for \(tensorCount) tensors")
    }
    guard r.remaining == 32 * tensorCount else {
        throw ContentError(.malformedSection, "section 'hash': \(r.remaining) bytes of digests, expected 32 × \(tensorCount)")
    }
    // Bounded by the header: at most 32 bytes of digests per directory entry.
    ReaderAllocationMeter.note(tensorCount * (32 + MemoryLayout<[UInt8]>.stride))
    return (0..<tensorCount).map { i in Array(bytes[(r.position + 32 * i)..<(r.position + 32 * (i + 1))]) }
}

/// The model digest of spec §4.3: SHA-256 over a canonical listing of the parameter tensors
/// (name, dtype, shape and the SHA-256 of the raw bytes), sorted by name bytes. It depends on
/// the weights only: not on compression, filter, tensor order, the optimizer moments, the
/// training state or the vocabulary.
public enum ModelDigest {
    /// One tensor of the listing. `dtypeCode` is the .ttc dtype byte (0 = f32; a safetensors
    /// `F32` tensor is 0 too).
    public struct Item: Sendable, Equatable {
        public var name: String
        public var dtypeCode: UInt8
        public var shape: [Int]
        /// SHA-256 of the raw little-endian bytes (32 bytes).
        public var sha256: [UInt8]
        public init(name: String, dtypeCode: UInt8, shape: [Int], sha256: [UInt8]) {
            self.name = name
            self.dtypeCode = dtypeCode
            self.shape = shape
            self.sha256 = sha256
        }
    }

    /// Bytes the listing starts with, so the digest cannot be confused with another hash.
    public static let domain = Array("ttc-model-digest-1\n".utf8)

    /// The digest of `items` (any order), lowercase hex (64 characters).
    public static func compute(_ items: [Item]) -> String {
        var h = SHA256()
        h.update(domain)
        var w = ByteWriter()
        for item in items.sorted(by: { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }) {
            w.string(item.name)
            w.u8(item.dtypeCode)
            w.u8(UInt8(truncatingIfNeeded: item.shape.count))
            for d in item.shape { w.u64(UInt64(d)) }
            w.append(item.sha256)
            h.update(w.bytes)
            w.bytes.removeAll(keepingCapacity: true)
        }
        return SHA256.hex(h.finalize())
    }

    /// The digest of a checkpoint in memory (its tensors of role parameter).
    public static func of(_ checkpoint: Checkpoint) -> String {
        compute(checkpoint.tensors.filter { $0.role == .parameter }.map {
            Item(name: $0.name, dtypeCode: DType.f32.rawValue, shape: $0.shape, sha256: rawDigest($0.values))
        })
    }
}

extension CheckpointReader {
    /// The model digest from the `hash` section and the directory (no tensor is read), or
    /// nil for a file without a `hash` section (format 1.0; see `computedModelDigest`).
    public var storedModelDigest: String? {
        guard let digests = storedTensorDigests else { return nil }
        return ModelDigest.compute(zip(entries, digests).filter { $0.0.role == .parameter }.map {
            ModelDigest.Item(name: $0.0.name, dtypeCode: $0.0.dtype.rawValue, shape: $0.0.shape, sha256: $0.1)
        })
    }

    /// The model digest computed from the data: every parameter tensor is loaded (all CRCs
    /// checked) and hashed. Works for any 1.x file; equals `storedModelDigest` when the
    /// stored digests are right.
    public func computedModelDigest() throws -> String {
        var items: [ModelDigest.Item] = []
        for entry in entries where entry.role == .parameter {
            let values = try loadTensor(entry)
            items.append(ModelDigest.Item(name: entry.name, dtypeCode: entry.dtype.rawValue, shape: entry.shape,
                                          sha256: rawDigest(values)))
        }
        return ModelDigest.compute(items)
    }

    /// `storedModelDigest` when the file has a `hash` section, else `computedModelDigest()`.
    public func modelDigest() throws -> String {
        if let stored = storedModelDigest { return stored }
        return try computedModelDigest()
    }
}
