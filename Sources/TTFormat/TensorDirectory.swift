import TTCore
// The TDIR section: one fixed-layout entry per tensor. spec/FORMAT.md "Tensor directory".

/// Encodes a TDIR payload: u64 count, then each entry.
func encodeDirectory(_ entries: [TensorEntry]) -> [UInt8] {
    var w = ByteWriter()
    w.u64(UInt64(entries.count))
    for e in entries {
        w.string(e.name)
        w.u8(e.role.rawValue)
        w.u8(e.dtype.rawValue)
        w.u8(e.compression.rawValue)
        w.u8(e.filter.rawValue)
        w.u8(UInt8(e.shape.count))
        for d in e.shape { w.u64(UInt64(d)) }
        w.u64(e.offset)
        w.u64(e.storedLength)
        w.u64(e.rawLength)
        w.u32(e.rawCRC32)
        w.u32(e.storedCRC32)
    }
    return w.bytes
}

/// Bytes of an entry with an empty name and rank 0: the smallest possible entry.
let minimumDirectoryEntrySize = 4 + 5 + 8 + 8 + 8 + 4 + 4

/// Decodes and structurally validates a TDIR payload: caps, names, enum bytes, sizes with
/// checked arithmetic, the expansion cap, and placement (blobs contiguous in directory
/// order from `dataStart`, inside the file, the last one ending at `fileSize`).
func decodeDirectory(_ bytes: [UInt8], from start: Int, to end: Int, dataStart: UInt64, fileSize: UInt64) throws -> [TensorEntry] {
    var r = ByteReader(bytes, from: start, to: end)
    let count: UInt64
    do { count = try r.u64() } catch { throw ContentError(.malformedDirectory, "tensor directory: section too short for its count") }
    guard count <= UInt64(FormatLimits.maxTensorCount) else {
        throw ContentError(.tooManyTensors, "tensor directory: \(count) tensors exceeds the cap \(FormatLimits.maxTensorCount)")
    }
    guard count <= UInt64(r.remaining / minimumDirectoryEntrySize) else {
        throw ContentError(.malformedDirectory, "tensor directory: \(count) entries cannot fit in \(r.remaining) bytes")
    }
    var entries: [TensorEntry] = []
    ReaderAllocationMeter.note(Int(count) * MemoryLayout<TensorEntry>.stride)
    entries.reserveCapacity(Int(count))
    var names = Set<String>()
    var expectedOffset = dataStart
    for index in 0..<Int(count) {
        var name: String? = nil
        var label: String { name.map { "tensor \(quotedName($0))" } ?? "tensor #\(index)" }
        do {
            do {
                guard let n = try r.string(maxLength: FormatLimits.maxNameLength) else {
                    throw ContentError(.badName, "\(label): name is not valid UTF-8")
                }
                guard !n.isEmpty else { throw ContentError(.badName, "\(label): empty name") }
                name = n
            } catch let e as StringTooLong {
                throw ContentError(.badName, "\(label): name length \(e.length) exceeds the cap \(FormatLimits.maxNameLength)")
            }
            let name = name!
            guard names.insert(name).inserted else { throw ContentError(.duplicateName, "\(label): name appears twice") }
            let roleByte = try r.u8(), dtypeByte = try r.u8(), compressionByte = try r.u8(), filterByte = try r.u8()
            guard let role = TensorRole(rawValue: roleByte) else { throw ContentError(.badRole, "\(label): unknown role \(roleByte)") }
            // Unknown dtype, compression or filter codes are kept: only loading this
            // tensor's values needs them (spec §4, "Codes this reader does not know").
            let dtype = DType(rawValue: dtypeByte), compression = BlobCompression(rawValue: compressionByte)
            let filter = BlobFilter(rawValue: filterByte)
            let rank = Int(try r.u8())
            guard rank <= FormatLimits.maxRank else { throw ContentError(.badRank, "\(label): rank \(rank) exceeds \(FormatLimits.maxRank)") }
            var shape: [Int] = []
            var elements: UInt64 = 1
            var overflow = false
            for axis in 0..<rank {
                let d = try r.u64()
                guard d >= 1 else { throw ContentError(.badDimension, "\(label): dimension \(axis) is 0") }
                let (p, o) = elements.multipliedReportingOverflow(by: d)
                overflow = overflow || o || d > UInt64(Int.max)
                elements = o ? UInt64.max : p
                shape.append(d > UInt64(Int.max) ? Int.max : Int(d))
            }
            let offset = try r.u64(), storedLength = try r.u64(), rawLength = try r.u64()
            let rawCRC = try r.u32(), storedCRC = try r.u32()
            // Sizes in bytes: product(shape) × element size for a known dtype; for an
            // unknown one the element size is unknown, so only the element count and the
            // raw length itself are bounded.
            let (bytesNeeded, o2) = elements.multipliedReportingOverflow(by: UInt64(dtype.byteSize ?? 1))
            guard !overflow, !o2, bytesNeeded <= FormatLimits.maxRawLength else {
                let what = dtype.byteSize.map { "× \($0) bytes" } ?? "elements"
                throw ContentError(.sizeOverflow, "\(label): shape \(shape) \(what) is 2^62 or more")
            }
            if let size = dtype.byteSize {
                guard rawLength == bytesNeeded else {
                    throw ContentError(.rawLengthMismatch, "\(label): raw length \(rawLength), but shape × \(size) is \(bytesNeeded)")
                }
            } else {
                guard rawLength <= FormatLimits.maxRawLength else {
                    throw ContentError(.sizeOverflow, "\(label): raw length \(rawLength) is 2^62 bytes or more")
                }
            }
            // The expansion cap holds for zlib; a compression this version does not know is
            // never inflated, so its raw length sizes no buffer.
            if compression == .zlib {
                let (cap, o3) = storedLength.multipliedReportingOverflow(by: FormatLimits.maxExpansionRatio)
                guard o3 || rawLength <= cap else {
                    throw ContentError(.expansionRatio, "\(label): raw length \(rawLength) is more than \(FormatLimits.maxExpansionRatio) × stored length \(storedLength)")
                }
            }
            let (blobEnd, o4) = offset.addingReportingOverflow(storedLength)
            guard !o4, offset <= fileSize, blobEnd <= fileSize else {
                throw ContentError(.blobOutOfFile, "\(label): blob at \(offset) length \(storedLength) runs past the end of the file (\(fileSize) bytes)")
            }
            guard offset == expectedOffset else {
                let what = offset < expectedOffset ? "overlaps the header or the previous blob" : "leaves a gap after the previous blob"
                throw ContentError(.blobPlacement, "\(label): blob offset \(offset) \(what) (expected \(expectedOffset))")
            }
            expectedOffset = blobEnd
            entries.append(TensorEntry(name: name, role: role, dtype: dtype, shape: shape, compression: compression, filter: filter,
                                       offset: offset, storedLength: storedLength, rawLength: rawLength,
                                       rawCRC32: rawCRC, storedCRC32: storedCRC))
        } catch is ByteReaderEnd {
            throw ContentError(.malformedDirectory, "\(label): entry runs past the end of the tensor directory")
        }
    }
    guard r.isAtEnd else {
        throw ContentError(.malformedDirectory, "tensor directory: \(r.remaining) unused bytes after the last entry")
    }
    guard expectedOffset == fileSize else {
        throw ContentError(.trailingBytes, "\(fileSize - expectedOffset) bytes after the last blob (file should end at \(expectedOffset))")
    }
    return entries
}
