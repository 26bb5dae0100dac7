import TTCore

/// Where a reader's bytes come from: an open file or memory (fuzzing, tests).
private enum ReaderSource {
    case file(ReadableFile)
    case memory([UInt8])
}

/// Reads a .ttc file. `init` reads and validates only the preamble, header and tensor
/// directory; it inflates nothing. `loadTensor` inflates one tensor and checks its CRCs
/// (and, when asked, its SHA-256).
/// The file stays open (and so keeps its contents even if replaced) until the reader is freed.
public final class CheckpointReader {
    public let path: String
    public let formatVersion: (major: UInt16, minor: UInt16)
    public let toolVersion: String
    public let fileSize: UInt64
    public let config: ModelConfig
    public let vocabulary: Vocabulary
    public let training: TrainingState
    /// Set for a trace file (META has `trace.step`): the step it traced.
    public let trace: TraceInfo?
    public let entries: [TensorEntry]
    /// Length of the header (all sections); blobs start at 32 + headerLength.
    public let headerLength: UInt64
    /// Every metadata key in the file, including ones this version does not know.
    public let metadataKeys: [String]
    /// Section tags in file order, including unknown ancillary ones (which were skipped).
    public let sectionTags: [UInt32]
    /// The SHA-256 of each tensor's raw bytes from the `hash` section, in directory order
    /// (32 bytes each); nil for a file without one (written before format 1.1).
    public let storedTensorDigests: [[UInt8]]?
    private let source: ReaderSource

    /// Opens `path` (`ReadableFile`: a FIFO or directory is refused at once) and validates it.
    public convenience init(path: String) throws {
        let file = try ReadableFile(path: path)
        try self.init(source: .file(file), size: UInt64(file.size), path: path)
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

        // Sections: u32 tag, u64 length, payload; unknown ancillary tags are skipped,
        // unknown critical ones rejected.
        var sections = ByteReader(header)
        var metaRange: Range<Int>? = nil, dirRange: Range<Int>? = nil, digestRange: Range<Int>? = nil
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
            func once(_ slot: inout Range<Int>?) throws {
                guard slot == nil else { throw fail(.duplicateSection, "section '\(tagName(tag))' appears twice") }
                slot = range
            }
            switch tag {
            case TTCFormat.metadataTag: try once(&metaRange)
            case TTCFormat.directoryTag: try once(&dirRange)
            case TTCFormat.digestTag: try once(&digestRange)
            default:
                guard !TTCFormat.isCritical(tag) else {
                    throw fail(.unknownCriticalSection, "section '\(tagName(tag))' is critical (first letter uppercase) and unknown to this reader (format \(TTCFormat.major).\(TTCFormat.minor)); a newer tt-ckpt is needed")
                }
            }
        }
        guard let metaRange else { throw fail(.missingSection, "header has no 'META' section") }
        guard let dirRange else { throw fail(.missingSection, "header has no 'TDIR' section") }

