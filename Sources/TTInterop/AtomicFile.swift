import TTCore
import TTFormat
import TTTokenizer
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file writes that never leave a partial file behind.
public enum AtomicFile {
    /// Writes `bytes` to a temporary file in the destination's directory, fsyncs it, renames
    /// it over `path` and fsyncs the directory. On any error the temporary file is removed
    /// and an existing file at `path` is left untouched.
    /// - Throws: `FormatError` naming `path`.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        func fail(_ what: String) -> FormatError {
            FormatError(path: path, message: "\(what): \(String(cString: strerror(errno)))")
        }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        var template = Array("\(directory)/.\(base).tmp-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw fail("cannot create a temporary file in \(directory)") }
        let tempPath = String(cString: template)
        var ok = false
        defer {
            if !ok { unlink(tempPath) }
        }
        do {
            defer { close(fd) }
            var done = 0
            try bytes.withUnsafeBytes { raw in
                while done < raw.count {
                    let r = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                    if r < 0 {
                        if errno == EINTR { continue }
                        throw fail("write failed")
                    }
                    done += r
                }
            }
            // mkstemp creates 0600; give the file the usual 0644 less the umask.
            let mask = umask(0)
            umask(mask)
            fchmod(fd, 0o666 & ~mask)
            guard fsync(fd) == 0 else { throw fail("fsync failed") }
        }
        guard rename(tempPath, path) == 0 else { throw fail("cannot rename the temporary file into place") }
        ok = true
        let dfd = open(directory, O_RDONLY | O_DIRECTORY)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }
}
