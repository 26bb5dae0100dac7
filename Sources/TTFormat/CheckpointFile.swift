import TTCore
// Public surface of the .ttc format. spec/FORMAT.md describes every byte.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// Element type of a stored tensor. Raw values are the format's `dtype` byte.
public enum DType: UInt8, CaseIterable, Sendable {
    case f32 = 0
    public var label: String { "f32" }
    public var byteSize: Int { 4 }
}

/// A reversible transform applied to the raw bytes before compression.
public enum BlobFilter: UInt8, CaseIterable, Sendable {
    case none = 0
    /// Byte shuffle: all first bytes of the elements, then all second bytes, ...
    case shuffle = 1
    public var label: String { self == .none ? "none" : "shuffle" }
}

/// Compression of a stored blob. Raw values are the format's `compression` byte.
public enum BlobCompression: UInt8, CaseIterable, Sendable {
    case zlib = 1
    public var label: String { "zlib" }
}

/// One tensor directory entry, validated by the reader.
public struct TensorEntry: Equatable, Sendable {
    public var name: String
    public var role: TensorRole
    public var dtype: DType
    public var shape: [Int]
    public var compression: BlobCompression
    public var filter: BlobFilter
    /// Absolute file offset of the stored blob.
    public var offset: UInt64
    public var storedLength: UInt64
    public var rawLength: UInt64
    /// CRC-32 (zlib's) of the raw, unfiltered little-endian bytes.
    public var rawCRC32: UInt32
    /// CRC-32 of the stored (compressed) bytes.
    public var storedCRC32: UInt32
    public var elementCount: Int { shape.reduce(1, *) }
}

/// What is wrong with a file, naming the field or tensor. `description` is one line.
public struct FormatError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The rule a file broke (or the I/O step that failed), for callers and tests that
    /// need to tell failures apart without parsing messages.
    public enum Kind: String, Equatable, Sendable, CaseIterable {
        /// Opening or reading the file failed (missing, directory, permission, short read).
        case io
        /// Shorter than the 32-byte preamble.
        case truncated
        /// The first 8 bytes are not the .ttc magic.
        case notTTC
        /// A major version other than 1.
        case unsupportedVersion
        case preambleCRC
        /// The preamble's reserved u32 is not zero.
        case reservedField
        /// Header length above `FormatLimits.maxHeaderLength`.
        case headerTooLarge
        /// Header length runs past the end of the file.
        case headerOutOfFile
        case headerCRC
        /// A section header or length that does not fit the header.
        case malformedSection
        case missingSection
        case duplicateSection
        /// META structure: counts, key order, value types, UTF-8, bool bytes, caps.
        case malformedMetadata
        case missingKey
        case wrongType
        /// A well-formed metadata value that is out of range or inconsistent.
        case invalidValue
        /// TDIR structure: counts, truncated entries, unused bytes.
        case malformedDirectory
        case tooManyTensors
        case badName
        case duplicateName
        case badRole
        case badDType
        case badCompression
        case badFilter
        case badRank
        case badDimension
        case sizeOverflow
        /// raw length ≠ product(shape) × dtype size.
        case rawLengthMismatch
        /// raw length > 1032 × stored length.
        case expansionRatio
        case blobOutOfFile
        /// A blob that overlaps the header or another blob, or leaves a gap.
        case blobPlacement
        /// Bytes after the last blob.
        case trailingBytes
        case storedCRC
        case rawCRC
        /// zlib rejected the stream (bad header, block, Adler-32) or it has bytes after its end.
        case corruptStream
        case inflateTooLong
        case inflateTooShort
        case missingTensor
        case unexpectedTensor
        case tensorShape
        /// `loadTensor` was given an entry that is not from this reader.
        case unknownEntry
        /// The writer was given a checkpoint or options it will not write.
        case invalidCheckpoint
        /// The writer's file-system calls failed; the previous file is untouched.
        case writeFailed
        /// Anything not covered above (errors made with `init(path:message:)`).
        case other
    }

    public var path: String
    public var message: String
    public var kind: Kind
    public init(path: String, message: String) {
        self.path = path
        self.message = message
        self.kind = .other
    }
    public init(path: String, kind: Kind, message: String) {
        self.path = path
        self.message = message
        self.kind = kind
    }
    public var description: String { "\(path): \(message)" }
}

