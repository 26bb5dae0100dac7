import Dispatch
import TTCore

/// How the writer stores blobs.
public struct WriteOptions: Sendable {
    /// How each blob is encoded (`BlobEncoding`, Zlib.swift); `.level` and `.strategy`
    /// apply to `.zlib` only.
    public var compression: BlobEncoding = .fast
    /// zlib level 0...9. The default, 1, was chosen by measurement (spec/FORMAT.md,
    /// "Choosing the defaults"): level 6 is 1.4% smaller but 2.3x slower on dense floats.
    public var level: Int32 = 1
    /// zlib's deflate strategy. The default, RLE, was chosen by measurement (spec/FORMAT.md):
    /// on shuffled floats it is as small as the default strategy and about 2.5x faster.
    public var strategy: CompressionStrategy = .rle
    /// nil: pick per tensor; otherwise force this filter on every tensor.
    public var filter: BlobFilter? = nil
    /// Threads compressing blobs in parallel (results are identical for any count).
    public var threads: Int = 1
    /// The file system the writer uses; tests inject faults through it.
    public var io: any FileSystemIO = POSIXFileSystem()
    public init() {}
}

/// Writes a .ttc file atomically (`AtomicWrite`: temporary file in the same directory,
/// fsync, rename, fsync of the directory). On any error the temporary file is removed and
/// an existing file at `path` is left untouched.
public enum CheckpointWriter {
    public static func write(_ checkpoint: Checkpoint, to path: String, options: WriteOptions = WriteOptions()) throws {
        try write(checkpoint, to: [path], options: options)
    }

    /// Encodes (compresses) once and writes the same bytes to each path in turn, each
    /// atomically as `write(_:to:options:)` does. A failure stops at that path: the paths
    /// before it hold the new file (each was passed to `written` when it was in place),
    /// it and the ones after keep their previous contents.
    public static func write(_ checkpoint: Checkpoint, to paths: [String], options: WriteOptions = WriteOptions(),
                             written: (String) -> Void = { _ in }) throws {
        guard let first = paths.first else { return }
        let layout = try plan(checkpoint, path: first, options: options)
        // The first file is written while the blobs are compressed: each blob goes out as
        // soon as it and the ones before it are done, and the device starts on them at once,
        // so the write and most of the fsync overlap the compression. The preamble and
        // header, which need every blob's length and checksums, come last, over zeros.
        // With one path a blob's bytes are dropped once written, so the memory is reused by
        // the blobs after it (fewer fresh pages to fault in) and a save never holds the
        // whole compressed file.
        var blobs: [CompressedBlob] = []
        var head: [UInt8] = []
        try AtomicWrite.write(to: first, io: options.io) { sink in
            try sink.append([UInt8](repeating: 0, count: layout.headLength))
            var end = layout.headLength, flushed = 0
            blobs = try compressAll(checkpoint.tensors, options: options, keepStored: paths.count > 1) { _, blob in
                try sink.append(blob.stored)
                end += blob.stored.count
                if end - flushed >= writebackChunk {
                    sink.beginWriteback(offset: flushed, count: end - flushed)
                    flushed = end
                }
            }
            head = layout.head(blobs)
            try sink.write(head, at: 0)
        }
        written(first)
        for path in paths.dropFirst() {
            try AtomicWrite.write([head] + blobs.map(\.stored), to: path, io: options.io)
            written(path)
        }
    }

    /// Bytes written between writeback hints while streaming a save.
    static let writebackChunk = 4 << 20

    /// The bytes `write` would store, in pieces (preamble + header, then each blob).
    /// Validates the checkpoint and options first; throws `.invalidCheckpoint` naming the field.
    public static func encodedBytes(_ checkpoint: Checkpoint, options: WriteOptions = WriteOptions()) throws -> [UInt8] {
        let image = try encode(checkpoint, path: "<memory>", options: options)
        var out = image.head
        for b in image.blobs { out.append(contentsOf: b) }
        return out
    }

    struct Image {
        var head: [UInt8]
        var blobs: [[UInt8]]
        var entries: [TensorEntry]
        /// The `hash` section's digests, in entry order.
        var digests: [[UInt8]]
    }

