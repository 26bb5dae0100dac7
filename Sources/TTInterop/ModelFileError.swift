import TTCore
import TTFormat

/// What is wrong with a model file, naming the file and, where one is at fault, the tensor or
/// metadata key. `description` is one line, `path: problem`, with names escaped, ready to be
/// printed after `tt-ckpt: `. `problem` tells failures apart for callers and tests.
public struct ModelFileError: Error, Equatable, CustomStringConvertible, Sendable {
    public var path: String
    public var problem: Problem

    public init(path: String, _ problem: Problem) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "\(TerminalText.escaped(path)): \(problem.message)" }

    /// The problem as one line, names escaped (the description without the path).
    public var message: String { problem.message }

    /// One case per rule a file can break. Names (tensor, key, shard) are stored raw and
    /// escaped in `message`.
    public enum Problem: Equatable, Sendable {
        // MARK: files
        /// open, fstat, pread or mmap failed (strerror text).
        case io(String)
        case isDirectory
        case notRegularFile
        /// A read of `count` bytes at `offset` needed for `what` runs past the end (`size`).
        case truncated(what: String, offset: UInt64, count: UInt64, size: UInt64)
        /// None of the known signatures: GGUF, .ttc, safetensors, a safetensors index.
        case unknownFormat
        /// A file of 0 bytes (no format can be told).
        case emptyFile
        case changedWhileReading

        // MARK: GGUF header
        case ggufBadMagic
        case ggufVersion1
        case ggufUnsupportedVersion(UInt32)
        /// The version reads as a byte-swapped small number: a big-endian file.
        case ggufBigEndian(UInt32)
        case ggufTooManyTensors(UInt64, limit: UInt64)
        case ggufTooManyKeys(UInt64, limit: UInt64)

        // MARK: GGUF metadata
        /// Key of metadata entry `index` (0-based) is longer than the limit.
        case ggufKeyTooLong(index: UInt64, length: UInt64, limit: UInt64)
        case ggufEmptyKey(index: UInt64)
        case ggufKeyNotUTF8(index: UInt64)
        case ggufDuplicateKey(String)
        case ggufInvalidValueType(key: String, type: UInt32)
        case ggufInvalidBool(key: String, byte: UInt8)
        case ggufStringTooLong(key: String, length: UInt64, limit: UInt64)
        case ggufStringNotUTF8(key: String)
        case ggufArrayTooLong(key: String, count: UInt64, limit: UInt64)
        case ggufArrayTooDeep(key: String, limit: Int)
        case ggufAlignmentType(type: String)
        case ggufAlignmentInvalid(UInt32)

        // MARK: GGUF tensor infos
        case ggufTensorNameTooLong(index: UInt64, length: UInt64, limit: UInt64)
        case ggufTensorNameNotUTF8(index: UInt64)
        case ggufDuplicateTensor(String)
        case ggufTooManyDimensions(tensor: String, count: UInt32, limit: UInt32)
        case ggufDimensionTooLarge(tensor: String, index: Int, value: UInt64)
        case ggufElementCountOverflow(tensor: String, dims: [UInt64])
        case ggufUnknownType(tensor: String, type: UInt32)
        case ggufRemovedType(tensor: String, type: UInt32, name: String)
        case ggufRowNotMultipleOfBlock(tensor: String, type: String, rowLength: UInt64, blockSize: Int)
        case ggufByteSizeOverflow(tensor: String)
        case ggufOffsetMisaligned(tensor: String, offset: UInt64, alignment: UInt32)
        /// Data [offset, offset + bytes) relative to the data section (which starts at
        /// `dataStart`) does not lie inside the file.
        case ggufTensorOutOfFile(tensor: String, offset: UInt64, bytes: UInt64, dataStart: UInt64, fileSize: UInt64)
        case ggufTensorsOverlap(tensor: String, other: String)

        // MARK: safetensors
        case stFileTooShort(UInt64)
        case stHeaderTooLarge(UInt64, limit: UInt64)
        case stHeaderPastEnd(length: UInt64, fileSize: UInt64)
        case stHeaderTooShort(UInt64)
        case stHeaderNotObjectStart
        case stHeaderJSON(String)
        case stMetadataNotObject
        case stMetadataValueNotString(key: String)
        case stEntryNotObject(tensor: String)
        case stMissingDtype(tensor: String)
        case stUnknownDtype(tensor: String, dtype: String)
        case stBadShape(tensor: String)
        case stBadOffsets(tensor: String)
        case stNotContiguous(tensor: String, begin: UInt64, end: UInt64, expected: UInt64)
        case stShapeOverflow(tensor: String, shape: [Int])
        /// Element count × bit size is not a whole number of bytes (F4, F6 types).
        case stPartialByte(tensor: String, dtype: String, shape: [Int])
        case stByteLengthMismatch(tensor: String, dtype: String, shape: [Int], needed: UInt64, span: UInt64)
        case stDataLengthMismatch(dataLength: UInt64, covered: UInt64)
        /// `loadFloats` (import) of a tensor that is not F32, F16, BF16 or F64.
        case stNotConvertibleToFloat(tensor: String, dtype: String)

        // MARK: sharded safetensors
        /// A directory with no `*.safetensors.index.json` and no `model.safetensors`.
        case shardNoIndex
        /// More than one `*.safetensors.index.json` in a directory.
        case shardSeveralIndexes([String])
        case shardIndexJSON(String)
        case shardIndexNotObject
        case shardIndexNoWeightMap
        case shardIndexMetadataNotObject
        case shardIndexTotalSizeInvalid
        case shardIndexEntryNotString(tensor: String)
        case shardIndexTooManyEntries(Int, limit: Int)
        /// A shard name that is not a plain file name inside the directory.
        case shardBadName(tensor: String, file: String)
        /// A shard that resolves (through symlinks) outside the directory.
        case shardEscapes(file: String, resolved: String)
        case shardTensorMissing(tensor: String, shard: String)
        case shardTensorNotInIndex(tensor: String, shard: String)
        case shardTensorInTwoShards(tensor: String, first: String, second: String)
        case shardTotalSizeMismatch(declared: UInt64, actual: UInt64)
        case shardIndexTooLarge(UInt64, limit: UInt64)

        // MARK: values
        case tensorNotFound(String)
        case valuesNotDecoded(tensor: String, dtype: String)

        public var message: String {
            switch self {
            case let .io(text): return text
            case .isDirectory: return "is a directory"
            case .notRegularFile: return "is not a regular file"
            case let .truncated(what, offset, count, size):
                return "truncated: \(what) needs \(count) bytes at offset \(offset), but the file ends at \(size)"
            case .emptyFile: return "is empty (0 bytes), not a model file"
            case .unknownFormat:
                return "not a model file this tool reads (no GGUF, .ttc or safetensors signature, and not a safetensors index)"
            case .changedWhileReading: return "file changed size while being read"

            case .ggufBadMagic: return "not a GGUF file (bad magic bytes)"
            case .ggufVersion1: return "GGUF version 1 is not supported (versions 2 and 3 are)"
            case let .ggufUnsupportedVersion(v): return "GGUF version \(v) is not supported (versions 2 and 3 are)"
            case let .ggufBigEndian(v):
                return "big-endian GGUF (version field reads \(v) little-endian) is not supported"
            case let .ggufTooManyTensors(n, limit): return "tensor count \(n) is more than the limit \(limit)"
            case let .ggufTooManyKeys(n, limit): return "metadata key count \(n) is more than the limit \(limit)"

            case let .ggufKeyTooLong(index, length, limit):
                return "metadata entry \(index): key length \(length) is more than the limit \(limit)"
            case let .ggufEmptyKey(index): return "metadata entry \(index): empty key"
            case let .ggufKeyNotUTF8(index): return "metadata entry \(index): key is not valid UTF-8"
            case let .ggufDuplicateKey(key): return "metadata key \(quotedName(key)) appears twice"
            case let .ggufInvalidValueType(key, type): return "metadata key \(quotedName(key)): invalid value type \(type)"
            case let .ggufInvalidBool(key, byte): return "metadata key \(quotedName(key)): bool byte \(byte) is neither 0 nor 1"
            case let .ggufStringTooLong(key, length, limit):
                return "metadata key \(quotedName(key)): string length \(length) is more than the limit \(limit)"
            case let .ggufStringNotUTF8(key): return "metadata key \(quotedName(key)): string is not valid UTF-8"
            case let .ggufArrayTooLong(key, count, limit):
                return "metadata key \(quotedName(key)): array length \(count) is more than the limit \(limit)"
            case let .ggufArrayTooDeep(key, limit): return "metadata key \(quotedName(key)): arrays nested deeper than \(limit)"
            case let .ggufAlignmentType(type): return "general.alignment has type \(type), not u32"
            case let .ggufAlignmentInvalid(v): return "general.alignment \(v) is not a power of two"

            case let .ggufTensorNameTooLong(index, length, limit):
                return "tensor info \(index): name length \(length) is more than the limit \(limit)"
            case let .ggufTensorNameNotUTF8(index): return "tensor info \(index): name is not valid UTF-8"
            case let .ggufDuplicateTensor(name): return "tensor \(quotedName(name)) appears twice"
            case let .ggufTooManyDimensions(tensor, count, limit):
                return "tensor \(quotedName(tensor)): \(count) dimensions, more than the limit \(limit)"
            case let .ggufDimensionTooLarge(tensor, index, value):
                return "tensor \(quotedName(tensor)): dimension \(index) is \(value), more than 2^63-1"
            case let .ggufElementCountOverflow(tensor, dims):
                return "tensor \(quotedName(tensor)): element count of dims \(dims) overflows"
            case let .ggufUnknownType(tensor, type): return "tensor \(quotedName(tensor)): unknown ggml type \(type)"
            case let .ggufRemovedType(tensor, type, name):
                return "tensor \(quotedName(tensor)): ggml type \(type) (\(name)) was removed from ggml and has no layout"
            case let .ggufRowNotMultipleOfBlock(tensor, type, rowLength, blockSize):
                return "tensor \(quotedName(tensor)): \(type) row length \(rowLength) is not a multiple of the block size \(blockSize)"
            case let .ggufByteSizeOverflow(tensor): return "tensor \(quotedName(tensor)): byte size overflows"
            case let .ggufOffsetMisaligned(tensor, offset, alignment):
                return "tensor \(quotedName(tensor)): offset \(offset) is not a multiple of the alignment \(alignment)"
            case let .ggufTensorOutOfFile(tensor, offset, bytes, dataStart, fileSize):
                return "tensor \(quotedName(tensor)): \(bytes) bytes at data offset \(offset) (file offset \(dataStart) + \(offset)) run past the end of the file (\(fileSize) bytes)"
            case let .ggufTensorsOverlap(tensor, other):
                return "tensor \(quotedName(tensor)): data overlaps tensor \(quotedName(other))"

            case let .stFileTooShort(size):
                return "not a safetensors file: \(size) bytes, shorter than the 8-byte header length"
            case let .stHeaderTooLarge(n, limit): return "header length \(n) is more than the limit \(limit)"
            case let .stHeaderPastEnd(length, fileSize):
                return "header length \(length) runs past the end of the file (\(fileSize) bytes)"
            case let .stHeaderTooShort(n): return "header length \(n) is too short for a JSON object"
            case .stHeaderNotObjectStart: return "header does not start with '{'"
            case let .stHeaderJSON(text): return "header: \(text)"
            case .stMetadataNotObject: return "__metadata__ is not a JSON object"
            case let .stMetadataValueNotString(key): return "__metadata__ value of \(quotedName(key)) is not a string"
            case let .stEntryNotObject(tensor): return "tensor \(quotedName(tensor)): entry is not a JSON object"
            case let .stMissingDtype(tensor): return "tensor \(quotedName(tensor)): missing or non-string dtype"
            case let .stUnknownDtype(tensor, dtype): return "tensor \(quotedName(tensor)): unknown dtype \(quotedName(dtype))"
            case let .stBadShape(tensor): return "tensor \(quotedName(tensor)): shape must be an array of non-negative integers"
            case let .stBadOffsets(tensor): return "tensor \(quotedName(tensor)): data_offsets must be two non-negative integers"
            case let .stNotContiguous(tensor, begin, end, expected):
                return "tensor \(quotedName(tensor)): data_offsets [\(begin), \(end)] are not contiguous (expected to begin at \(expected))"
            case let .stShapeOverflow(tensor, shape): return "tensor \(quotedName(tensor)): shape \(shape) overflows"
            case let .stPartialByte(tensor, dtype, shape):
                return "tensor \(quotedName(tensor)): \(dtype) \(shape) is not a whole number of bytes"
            case let .stByteLengthMismatch(tensor, dtype, shape, needed, span):
                return "tensor \(quotedName(tensor)): \(dtype) \(shape) needs \(needed) bytes but data_offsets span \(span)"
            case let .stDataLengthMismatch(dataLength, covered):
                return "data buffer is \(dataLength) bytes but the tensors cover \(covered)"
            case let .stNotConvertibleToFloat(tensor, dtype):
                return "tensor \(quotedName(tensor)): dtype \(dtype) cannot be imported (need F32, F16, BF16 or F64)"

            case .shardNoIndex: return "directory has no *.safetensors.index.json and no model.safetensors"
            case let .shardSeveralIndexes(names):
                return "directory has several index files (\(names.map(quotedName).joined(separator: ", "))); name one"
            case let .shardIndexJSON(text): return "index: \(text)"
            case .shardIndexNotObject: return "index is not a JSON object"
            case .shardIndexNoWeightMap: return "index has no weight_map object"
            case .shardIndexMetadataNotObject: return "index metadata is not a JSON object"
            case .shardIndexTotalSizeInvalid: return "index metadata.total_size is not a non-negative integer"
            case let .shardIndexEntryNotString(tensor): return "index weight_map entry \(quotedName(tensor)) is not a string"
            case let .shardIndexTooManyEntries(n, limit): return "index weight_map has \(n) entries, more than the limit \(limit)"
            case let .shardBadName(tensor, file):
                return "index maps tensor \(quotedName(tensor)) to \(quotedName(file)), which is not a plain file name in the directory"
            case let .shardEscapes(file, resolved):
                return "shard \(quotedName(file)) resolves to \(quotedName(resolved)), outside the directory"
            case let .shardTensorMissing(tensor, shard):
                return "index maps tensor \(quotedName(tensor)) to \(quotedName(shard)), which does not contain it"
            case let .shardTensorNotInIndex(tensor, shard):
                return "shard \(quotedName(shard)) holds tensor \(quotedName(tensor)), which the index does not list"
            case let .shardTensorInTwoShards(tensor, first, second):
                return "tensor \(quotedName(tensor)) is in two shards, \(quotedName(first)) and \(quotedName(second))"
            case let .shardTotalSizeMismatch(declared, actual):
                return "index metadata.total_size is \(declared) but the tensors hold \(actual) bytes"
            case let .shardIndexTooLarge(size, limit): return "index is \(size) bytes, more than the limit \(limit)"

            case let .tensorNotFound(name): return "no tensor \(quotedName(name))"
            case let .valuesNotDecoded(tensor, dtype):
                return "tensor \(quotedName(tensor)): values of \(dtype) are not decoded"
            }
        }
    }
}

extension ModelFileError {
    /// A failure of the file layer (`ReadableFile`: open, fstat, pread, mmap) as a
    /// `ModelFileError` of the same path.
    static func fileLayer(_ error: FormatError) -> ModelFileError {
        switch error.message {
        case "is a directory": return ModelFileError(path: error.path, .isDirectory)
        case "is not a regular file": return ModelFileError(path: error.path, .notRegularFile)
        default: return ModelFileError(path: error.path, .io(error.message))
        }
    }
}
