#if canImport(Glibc)
import Glibc
private let systemWrite = Glibc.write
private let systemClose = Glibc.close
private let systemRename = Glibc.rename
private let systemLink = Glibc.link
#elseif canImport(Darwin)
import Darwin
private let systemWrite = Darwin.write
private let systemClose = Darwin.close
private let systemRename = Darwin.rename
private let systemLink = Darwin.link
#endif
import CBlobCodec
import Foundation

/// A failed file-system call: the operation, the path and `errno`.
public struct FileSystemError: Error, Equatable, CustomStringConvertible, Sendable {
    public var operation: String
    public var path: String
    public var code: Int32
    public init(operation: String, path: String, code: Int32) {
        self.operation = operation
        self.path = path
        self.code = code
    }
    public var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
}

/// What is at a path, as far as the writer cares.
public enum FileStatus: Equatable, Sendable {
    case missing
    case regular(writable: Bool)
    case directory
    case other
}

/// Every file-system call the checkpoint writer makes. `POSIXFileSystem` is the real one;
/// `FaultInjectingFileSystem` fails on demand so crash-safety tests run anywhere.
public protocol FileSystemIO: Sendable {
    /// Creates a new file (O_CREAT | O_EXCL, mode 0644 before umask) for writing.
    func createExclusive(_ path: String) throws -> Int32
    /// Writes all of `bytes` (retrying short writes and EINTR).
    func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws
    /// Writes all of `bytes` at file offset `offset` (pwrite(2); the file position is
    /// not moved).
    func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws
    /// A hint: start writing bytes `offset..<offset + count` to the device now, without
    /// waiting (Linux `sync_file_range(SYNC_FILE_RANGE_WRITE)`), so the final fsync has
    /// less to wait for. Not a durability guarantee; a no-op where unsupported.
    func beginWriteback(_ fd: Int32, offset: Int, count: Int)
    func sync(_ fd: Int32, path: String) throws
    func close(_ fd: Int32, path: String) throws
    /// rename(2): atomically replaces `to`.
    func rename(_ from: String, _ to: String) throws
    /// link(2): a second name `new` for the file `existing`.
    func link(_ existing: String, _ new: String) throws
    /// Opens the directory and fsyncs it, so a completed rename survives a power loss.
    func syncDirectory(_ path: String) throws
    /// Best-effort unlink (used for cleanup; errors ignored).
    func remove(_ path: String)
    func status(_ path: String) -> FileStatus
}

/// The real file system through POSIX calls.
public struct POSIXFileSystem: FileSystemIO {
    public init() {}

    public func createExclusive(_ path: String) throws -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileSystemError(operation: "create", path: path, code: errno) }
        return fd
    }

    public func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = systemWrite(fd, bytes.baseAddress! + done, min(bytes.count - done, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw FileSystemError(operation: "write", path: path, code: errno)
            }
            if n == 0 { throw FileSystemError(operation: "write", path: path, code: EIO) }
            done += n
        }
    }

    public func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, min(bytes.count - done, 1 << 30), off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw FileSystemError(operation: "write", path: path, code: errno)
            }
            if n == 0 { throw FileSystemError(operation: "write", path: path, code: EIO) }
            done += n
        }
    }

    public func beginWriteback(_ fd: Int32, offset: Int, count: Int) {
        _ = cb_begin_writeback(fd, Int64(offset), Int64(count))
    }

    public func sync(_ fd: Int32, path: String) throws {
        guard fsync(fd) == 0 else { throw FileSystemError(operation: "fsync", path: path, code: errno) }
    }

    public func close(_ fd: Int32, path: String) throws {
        guard systemClose(fd) == 0 else { throw FileSystemError(operation: "close", path: path, code: errno) }
    }

    public func rename(_ from: String, _ to: String) throws {
        guard systemRename(from, to) == 0 else { throw FileSystemError(operation: "rename to", path: to, code: errno) }
    }

    public func link(_ existing: String, _ new: String) throws {
        guard systemLink(existing, new) == 0 else { throw FileSystemError(operation: "link to", path: new, code: errno) }
    }

    public func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystemError(operation: "open directory", path: path, code: errno) }
        defer { _ = systemClose(fd) }
        guard fsync(fd) == 0 else { throw FileSystemError(operation: "fsync directory", path: path, code: errno) }
    }

    public func remove(_ path: String) { _ = unlink(path) }

    public func status(_ path: String) -> FileStatus {
        var st = stat()
        guard stat(path, &st) == 0 else { return .missing }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .regular(writable: st.st_mode & 0o222 != 0)
        case S_IFDIR: return .directory
        default: return .other
        }
    }
}

