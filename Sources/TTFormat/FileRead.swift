import TTCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a regular file whole.
/// - Throws: `InputError(path, ...)` with the system's reason, "is a directory", or
///   "is larger than ..." when it exceeds `limit` bytes.
package func readWholeFile(_ path: String, limit: Int) throws -> [UInt8] {
    // O_NONBLOCK: a FIFO must not block the open (it is refused below); regular files ignore it.
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else { throw InputError(path, systemReason(errno)) }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw InputError(path, systemReason(errno)) }
    if (info.st_mode & S_IFMT) == S_IFDIR { throw InputError(path, "is a directory, not a file") }
    guard (info.st_mode & S_IFMT) == S_IFREG else { throw InputError(path, "is not a regular file") }
    guard Int(info.st_size) <= limit else { throw InputError(path, "is larger than \(limit) bytes") }
    var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
    var filled = 0
    while filled < bytes.count {
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
        if n < 0 {
            if errno == EINTR { continue }
            throw InputError(path, systemReason(errno))
        }
        if n == 0 { break }
        filled += n
    }
    bytes.removeSubrange(filled...)
    return bytes
}

/// The system's message for an errno, lowercased at the start: "no such file or directory".
package func systemReason(_ code: Int32) -> String {
    guard let c = strerror(code) else { return "error \(code)" }
    let text = String(cString: c)
    guard let first = text.first else { return "error \(code)" }
    return first.lowercased() + text.dropFirst()
}