    static func encode(_ c: Checkpoint, path: String, options: WriteOptions) throws -> Image {
        let layout = try plan(c, path: path, options: options)
        let blobs = try compressAll(c.tensors, options: options)
        return Image(head: layout.head(blobs), blobs: blobs.map(\.stored), entries: layout.entries(blobs),
                     digests: blobs.map(\.rawSHA256))
    }

    /// What the file holds besides the blobs, known before any is compressed: the metadata
    /// and, since no entry's size depends on its blob, the header's length.
    struct Layout {
        var tensors: [NamedTensor]
        var metadata: [UInt8]
        var headLength: Int

        func entries(_ blobs: [CompressedBlob]) -> [TensorEntry] {
            var offset = UInt64(headLength)
            return zip(tensors, blobs).map { t, b in
                defer { offset += UInt64(b.storedLength) }
                return TensorEntry(name: t.name, role: t.role, dtype: .f32, shape: t.shape, compression: .zlib, filter: b.filter,
                                   offset: offset, storedLength: UInt64(b.storedLength), rawLength: UInt64(t.values.count * 4),
                                   rawCRC32: b.rawCRC, storedCRC32: b.storedCRC)
            }
        }

        /// The preamble and header for these blobs.
        func head(_ blobs: [CompressedBlob]) -> [UInt8] {
            let header = encodeHeader(sections: [(TTCFormat.metadataTag, metadata), (TTCFormat.directoryTag, encodeDirectory(entries(blobs))),
                                                 (TTCFormat.digestTag, encodeDigests(blobs.map(\.rawSHA256)))])
            precondition(TTCFormat.preambleSize + header.count == headLength)
            var head = encodePreamble(major: TTCFormat.major, minor: TTCFormat.minor, header: header)
            head.append(contentsOf: header)
            return head
        }
    }

    /// Validates the checkpoint and options and lays out the file.
    static func plan(_ c: Checkpoint, path: String, options: WriteOptions) throws -> Layout {
        func invalid(_ m: String) -> FormatError { FormatError(path: path, kind: .invalidCheckpoint, message: "cannot write: \(m)") }
        guard (0...9).contains(options.level) else { throw invalid("compression level \(options.level) is not in 0...9") }
        guard options.threads >= 1 else { throw invalid("threads must be at least 1, got \(options.threads)") }
        if let f = options.filter, !f.isKnown { throw invalid("\(f.label) is not a filter this version writes") }
        do {
            try validateContents(config: c.config, vocabulary: c.vocabulary, training: c.training)
            var names = Set<String>()
            for t in c.tensors {
                let bytes = t.name.utf8.count
                guard bytes >= 1, bytes <= FormatLimits.maxNameLength else {
                    throw ContentError(.badName, "tensor \(quotedName(t.name)): name length \(bytes) not in 1...\(FormatLimits.maxNameLength)")
                }
                guard names.insert(t.name).inserted else { throw ContentError(.duplicateName, "tensor \(quotedName(t.name)): name appears twice") }
                guard t.shape.count <= FormatLimits.maxRank, t.shape.allSatisfy({ $0 >= 1 }) else {
                    throw ContentError(.badRank, "tensor \(quotedName(t.name)): shape \(t.shape) needs rank ≤ 8 and dimensions ≥ 1")
                }
                var n = 1
                for d in t.shape {
                    let (p, o) = n.multipliedReportingOverflow(by: d)
                    guard !o, p <= Int.max / 8 else { throw ContentError(.sizeOverflow, "tensor \(quotedName(t.name)): shape overflows") }
                    n = p
                }
                guard t.values.count == n else {
                    throw ContentError(.rawLengthMismatch, "tensor \(quotedName(t.name)): \(t.values.count) values for shape \(t.shape)")
                }
            }
            guard c.tensors.count <= FormatLimits.maxTensorCount else {
                throw ContentError(.tooManyTensors, "\(c.tensors.count) tensors exceeds the cap")
            }
            if let trace = c.trace { try validateTrace(trace, config: c.config, training: c.training) }
            try validateTensorSet(c.tensors.map { ($0.name, $0.role, $0.shape) }, config: c.config, trace: c.trace)
        } catch let e as ContentError {
            throw invalid(e.message)
        }

        let meta = encodeMetadata(metadataItems(config: c.config, vocabulary: c.vocabulary, training: c.training, trace: c.trace))
        // Entry sizes depend on neither offsets nor blobs, so placeholders give the length.
        let placeholders = c.tensors.map { t in
            TensorEntry(name: t.name, role: t.role, dtype: .f32, shape: t.shape, compression: .zlib, filter: .none,
                        offset: 0, storedLength: 0, rawLength: 0, rawCRC32: 0, storedCRC32: 0)
        }
        let headerLength = 3 * 12 + meta.count + encodeDirectory(placeholders).count + 8 + 32 * c.tensors.count
        guard headerLength <= FormatLimits.maxHeaderLength else {
            throw invalid("header would be \(headerLength) bytes, more than the cap \(FormatLimits.maxHeaderLength)")
        }
        return Layout(tensors: c.tensors, metadata: meta, headLength: TTCFormat.preambleSize + headerLength)
    }