/// A name from a file (tensor, metadata key, token) as error messages quote it: in single
/// quotes, escaped for the terminal (`TerminalText`), cut after 200 scalars so the message
/// stays one readable line. The .ttc reader and writer and the safetensors reader all use it.
package func quotedName(_ name: String) -> String {
    TerminalText.quoted(name, quote: "'", limit: 200)
}

/// How the writer stores blobs.
public struct WriteOptions: Sendable {
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

/// Where a reader's bytes come from: an open file or memory (fuzzing, tests).
private enum ReaderSource {
    case file(Int32)
    case memory([UInt8])
}

/// Reads a .ttc file. `init` reads and validates only the preamble, header and tensor
/// directory; it inflates nothing. `loadTensor` inflates one tensor and checks its CRCs.
/// The file stays open (and so keeps its contents even if replaced) until the reader is freed.
public final class CheckpointReader {
    public let path: String
    public let formatVersion: (major: UInt16, minor: UInt16)
    public let toolVersion: String
    public let fileSize: UInt64
    public let config: ModelConfig
    public let vocabulary: Vocabulary
    public let training: TrainingState
    public let entries: [TensorEntry]
    /// Length of the header (all sections); blobs start at 32 + headerLength.
    public let headerLength: UInt64
    /// Every metadata key in the file, including ones this version does not know.
    public let metadataKeys: [String]
    /// Section tags in file order, including unknown ones (which were skipped).
    public let sectionTags: [UInt32]
    private let source: ReaderSource

    public convenience init(path: String) throws {
        // O_NONBLOCK: opening a FIFO must not wait for a writer (it is then refused below as
        // not a regular file); reads of a regular file ignore the flag.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            throw FormatError(path: path, kind: .io, message: "cannot open: \(String(cString: strerror(errno)))")
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            throw FormatError(path: path, kind: .io, message: "cannot stat: \(String(cString: strerror(e)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            let what = (st.st_mode & S_IFMT) == S_IFDIR ? "is a directory" : "is not a regular file"
            throw FormatError(path: path, kind: .io, message: what)
        }
        do {
            try self.init(source: .file(fd), size: UInt64(st.st_size), path: path)
        } catch {
            close(fd)
            throw error
        }
    }

    /// Reads a .ttc image held in memory; `name` stands for the path in messages.
    public convenience init(bytes: [UInt8], name: String) throws {
        try self.init(source: .memory(bytes), size: UInt64(bytes.count), path: name)
    }

