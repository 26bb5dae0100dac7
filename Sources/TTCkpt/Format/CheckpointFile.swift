// Public surface of the .ttc format. The format issue (#3) implements it; spec/FORMAT.md
// describes every byte.

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
    public var path: String
    public var message: String
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path): \(message)" }
}

/// How the writer stores blobs.
public struct WriteOptions: Sendable {
    /// zlib level 0...9.
    public var level: Int32 = 6
    /// nil: pick per tensor; otherwise force this filter on every tensor.
    public var filter: BlobFilter? = nil
    /// Threads compressing blobs in parallel (results are identical for any count).
    public var threads: Int = 1
    public init() {}
}

/// Reads a .ttc file. `init` reads and validates only the preamble, header and tensor
/// directory; it inflates nothing. `loadTensor` inflates one tensor and checks its CRCs.
public final class CheckpointReader {
    public let path: String
    public let formatVersion: (major: UInt16, minor: UInt16)
    public let toolVersion: String
    public let fileSize: UInt64
    public let config: ModelConfig
    public let vocabulary: Vocabulary
    public let training: TrainingState
    public let entries: [TensorEntry]

    public init(path: String) throws {
        fatalError("CheckpointReader: not implemented yet (issue 3)")
    }

    public func entry(named name: String) -> TensorEntry? { entries.first { $0.name == name } }

    /// Inflates one tensor; verifies stored CRC, exact raw length and raw CRC.
    public func loadTensor(_ entry: TensorEntry) throws -> [Float] {
        fatalError("not implemented yet (issue 3)")
    }

    /// Loads every tensor (all checks of `loadTensor`).
    public func readCheckpoint() throws -> Checkpoint {
        fatalError("not implemented yet (issue 3)")
    }
}

/// Writes a .ttc file atomically: temporary file in the same directory, fsync, rename,
/// fsync of the directory. On any error the temporary file is removed and an existing
/// file at `path` is left untouched.
public enum CheckpointWriter {
    public static func write(_ checkpoint: Checkpoint, to path: String, options: WriteOptions = WriteOptions()) throws {
        fatalError("not implemented yet (issue 3)")
    }
}