    struct CompressedBlob {
        /// The blob's bytes; empty once written when `compressAll` was told not to keep them.
        var stored: [UInt8]
        /// The blob's length in bytes (kept when `stored` is dropped).
        let storedLength: Int
        var filter: BlobFilter
        var rawCRC: UInt32
        /// SHA-256 of the raw bytes (the `hash` section's entry), filled in by
        /// `compressAll` (the blobs it passes to `emit` do not have it yet).
        var rawSHA256: [UInt8] = []
        /// CRC-32 of `stored`, computed with it on the compressing thread.
        var storedCRC: UInt32

        init(stored: [UInt8], filter: BlobFilter, rawCRC: UInt32) {
            self.stored = stored
            storedLength = stored.count
            self.filter = filter
            self.rawCRC = rawCRC
            storedCRC = crc32Of(stored)
        }
    }

    /// Compresses each tensor on `options.threads` threads, taking them in order, and
    /// passes each blob to `emit` in tensor order, one call at a time, as soon as it and
    /// every blob before it are done (while later ones are still being compressed). A
    /// thread that finds no tensor left to compress goes on to the digests (only the
    /// header needs them), two tensors at a time (`DigestPairs`). Each tensor's result
    /// depends only on its values and the options, so the output is the same for any
    /// thread count. An error thrown by `emit` stops the work and is rethrown. Unless
    /// `keepStored`, each blob's `stored` bytes are released once `emit` has returned.
    static func compressAll(_ tensors: [NamedTensor], options: WriteOptions, keepStored: Bool = true,
                            emit: (Int, CompressedBlob) throws -> Void = { _, _ in }) throws -> [CompressedBlob] {
        let threads = min(max(1, options.threads), max(1, tensors.count))
        let digestPairs = DigestPairs(sizes: tensors.map(\.values.count))
        var digests = [[UInt8]](repeating: [], count: tensors.count)
        var blobs: [CompressedBlob]
        if threads == 1 {
            let scratch = ShuffleScratch()
            blobs = try tensors.indices.map { i in
                var blob = compressTensor(tensors[i].values, options: options, scratch: scratch)
                try emit(i, blob)
                if !keepStored { blob.stored = [] }
                return blob
            }
            digests.withUnsafeMutableBufferPointer { out in
                for k in digestPairs.pairs.indices { digestPairs.hash(k, { tensors[$0].values }, into: out) }
            }
        } else {
            let queue = InOrderQueue<CompressedBlob>(count: tensors.count)
            let nextPair = WorkCounter()
            withoutActuallyEscaping(emit) { emit in
                nonisolated(unsafe) let emit = emit
                digests.withUnsafeMutableBufferPointer { out in
                    nonisolated(unsafe) let out = out
                    DispatchQueue.concurrentPerform(iterations: threads) { _ in
                        let scratch = ShuffleScratch()
                        while let i = queue.take() {
                            queue.finish(i, compressTensor(tensors[i].values, options: options, scratch: scratch)) { k, blob in
                                try emit(k, blob)
                                guard !keepStored else { return blob }
                                var kept = blob
                                kept.stored = []
                                return kept
                            }
                        }
                        while !queue.failed {
                            let k = nextPair.take()
                            guard k < digestPairs.pairs.count else { break }
                            digestPairs.hash(k, { tensors[$0].values }, into: out)
                        }
                    }
                }
            }
            blobs = try queue.results()
        }
        for i in blobs.indices { blobs[i].rawSHA256 = digests[i] }
        return blobs
    }
    /// Tensors with at most this many elements are compressed both ways, keeping the smaller.
    static let exactChoiceLimit = 16_384
    /// Larger tensors choose from 4 evenly spaced 1024-element samples (16 until format
    /// writer 1.0's speed pass: the sample's two compressions cost 25% of a medium save).
    static let sampleChunks = 4
    static let sampleChunkElements = 1024