    private init(source: ReaderSource, size: UInt64, path: String) throws {
        self.source = source
        self.path = path
        self.fileSize = size
        func fail(_ kind: FormatError.Kind, _ message: String) -> FormatError {
            FormatError(path: path, kind: kind, message: message)
        }
        let p = TTCFormat.preambleSize
        let headStart = try Self.read(source, path: path, offset: 0, count: Int(min(size, UInt64(p))))
        guard headStart.starts(with: TTCFormat.magic.prefix(headStart.count)) else {
            throw fail(.notTTC, "not a .ttc file (bad magic bytes)")
        }
        guard headStart.count == p else {
            throw fail(.truncated, "truncated: \(size) bytes is shorter than the \(p)-byte preamble")
        }
        var r = ByteReader(headStart, from: 8)
        let major = try! r.u16(), minor = try! r.u16(), reserved = try! r.u32()
        let headerLength = try! r.u64(), headerCRC = try! r.u32(), preambleCRC = try! r.u32()
        guard major == TTCFormat.major else {
            throw fail(.unsupportedVersion, "format version \(major).\(minor) is not supported (this tt-ckpt reads major version \(TTCFormat.major) only)")
        }
        let computedPreambleCRC = crc32Of(headStart[0..<28])
        guard preambleCRC == computedPreambleCRC else {
            throw fail(.preambleCRC, "preamble CRC-32 mismatch (stored 0x\(hex(preambleCRC)), computed 0x\(hex(computedPreambleCRC)))")
        }
        guard reserved == 0 else { throw fail(.reservedField, "preamble reserved field is \(reserved), must be 0") }
        guard headerLength <= UInt64(FormatLimits.maxHeaderLength) else {
            throw fail(.headerTooLarge, "header length \(headerLength) exceeds the cap \(FormatLimits.maxHeaderLength)")
        }
        guard headerLength <= size - UInt64(p) else {
            throw fail(.headerOutOfFile, "header length \(headerLength) runs past the end of the file (\(size) bytes)")
        }
        // The allocation is bounded by the file size (checked just above).
        let header = try Self.read(source, path: path, offset: UInt64(p), count: Int(headerLength))
        let computedHeaderCRC = crc32Of(header)
        guard headerCRC == computedHeaderCRC else {
            throw fail(.headerCRC, "header CRC-32 mismatch (stored 0x\(hex(headerCRC)), computed 0x\(hex(computedHeaderCRC)))")
        }

        // Sections: u32 tag, u64 length, payload; unknown tags are skipped.
        var sections = ByteReader(header)
        var metaRange: Range<Int>? = nil, dirRange: Range<Int>? = nil
        var tags: [UInt32] = []
        while !sections.isAtEnd {
            guard let tag = try? sections.u32(), let length = try? sections.u64() else {
                throw fail(.malformedSection, "header: \(sections.remaining) bytes at header offset \(sections.position) are too short for a section header")
            }
            guard length <= UInt64(sections.remaining) else {
                throw fail(.malformedSection, "section '\(tagName(tag))': length \(length) runs past the end of the header")
            }
            let range = try! sections.take(Int(length))
            tags.append(tag)
            switch tag {
            case TTCFormat.metadataTag:
                guard metaRange == nil else { throw fail(.duplicateSection, "section 'META' appears twice") }
                metaRange = range
            case TTCFormat.directoryTag:
                guard dirRange == nil else { throw fail(.duplicateSection, "section 'TDIR' appears twice") }
                dirRange = range
            default:
                break
            }
        }
        guard let metaRange else { throw fail(.missingSection, "header has no 'META' section") }
        guard let dirRange else { throw fail(.missingSection, "header has no 'TDIR' section") }

        do {
            let dataStart = UInt64(p) + headerLength
            let entries = try decodeDirectory(header, from: dirRange.lowerBound, to: dirRange.upperBound,
                                              dataStart: dataStart, fileSize: size)
            let items = try decodeMetadata(header, from: metaRange.lowerBound, to: metaRange.upperBound)
            let (config, vocabulary, training, toolVersion) = try decodeCheckpointMetadata(items)
            try validateTensorSet(entries.map { ($0.name, $0.role, $0.shape) }, config: config)
            self.formatVersion = (major, minor)
            self.headerLength = headerLength
            self.entries = entries
            self.config = config
            self.vocabulary = vocabulary
            self.training = training
            self.toolVersion = toolVersion
            self.metadataKeys = items.map(\.key)
            self.sectionTags = tags
        } catch let e as ContentError {
            throw fail(e.kind, e.message)
        } catch let e as MetaDecodeError {
            throw fail(e.kind, e.message)
        }
    }

    deinit {
        if case .file(let fd) = source { close(fd) }
    }

    /// Reads exactly `count` bytes at `offset`; a short read is a truncated file.
    private static func read(_ source: ReaderSource, path: String, offset: UInt64, count: Int) throws -> [UInt8] {
        switch source {
        case .memory(let bytes):
            guard offset <= UInt64(bytes.count), UInt64(count) <= UInt64(bytes.count) - offset else {
                throw FormatError(path: path, kind: .io, message: "read past the end of the data")
            }
            ReaderAllocationMeter.note(count)
            return Array(bytes[Int(offset)..<(Int(offset) + count)])
        case .file(let fd):
            ReaderAllocationMeter.note(count)
            // Not zero filled: pread fills every byte or this throws.
            var out = [UInt8](unsafeUninitializedCapacity: count) { _, n in n = count }
            var done = 0
            try out.withUnsafeMutableBytes { buf in
                while done < count {
                    let n = pread(fd, buf.baseAddress! + done, min(count - done, 1 << 30), off_t(offset) + off_t(done))
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw FormatError(path: path, kind: .io, message: "read failed: \(String(cString: strerror(errno)))")
                    }
                    if n == 0 {
                        throw FormatError(path: path, kind: .io, message: "file shrank while reading (ends before byte \(offset + UInt64(done)))")
                    }
                    done += n
                }
            }
            return out
        }
    }