        do {
            let dataStart = UInt64(p) + headerLength
            let entries = try decodeDirectory(header, from: dirRange.lowerBound, to: dirRange.upperBound,
                                              dataStart: dataStart, fileSize: size)
            let digests = try digestRange.map { try decodeDigests(header, from: $0.lowerBound, to: $0.upperBound, tensorCount: entries.count) }
            let items = try decodeMetadata(header, from: metaRange.lowerBound, to: metaRange.upperBound)
            let (config, vocabulary, training, toolVersion) = try decodeCheckpointMetadata(items)
            let trace = try decodeTraceMetadata(items, config: config, training: training)
            try validateTensorSet(entries.map { ($0.name, $0.role, $0.shape) }, config: config, trace: trace)
            self.trace = trace
            self.formatVersion = (major, minor)
            self.headerLength = headerLength
            self.entries = entries
            self.config = config
            self.vocabulary = vocabulary
            self.training = training
            self.toolVersion = toolVersion
            self.metadataKeys = items.map(\.key)
            self.sectionTags = tags
            self.storedTensorDigests = digests
        } catch let e as ContentError {
            throw fail(e.kind, e.message)
        } catch let e as MetaDecodeError {
            throw fail(e.kind, e.message)
        }
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
        case .file(let file):
            ReaderAllocationMeter.note(count)
            return try file.read(at: Int(offset), count: count)
        }
    }

    public func entry(named name: String) -> TensorEntry? { entries.first { $0.name == name } }

    /// Inflates one tensor; verifies stored CRC, exact raw length and raw CRC, and with
    /// `checkingDigest` also the SHA-256 of the raw bytes against the `hash` section (when
    /// the file has one): `inspect --verify` asks for it, so a blob rewritten together with
    /// its CRCs is still caught.
    /// - Throws: `FormatError` naming the tensor; `.unsupportedEncoding` for a tensor whose
    ///   dtype, compression or filter code this version does not know.
    public func loadTensor(_ entry: TensorEntry, checkingDigest: Bool) throws -> [Float] {
        guard let index = entries.firstIndex(of: entry) else {
            throw FormatError(path: path, kind: .unknownEntry, message: "tensor \(quotedName(entry.name)): entry is not from this file's directory")
        }
        return try loadValidated(index, checkingDigest: checkingDigest)
    }

    /// `loadTensor(entry, checkingDigest: false)`: all CRC and length checks, no SHA-256.
    public func loadTensor(_ entry: TensorEntry) throws -> [Float] {
        try loadTensor(entry, checkingDigest: false)
    }

    private func loadValidated(_ index: Int, checkingDigest: Bool = false) throws -> [Float] {
        let entry = entries[index]
        func fail(_ kind: FormatError.Kind, _ m: String) -> FormatError {
            FormatError(path: path, kind: kind, message: "tensor \(quotedName(entry.name)): \(m)")
        }
        // Lengths were validated against the file size and the expansion cap.
        let stored = try Self.read(source, path: path, offset: entry.offset, count: Int(entry.storedLength))
        let storedCRC = crc32Of(stored)
        guard storedCRC == entry.storedCRC32 else {
            throw fail(.storedCRC, "stored CRC-32 mismatch (directory 0x\(hex(entry.storedCRC32)), computed 0x\(hex(storedCRC)))")
        }
        if let code = entry.unknownCode {
            throw fail(.unsupportedEncoding, "\(code) is not known to this reader (format \(TTCFormat.major).\(TTCFormat.minor)); its values need a newer tt-ckpt")
        }
        let values: [Float], rawCRC: UInt32
        do {
            (values, rawCRC) = try stored.withUnsafeBytes {
                try inflateFloats($0, rawLength: Int(entry.rawLength), shuffled: entry.filter == .shuffle)
            }
        } catch let e as InflateFailure {
            switch e {
            case .corrupt(let m): throw fail(.corruptStream, "zlib stream is corrupt (\(m))")
            case .trailingBytes(let n): throw fail(.corruptStream, "\(n) bytes after the end of the zlib stream")
            case .tooLong: throw fail(.inflateTooLong, "inflates to more than the raw length \(entry.rawLength)")
            case .tooShort(let n) where n == Int(entry.rawLength):
                throw fail(.inflateTooShort, "the zlib stream ends before its end (all \(n) raw bytes inflated, no final block or Adler-32 trailer; truncated stream)")
            case .tooShort(let n): throw fail(.inflateTooShort, "inflates to \(n) bytes, less than the raw length \(entry.rawLength) (truncated stream)")
            case .outOfMemory: throw fail(.io, "zlib is out of memory")
            }
        }
        guard rawCRC == entry.rawCRC32 else {
            throw fail(.rawCRC, "raw CRC-32 mismatch (directory 0x\(hex(entry.rawCRC32)), computed 0x\(hex(rawCRC)))")
        }
        if checkingDigest, let expected = storedTensorDigests?[index] {
            let computed = rawDigest(values)
            guard computed == expected else {
                throw fail(.rawDigest, "SHA-256 mismatch (hash section \(SHA256.hex(expected)), computed \(SHA256.hex(computed)))")
            }
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
        Checkpoint(config: config, vocabulary: vocabulary, training: training,
                   tensors: try loadTensors(threads: threads) { _ in true }, trace: trace)
    }

    /// Loads the tensors whose entries `included` accepts, in file order, on up to `threads`
    /// threads (largest first from a shared counter), with every check of `loadTensor`. The
    /// result is the same for any count; when several tensors fail, the error of the first
    /// in file order is thrown.
    public func loadTensors(threads: Int, where included: (TensorEntry) -> Bool) throws -> [NamedTensor] {
        let selected = entries.indices.filter { included(entries[$0]) }
        let results = UnsafeMutableBufferPointer<Result<[Float], Error>?>.allocate(capacity: selected.count)
        results.initialize(repeating: nil)
        defer { results.deinitialize(); results.deallocate() }
        nonisolated(unsafe) let out = results
        forEachLargestFirst(sizes: selected.map { Int(entries[$0].rawLength) }, threads: threads) { i in
            out[i] = Result { try self.loadValidated(selected[i]) }
        }
        return try selected.indices.map { i in
            let e = entries[selected[i]]
            return NamedTensor(name: e.name, role: e.role, shape: e.shape, values: try results[i]!.get())
        }
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
