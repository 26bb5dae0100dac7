import TTCore

// The .ttc format's public value types and its one error type. spec/FORMAT.md describes every byte.

/// Element type of a stored tensor: the format's `dtype` byte. Any code reads from a
/// directory (spec §4: a code this version does not know fails only the loading of that
/// tensor's values); `allCases` are the codes this version can decode.
public struct DType: RawRepresentable, Hashable, Sendable, CaseIterable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let f32 = DType(rawValue: 0)
    public static let allCases: [DType] = [.f32]
    public var isKnown: Bool { Self.allCases.contains(self) }
    /// "f32", or "dtype N" for a code this version does not know.
    public var label: String { self == .f32 ? "f32" : "dtype \(rawValue)" }
    /// Bytes per element; nil for an unknown code.
    public var byteSize: Int? { self == .f32 ? 4 : nil }
}

/// A reversible transform applied to the raw bytes before compression: the format's
/// `filter` byte (any code reads; `allCases` are the ones this version can undo).
public struct BlobFilter: RawRepresentable, Hashable, Sendable, CaseIterable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let none = BlobFilter(rawValue: 0)
    /// Byte shuffle: all first bytes of the elements, then all second bytes, ...
    public static let shuffle = BlobFilter(rawValue: 1)
    public static let allCases: [BlobFilter] = [.none, .shuffle]
    public var isKnown: Bool { Self.allCases.contains(self) }
    /// "none", "shuffle", or "filter N" for a code this version does not know.
    public var label: String { self == .none ? "none" : self == .shuffle ? "shuffle" : "filter \(rawValue)" }
}

/// Compression of a stored blob: the format's `compression` byte (any code reads;
/// `allCases` are the ones this version can inflate).
public struct BlobCompression: RawRepresentable, Hashable, Sendable, CaseIterable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let zlib = BlobCompression(rawValue: 1)
    public static let allCases: [BlobCompression] = [.zlib]
    public var isKnown: Bool { Self.allCases.contains(self) }
    /// "zlib", or "compression N" for a code this version does not know.
    public var label: String { self == .zlib ? "zlib" : "compression \(rawValue)" }
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
    /// True when this version knows the entry's dtype, compression and filter codes, so its
    /// values can be loaded (`CheckpointReader.loadTensor`).
    public var isDecodable: Bool { dtype.isKnown && compression.isKnown && filter.isKnown }
    /// The first code of the entry this version does not know ("dtype 9"), or nil.
    public var unknownCode: String? {
        !dtype.isKnown ? dtype.label : !compression.isKnown ? compression.label : !filter.isKnown ? filter.label : nil
    }
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
        /// A section whose tag marks it critical (first byte an uppercase letter: bit 5
        /// clear) and that this version does not know.
        case unknownCriticalSection
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
        /// The SHA-256 of a tensor's raw bytes differs from the one in the `hash` section.
        case rawDigest
        /// A tensor whose dtype, compression or filter code this version does not know:
        /// its values cannot be loaded (the rest of the file reads).
        case unsupportedEncoding
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
    /// What would fix it, when the reader knows (import: a setting the file lacks).
    public var remedy: Remedy?
    public init(path: String, message: String, remedy: Remedy? = nil) {
        self.path = path
        self.message = message
        self.kind = .other
        self.remedy = remedy
    }
    public init(path: String, kind: Kind, message: String) {
        self.path = path
        self.message = message
        self.kind = kind
    }
    public var description: String { "\(path): \(message)" + (remedy.map { "; " + $0.description } ?? "") }
}

/// A name from a file (tensor, metadata key, token) as error messages quote it: in single
/// quotes, escaped for the terminal (`TerminalText`), cut after 200 scalars so the message
/// stays one readable line. The .ttc reader and writer and the safetensors reader all use it.
package func quotedName(_ name: String) -> String {
    TerminalText.quoted(name, quote: "'", limit: 200)
}