    public func entry(named name: String) -> TensorEntry? { entries.first { $0.name == name } }

    /// Inflates one tensor; verifies stored CRC, exact raw length and raw CRC.
    public func loadTensor(_ entry: TensorEntry) throws -> [Float] {
        guard entries.contains(entry) else {
            throw FormatError(path: path, kind: .unknownEntry, message: "tensor \(quotedName(entry.name)): entry is not from this file's directory")
        }
        return try loadValidated(entry)
    }

    private func loadValidated(_ entry: TensorEntry) throws -> [Float] {
        func fail(_ kind: FormatError.Kind, _ m: String) -> FormatError {
            FormatError(path: path, kind: kind, message: "tensor \(quotedName(entry.name)): \(m)")
        }
        // Lengths were validated against the file size and the expansion cap.
        let stored = try Self.read(source, path: path, offset: entry.offset, count: Int(entry.storedLength))
        let storedCRC = crc32Of(stored)
        guard storedCRC == entry.storedCRC32 else {
            throw fail(.storedCRC, "stored CRC-32 mismatch (directory 0x\(hex(entry.storedCRC32)), computed 0x\(hex(storedCRC)))")
        }
        let raw: [UInt8]
        do {
            raw = try stored.withUnsafeBytes { try zlibInflateExact($0, rawLength: Int(entry.rawLength)) }
        } catch let e as InflateFailure {
            switch e {
            case .corrupt(let m): throw fail(.corruptStream, "zlib stream is corrupt (\(m))")
            case .trailingBytes(let n): throw fail(.corruptStream, "\(n) bytes after the end of the zlib stream")
            case .tooLong: throw fail(.inflateTooLong, "inflates to more than the raw length \(entry.rawLength)")
            case .tooShort(let n): throw fail(.inflateTooShort, "inflates to \(n) bytes, less than the raw length \(entry.rawLength) (truncated stream)")
            case .outOfMemory: throw fail(.io, "zlib is out of memory")
            }
        }
        let (values, rawCRC) = decodeFloats(raw, shuffled: entry.filter == .shuffle)
        guard rawCRC == entry.rawCRC32 else {
            throw fail(.rawCRC, "raw CRC-32 mismatch (directory 0x\(hex(entry.rawCRC32)), computed 0x\(hex(rawCRC)))")
        }
        return values
    }

    /// Loads every tensor (all checks of `loadTensor`).
    public func readCheckpoint() throws -> Checkpoint {
        try readCheckpoint(threads: 1)
    }

    /// Loads every tensor on up to `threads` threads (largest first from a shared
    /// counter). The result is the same for any count; when several tensors fail, the
    /// error of the first in file order is thrown.
    public func readCheckpoint(threads: Int) throws -> Checkpoint {
        let entries = self.entries
        let results = UnsafeMutableBufferPointer<Result<[Float], Error>?>.allocate(capacity: entries.count)
        results.initialize(repeating: nil)
        defer { results.deinitialize(); results.deallocate() }
        nonisolated(unsafe) let out = results
        forEachLargestFirst(sizes: entries.map { Int($0.rawLength) }, threads: threads) { i in
            out[i] = Result { try self.loadValidated(entries[i]) }
        }
        var tensors: [NamedTensor] = []
        tensors.reserveCapacity(entries.count)
        for (i, e) in entries.enumerated() {
            tensors.append(NamedTensor(name: e.name, role: e.role, shape: e.shape, values: try results[i]!.get()))
        }
        return Checkpoint(config: config, vocabulary: vocabulary, training: training, tensors: tensors)
    }
}