    static func compressTensor(_ values: [Float], options: WriteOptions, scratch: ShuffleScratch? = nil) -> CompressedBlob {
        if options.compression != .zlib {
            let b = encodeBlob(values, compression: options.compression, filter: options.filter, exactChoiceLimit: exactChoiceLimit,
                               sampleChunks: sampleChunks, sampleChunkElements: sampleChunkElements, scratch: scratch)
            return CompressedBlob(stored: b.stored, filter: b.filter, rawCRC: b.rawCRC)
        }
        let raw = littleEndianBytes(values)
        let rawCRC = crc32Of(raw)
        func compress(_ f: BlobFilter, _ bytes: [UInt8]) -> [UInt8] {
            zlibCompress(f == .shuffle ? shuffleBytes(bytes, elementSize: 4) : bytes, level: options.level,
                         strategy: options.strategy)
        }
        if let forced = options.filter {
            return CompressedBlob(stored: compress(forced, raw), filter: forced, rawCRC: rawCRC)
        }
        if values.count <= exactChoiceLimit {
            let plain = compress(.none, raw), shuffled = compress(.shuffle, raw)
            return shuffled.count < plain.count ? CompressedBlob(stored: shuffled, filter: .shuffle, rawCRC: rawCRC)
                                                : CompressedBlob(stored: plain, filter: .none, rawCRC: rawCRC)
        }
        let filter = chooseFilterBySample(raw, count: values.count, level: options.level, strategy: options.strategy)
        return CompressedBlob(stored: compress(filter, raw), filter: filter, rawCRC: rawCRC)
    }

    /// The sample rule of spec/FORMAT.md: chunk k (k = 0..<4) starts at element
    /// floor(k × (n − 1024) / 3); the chunks are concatenated and compressed both ways;
    /// shuffle wins only if strictly smaller.
    static func chooseFilterBySample(_ raw: [UInt8], count n: Int, level: Int32, strategy: CompressionStrategy) -> BlobFilter {
        var sample: [UInt8] = []
        sample.reserveCapacity(sampleChunks * sampleChunkElements * 4)
        for k in 0..<sampleChunks {
            let start = k * (n - sampleChunkElements) / (sampleChunks - 1)
            sample.append(contentsOf: raw[(start * 4)..<((start + sampleChunkElements) * 4)])
        }
        let plain = zlibCompress(sample, level: level, strategy: strategy).count
        let shuffled = zlibCompress(shuffleBytes(sample, elementSize: 4), level: level, strategy: strategy).count
        return shuffled < plain ? .shuffle : .none
    }
}

/// Concatenates sections: u32 tag, u64 payload length, payload.
func encodeHeader(sections: [(UInt32, [UInt8])]) -> [UInt8] {
    var w = ByteWriter()
    for (tag, payload) in sections {
        w.u32(tag)
        w.u64(UInt64(payload.count))
        w.append(payload)
    }
    return w.bytes
}

/// The 32-byte preamble for a header: magic, major, minor, reserved 0, header length,
/// header CRC-32, and the CRC-32 of the preamble's first 28 bytes.
func encodePreamble(major: UInt16, minor: UInt16, header: [UInt8], reserved: UInt32 = 0) -> [UInt8] {
    var w = ByteWriter()
    w.append(TTCFormat.magic)
    w.u16(major)
    w.u16(minor)
    w.u32(reserved)
    w.u64(UInt64(header.count))
    w.u32(crc32Of(header))
    w.u32(crc32Of(w.bytes))
    return w.bytes
}