/// A `FileSystemIO` that passes calls to POSIX but fails the ones it is told to, with a
/// chosen errno, for tests of interrupted and failing saves.
public final class FaultInjectingFileSystem: FileSystemIO, @unchecked Sendable {
    public enum Fault: Equatable, Sendable {
        /// Writes succeed until `after` bytes in total, then fail with ENOSPC (the bytes
        /// up to the limit are really written, like a filling disk).
        case noSpace(after: Int)
        /// Creating the temporary file fails with EACCES (an unwritable directory).
        case createDenied
        case syncFails
        case closeFails
        case renameFails
        case directorySyncFails
    }

    private let lock = NSLock()
    private let base = POSIXFileSystem()
    public let fault: Fault
    private var written = 0
    private var _created: [String] = []

    public init(_ fault: Fault) { self.fault = fault }

    /// Paths of the temporary files the writer created.
    public var createdPaths: [String] { lock.withLock { _created } }

    public func createExclusive(_ path: String) throws -> Int32 {
        if fault == .createDenied { throw FileSystemError(operation: "create", path: path, code: EACCES) }
        let fd = try base.createExclusive(path)
        lock.withLock { _created.append(path) }
        return fd
    }

    public func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        try limited(bytes, path: path) { try base.write(fd, $0, path: path) }
    }

    public func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws {
        try limited(bytes, path: path) { try base.write(fd, $0, at: offset, path: path) }
    }

    /// Passes `bytes` to `write`, under `.noSpace` only as many as the limit leaves, then
    /// fails with ENOSPC.
    private func limited(_ bytes: UnsafeRawBufferPointer, path: String,
                         _ write: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard case .noSpace(let limit) = fault else { return try write(bytes) }
        let allowed = lock.withLock { () -> Int in
            let a = max(0, min(bytes.count, limit - written))
            written += a
            return a
        }
        try write(UnsafeRawBufferPointer(rebasing: bytes[0..<allowed]))
        if allowed < bytes.count { throw FileSystemError(operation: "write", path: path, code: ENOSPC) }
    }

    public func beginWriteback(_ fd: Int32, offset: Int, count: Int) { base.beginWriteback(fd, offset: offset, count: count) }

    public func sync(_ fd: Int32, path: String) throws {
        if fault == .syncFails { throw FileSystemError(operation: "fsync", path: path, code: EIO) }
        try base.sync(fd, path: path)
    }

    public func close(_ fd: Int32, path: String) throws {
        if fault == .closeFails {
            try base.close(fd, path: path)
            throw FileSystemError(operation: "close", path: path, code: EIO)
        }
        try base.close(fd, path: path)
    }

    public func rename(_ from: String, _ to: String) throws {
        if fault == .renameFails { throw FileSystemError(operation: "rename to", path: to, code: EXDEV) }
        try base.rename(from, to)
    }

    public func link(_ existing: String, _ new: String) throws { try base.link(existing, new) }

    public func syncDirectory(_ path: String) throws {
        if fault == .directorySyncFails { throw FileSystemError(operation: "fsync directory", path: path, code: EIO) }
        try base.syncDirectory(path)
    }

    public func remove(_ path: String) { base.remove(path) }
    public func status(_ path: String) -> FileStatus { base.status(path) }
}