func hex(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 8 - s.count) + s
}

/// A section tag as its four ASCII characters when printable, else hex.
func tagName(_ tag: UInt32) -> String {
    let bytes = (0..<4).map { UInt8(truncatingIfNeeded: tag >> (8 * $0)) }
    if bytes.allSatisfy({ (0x20..<0x7f).contains($0) && $0 != 0x27 && $0 != 0x5c }) {
        return String(decoding: bytes, as: UTF8.self)
    }
    return "0x" + hex(tag)
}

/// Writes a .ttc file atomically: temporary file in the same directory, fsync, rename,
/// fsync of the directory. On any error the temporary file is removed and an existing
/// file at `path` is left untouched.
public enum CheckpointWriter {
    public static func write(_ checkpoint: Checkpoint, to path: String, options: WriteOptions = WriteOptions()) throws {
        try write(checkpoint, to: [path], options: options)
    }

    /// Encodes (compresses) once and writes the same bytes to each path in turn, each
    /// atomically as `write(_:to:options:)` does. A failure stops at that path: the paths
    /// before it hold the new file, it and the ones after keep their previous contents.
    public static func write(_ checkpoint: Checkpoint, to paths: [String], options: WriteOptions = WriteOptions()) throws {
        guard let first = paths.first else { return }
        let image = try encode(checkpoint, path: first, options: options)
        for path in paths { try commit(image, to: path, io: options.io) }
    }

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
    }

    static func encode(_ c: Checkpoint, path: String, options: WriteOptions) throws -> Image {
        func invalid(_ m: String) -> FormatError { FormatError(path: path, kind: .invalidCheckpoint, message: "cannot write: \(m)") }
        guard (0...9).contains(options.level) else { throw invalid("compression level \(options.level) is not in 0...9") }
        guard options.threads >= 1 else { throw invalid("threads must be at least 1, got \(options.threads)") }
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
            try validateTensorSet(c.tensors.map { ($0.name, $0.role, $0.shape) }, config: c.config)
        } catch let e as ContentError {
            throw invalid(e.message)
        }

        let blobs = compressAll(c.tensors, options: options)
        let meta = encodeMetadata(metadataItems(config: c.config, vocabulary: c.vocabulary, training: c.training))
        var entries = zip(c.tensors, blobs).map { t, b in
            TensorEntry(name: t.name, role: t.role, dtype: .f32, shape: t.shape, compression: .zlib, filter: b.filter,
                        offset: 0, storedLength: UInt64(b.stored.count), rawLength: UInt64(t.values.count * 4),
                        rawCRC32: b.rawCRC, storedCRC32: crc32Of(b.stored))
        }
        // Entry sizes do not depend on offsets, so the header length is known before them.
        let headerLength = 2 * 12 + meta.count + encodeDirectory(entries).count
        guard headerLength <= FormatLimits.maxHeaderLength else {
            throw invalid("header would be \(headerLength) bytes, more than the cap \(FormatLimits.maxHeaderLength)")
        }
        var offset = UInt64(TTCFormat.preambleSize + headerLength)
        for i in entries.indices {
            entries[i].offset = offset
            offset += entries[i].storedLength
        }
        let header = encodeHeader(sections: [(TTCFormat.metadataTag, meta), (TTCFormat.directoryTag, encodeDirectory(entries))])
        precondition(header.count == headerLength)
        var head = encodePreamble(major: TTCFormat.major, minor: TTCFormat.minor, header: header)
        head.append(contentsOf: header)
        return Image(head: head, blobs: blobs.map(\.stored), entries: entries)
    }

    struct CompressedBlob {
        var stored: [UInt8]
        var filter: BlobFilter
        var rawCRC: UInt32
    }

    /// Compresses each tensor on `options.threads` threads. Each tensor's result depends
    /// only on its values and the options, so the output is the same for any thread count.
    static func compressAll(_ tensors: [NamedTensor], options: WriteOptions) -> [CompressedBlob] {
        let results = UnsafeMutableBufferPointer<CompressedBlob?>.allocate(capacity: tensors.count)
        results.initialize(repeating: nil)
        defer { results.deinitialize(); results.deallocate() }  // release the blobs too
        nonisolated(unsafe) let out = results
        forEachLargestFirst(sizes: tensors.map(\.values.count), threads: options.threads) { i in
            out[i] = compressTensor(tensors[i].values, options: options)
        }
        return results.map { $0! }
    }

    /// Tensors with at most this many elements are compressed both ways, keeping the smaller.
    static let exactChoiceLimit = 16_384
    /// Larger tensors choose from 4 evenly spaced 1024-element samples (16 until format
    /// writer 1.0's speed pass: the sample's two compressions cost 25% of a medium save).
    static let sampleChunks = 4
    static let sampleChunkElements = 1024

    static func compressTensor(_ values: [Float], options: WriteOptions) -> CompressedBlob {
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

    /// Writes the image through `io`: temporary file, fsync, rename, directory fsync.
    static func commit(_ image: Image, to path: String, io: any FileSystemIO) throws {
        func failed(_ m: String) -> FormatError { FormatError(path: path, kind: .writeFailed, message: m) }
        let (directory, base) = splitPath(path)
        guard !base.isEmpty, base != ".", base != ".." else { throw failed("not a file path") }
        switch io.status(path) {
        case .directory: throw failed("is a directory")
        case .other: throw failed("exists and is not a regular file")
        case .regular(writable: false): throw failed("the existing file is read-only; not replacing it")
        case .regular(writable: true), .missing: break
        }
        var rng = SystemRandomNumberGenerator()
        let tempName = ".\(base).tmp-\(getpid())-\(String(rng.next() as UInt32, radix: 16))"
        let tempPath = directory == "" ? tempName : directory + "/" + tempName
        var fd: Int32 = -1
        do {
            fd = try io.createExclusive(tempPath)
            try image.head.withUnsafeBytes { try io.write(fd, $0, path: tempPath) }
            for blob in image.blobs { try blob.withUnsafeBytes { try io.write(fd, $0, path: tempPath) } }
            try io.sync(fd, path: tempPath)
            let closing = fd
            fd = -1
            try io.close(closing, path: tempPath)
            try io.rename(tempPath, path)
        } catch let e as FileSystemError {
            if fd >= 0 { try? io.close(fd, path: tempPath) }
            io.remove(tempPath)
            throw failed("save failed, previous file (if any) left unchanged: \(e)")
        }
        do {
            try io.syncDirectory(directory == "" ? "." : directory)
        } catch let e as FileSystemError {
            throw failed("saved, but the directory could not be synced, so the save may not survive a power loss: \(e)")
        }
    }

    /// The temporary files a writer for `path` may have left behind (after a crash):
    /// `.NAME.tmp-PID-HEX` beside it. Paths are returned sorted.
    public static func temporaryFiles(for path: String) -> [String] {
        let (directory, base) = splitPath(path)
        guard let dir = opendir(directory == "" ? "." : directory) else { return [] }
        defer { closedir(dir) }
        let prefix = ".\(base).tmp-"
        var found: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix(prefix) { found.append(directory == "" ? name : directory + "/" + name) }
        }
        return found.sorted()
    }

    /// Removes temporary files of `path` whose writing process no longer exists. Returns
    /// the paths removed.
    @discardableResult
    public static func removeStaleTemporaryFiles(for path: String) -> [String] {
        let base = splitPath(path).1
        var removed: [String] = []
        for temp in temporaryFiles(for: path) {
            let name = splitPath(temp).1
            let rest = name.dropFirst(".\(base).tmp-".count)
            guard let pidText = rest.split(separator: "-").first, let pid = Int32(pidText) else { continue }
            if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH {
                if unlink(temp) == 0 { removed.append(temp) }
            }
        }
        return removed
    }

    static func splitPath(_ path: String) -> (String, String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        let dir = String(path[..<slash])
        return (dir.isEmpty ? "/" : dir, String(path[path.index(after: slash)...]))
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
