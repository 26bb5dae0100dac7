import TTCore
import TTFormat

/// Bytes that can be read at any offset: the only way the model-file readers (GGUF,
/// safetensors, sharded sets) touch their input. `FileSource` is the project's one file
/// layer (`ReadableFile`: open without blocking on FIFOs, fstat, regular-file check,
/// bounded pread, and bounded mmap for tensor data); `InMemorySource` holds bytes in memory
/// (tests, fuzzing). Readers never trust a size from the file: every read is checked
/// against `size` first and fails with `.truncated`, naming what it was for.
public protocol RandomAccessSource: AnyObject {
    /// The name used in error messages.
    var path: String { get }
    var size: UInt64 { get }
    /// Exactly `count` bytes at `offset`.
    func read(offset: UInt64, count: Int) throws -> [UInt8]
    /// Calls `body` with the `count` bytes at `offset`: a read-only mapping of just that
    /// range, or a view of memory, or a buffer filled by pread; valid only inside `body`.
    func withBytes<R>(offset: UInt64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R
}

extension RandomAccessSource {
    /// Throws `.truncated` unless [offset, offset + count) lies inside the source.
    func checkRange(offset: UInt64, count: Int, what: String) throws {
        guard count >= 0, offset <= size, UInt64(count) <= size - offset else {
            throw ModelFileError(path: path, .truncated(what: what, offset: offset, count: UInt64(max(count, 0)), size: size))
        }
    }
}

/// A regular file through `ReadableFile`. With `mapped` (the default for tensor data),
/// `withBytes` maps just the range it is asked for and unmaps it afterwards, so memory stays
/// bounded by the largest range in use, not the file; without, it reads with pread.
public final class FileSource: RandomAccessSource, @unchecked Sendable {
    public let path: String
    public let size: UInt64
    public let mapped: Bool
    let file: ReadableFile

    /// - Throws: `ModelFileError` (`.io`, `.isDirectory`, `.notRegularFile`).
    public init(path: String, mapped: Bool = true) throws {
        do {
            file = try ReadableFile(path: path)
        } catch let e as FormatError {
            throw ModelFileError.fileLayer(e)
        }
        self.path = path
        self.size = UInt64(file.size)
        self.mapped = mapped
    }

    public func read(offset: UInt64, count: Int) throws -> [UInt8] {
        try checkRange(offset: offset, count: count, what: "a read")
        do {
            return try file.read(at: Int(offset), count: count)
        } catch let e as FormatError {
            throw ModelFileError.fileLayer(e)
        }
    }

    public func withBytes<R>(offset: UInt64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try checkRange(offset: offset, count: count, what: "a read")
        if mapped {
            // Errors of `body` pass through unchanged; only the file layer's are converted. A
            // file system that cannot map (mmap fails before `body` runs) falls back to pread.
            var result: Result<R, Error>? = nil
            do {
                try file.withMappedBytes(at: Int(offset), count: count) { raw in result = Result { try body(raw) } }
            } catch let e as FormatError {
                guard result == nil, e.message.hasPrefix("mmap failed") else { throw ModelFileError.fileLayer(e) }
            }
            if let result { return try result.get() }
        }
        return try withUnsafeTemporaryAllocation(byteCount: count, alignment: 16) { buffer in
            do {
                try file.read(at: Int(offset), into: buffer)
            } catch let e as FormatError {
                throw ModelFileError.fileLayer(e)
            }
            return try body(UnsafeRawBufferPointer(buffer))
        }
    }
}

/// Bytes in memory (tests, fuzzing, files already read).
public final class InMemorySource: RandomAccessSource, @unchecked Sendable {
    public let path: String
    public let bytes: [UInt8]
    public var size: UInt64 { UInt64(bytes.count) }

    public init(_ bytes: [UInt8], path: String = "<memory>") {
        self.bytes = bytes
        self.path = path
    }

    public func read(offset: UInt64, count: Int) throws -> [UInt8] {
        try checkRange(offset: offset, count: count, what: "a read")
        return Array(bytes[Int(offset)..<Int(offset) + count])
    }

    public func withBytes<R>(offset: UInt64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try checkRange(offset: offset, count: count, what: "a read")
        return try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<Int(offset) + count])) }
    }
}

/// A forward reader over a source with a refilled window, so that a header of many small
/// fields costs a few large reads, not one pread per field. Every read is bounds-checked
/// against the source size and fails with `.truncated` naming `what`.
struct ByteCursor {
    let source: RandomAccessSource
    private(set) var offset: UInt64 = 0
    private var window: [UInt8] = []
    private var windowStart: UInt64 = 0
    static let windowSize = 1 << 20

    init(_ source: RandomAccessSource, offset: UInt64 = 0) {
        self.source = source
        self.offset = offset
    }

    var remaining: UInt64 { offset <= source.size ? source.size - offset : 0 }

    /// Makes [offset, offset + count) available in the window.
    private mutating func ensure(_ count: Int, what: @autoclosure () -> String) throws {
        if offset >= windowStart, offset - windowStart <= UInt64(window.count),
           UInt64(count) <= UInt64(window.count) - (offset - windowStart) { return }
        guard UInt64(count) <= remaining else {
            throw ModelFileError(path: source.path, .truncated(what: what(), offset: offset, count: UInt64(count), size: source.size))
        }
        let n = Int(min(remaining, UInt64(max(count, Self.windowSize))))
        window = try source.read(offset: offset, count: n)
        windowStart = offset
    }

    mutating func bytes(_ count: Int, what: @autoclosure () -> String) throws -> ArraySlice<UInt8> {
        try ensure(count, what: what())
        let start = Int(offset - windowStart)
        offset += UInt64(count)
        return window[start..<start + count]
    }

    mutating func u8(_ what: @autoclosure () -> String) throws -> UInt8 {
        try ensure(1, what: what())
        let v = window[Int(offset - windowStart)]
        offset += 1
        return v
    }

    mutating func u32(_ what: @autoclosure () -> String) throws -> UInt32 {
        UInt32(truncatingIfNeeded: try le(4, what()))
    }

    mutating func u64(_ what: @autoclosure () -> String) throws -> UInt64 {
        try le(8, what())
    }

    private mutating func le(_ n: Int, _ what: @autoclosure () -> String) throws -> UInt64 {
        try ensure(n, what: what())
        let start = Int(offset - windowStart)
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(window[start + i]) << (8 * UInt64(i)) }
        offset += UInt64(n)
        return v
    }

    mutating func skip(_ count: UInt64, what: @autoclosure () -> String) throws {
        guard count <= remaining else {
            throw ModelFileError(path: source.path, .truncated(what: what(), offset: offset, count: count, size: source.size))
        }
        offset += count
    }
}
