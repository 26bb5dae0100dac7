#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file writes that never leave a partial file behind: the one way tt-ckpt writes a
/// file (checkpoints, step files, safetensors, SVG plots). Every system call goes through
/// a `FileSystemIO`, so tests and `TTCKPT_FAULT_INJECT` can fail any of them.
public enum AtomicWrite {
    /// Writes the concatenation of `pieces` to `path` through `io`: a temporary file
    /// `.NAME.tmp-PID-HEX` beside it (created exclusively), fsync, rename over `path`, fsync
    /// of the directory. Before any of it, a directory, a non-regular file or a read-only
    /// file at `path` is refused. On any failure up to the rename the temporary file is
    /// removed and `path` keeps its previous contents.
    /// - Throws: `FormatError` of kind `.writeFailed` naming `path`; a failed directory
    ///   fsync after the rename is reported too (the new file is in place but may not
    ///   survive a power loss).
    public static func write(_ pieces: [[UInt8]], to path: String, io: any FileSystemIO = POSIXFileSystem()) throws {
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
            for piece in pieces { try piece.withUnsafeBytes { try io.write(fd, $0, path: tempPath) } }
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

    package static func splitPath(_ path: String) -> (String, String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        let dir = String(path[..<slash])
        return (dir.isEmpty ? "/" : dir, String(path[path.index(after: slash)...]))
    }
}
