#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A regular file open for reading: the one way tt-ckpt reads a file (checkpoints,
/// safetensors, vocabulary files, corpora).
///
/// `init` opens with O_NONBLOCK, so a FIFO cannot block the open (it is then refused as not
/// a regular file; reads of a regular file ignore the flag), and takes the size from the
/// same descriptor with fstat. `read(at:count:)` checks the range against that size before
/// it allocates, and fills its buffer with pread (no zero fill first). The descriptor stays
/// open, so the contents stay readable even if the path is replaced, until the value is freed.
///
/// Every failure is a `FormatError` of kind `.io` naming the path.
public final class ReadableFile: @unchecked Sendable {
    public let path: String
    /// Bytes, from fstat at open.
    public let size: Int
    private let fd: Int32

    public init(path: String) throws {
        func fail(_ message: String) -> FormatError { FormatError(path: path, kind: .io, message: message) }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw fail("cannot open: \(String(cString: strerror(errno)))") }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            throw fail("cannot stat: \(String(cString: strerror(e)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw fail((st.st_mode & S_IFMT) == S_IFDIR ? "is a directory" : "is not a regular file")
        }
        self.path = path
        self.fd = fd
        self.size = Int(st.st_size)
    }

    deinit { close(fd) }

    /// Exactly `count` bytes at `offset`.
    /// - Throws: when the range is not inside the size seen at open (checked before
    ///   allocating), when a read fails, or when the file ends early (it shrank).
    public func read(at offset: Int, count: Int) throws -> [UInt8] {
        guard offset >= 0, count >= 0, count <= size, offset <= size - count else {
            throw FormatError(path: path, kind: .io, message: "read of \(count) bytes at \(offset) is past the end of the file")
        }
        var out = [UInt8](unsafeUninitializedCapacity: count) { _, n in n = count }
        try out.withUnsafeMutableBytes { try read(at: offset, into: $0) }
        return out
    }

    /// Fills `buffer` with the `buffer.count` bytes at `offset` (pread, no allocation): the
    /// same checks and errors as `read(at:count:)`.
    public func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws {
        let count = buffer.count
        guard offset >= 0, count <= size, offset <= size - count else {
            throw FormatError(path: path, kind: .io, message: "read of \(count) bytes at \(offset) is past the end of the file")
        }
        var done = 0
        while done < count {
            let n = pread(fd, buffer.baseAddress! + done, min(count - done, 1 << 30), off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw FormatError(path: path, kind: .io, message: "read failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 {
                throw FormatError(path: path, kind: .io, message: "file shrank while reading (ends before byte \(offset + done))")
            }
            done += n
        }
    }

    /// Calls `body` with the `count` bytes at `offset` mapped read-only (mmap of just that
    /// range, pages read in at once), and unmaps them when `body` returns: no copy, and the
    /// memory used is the range, whatever the file size. The range is checked against the
    /// size seen at open first. If another process truncates the file while it is mapped,
    /// touching the lost pages raises SIGBUS (as with numpy.memmap and the safetensors
    /// reference): the price of not copying. `read(at:into:)` has no such risk.
    public func withMappedBytes<R>(at offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard offset >= 0, count >= 0, count <= size, offset <= size - count else {
            throw FormatError(path: path, kind: .io, message: "mapping of \(count) bytes at \(offset) is past the end of the file")
        }
        guard count > 0 else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = offset / page * page
        let length = offset - start + count
        #if os(Linux)
        let flags = MAP_PRIVATE | MAP_POPULATE
        #else
        let flags = MAP_PRIVATE
        #endif
        guard let base = mmap(nil, length, PROT_READ, flags, fd, off_t(start)), base != MAP_FAILED else {
            throw FormatError(path: path, kind: .io, message: "mmap failed: \(String(cString: strerror(errno)))")
        }
        defer { munmap(base, length) }
        return try body(UnsafeRawBufferPointer(start: UnsafeRawPointer(base) + (offset - start), count: count))
    }

    /// The whole file at `path`, refused before reading when it is larger than `limit` bytes.
    /// A regular file that reports size 0 (procfs and sysfs files such as /proc/cpuinfo
    /// do) is read to its end in chunks instead, still refused past `limit`.
    public static func readAll(_ path: String, limit: Int) throws -> [UInt8] {
        let file = try ReadableFile(path: path)
        guard file.size <= limit else {
            throw FormatError(path: path, kind: .io, message: "is larger than \(limit) bytes")
        }
        if file.size == 0 { return try file.readToEnd(limit: limit) }
        return try file.read(at: 0, count: file.size)
    }

    /// Every byte read(2) gives until end of file, for files whose size fstat does not
    /// know; refused once more than `limit` bytes have come.
    private func readToEnd(limit: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(out.count)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FormatError(path: path, kind: .io, message: "read failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 { return out }
            guard out.count + n <= limit else {
                throw FormatError(path: path, kind: .io, message: "is larger than \(limit) bytes")
            }
            out.append(contentsOf: chunk[0..<n])
        }
    }
}
