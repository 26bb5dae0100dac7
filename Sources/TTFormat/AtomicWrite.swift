import Dispatch
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
    /// (`temporaryName`) beside it (created exclusively), fsync, rename over `path`, fsync
    /// of the directory. Before any of it, a directory, a non-regular file or a read-only
    /// file at `path` is refused. On any failure up to the rename the temporary file is
    /// removed and `path` keeps its previous contents.
    /// - Throws: `FormatError` of kind `.writeFailed` naming `path`; a failed directory
    ///   fsync after the rename is reported too (the new file is in place but may not
    ///   survive a power loss).
    public static func write(_ pieces: [[UInt8]], to path: String, io: any FileSystemIO = POSIXFileSystem()) throws {
        try write(to: path, io: io) { sink in
            for piece in pieces { try sink.append(piece) }
        }
    }

    /// Where a streaming `write(to:io:_:)` puts its bytes: the open temporary file.
    public struct Sink {
        fileprivate let fd: Int32
        fileprivate let tempPath: String
        fileprivate let io: any FileSystemIO
        /// Appends `bytes` to the temporary file.
        public func append(_ bytes: UnsafeRawBufferPointer) throws { try io.write(fd, bytes, path: tempPath) }
        public func append(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try append($0) } }
        /// Overwrites bytes already appended, at `offset` (for a header whose contents are
        /// known only once the rest is written).
        public func write(_ bytes: [UInt8], at offset: Int) throws {
            try bytes.withUnsafeBytes { try io.write(fd, $0, at: offset, path: tempPath) }
        }
        /// Starts writing `offset..<offset + count` to the device without waiting, so the
        /// final fsync waits for less (`FileSystemIO.beginWriteback`).
        public func beginWriteback(offset: Int, count: Int) { io.beginWriteback(fd, offset: offset, count: count) }
    }

    /// The streaming form of `write(_:to:io:)`, with the same guarantees: `produce` appends
    /// the file's bytes in pieces (so a large file never has to be held whole in memory);
    /// an error it throws removes the temporary file, leaves `path` as it was, and is
    /// rethrown as it is.
    public static func write(to path: String, io: any FileSystemIO = POSIXFileSystem(),
                             _ produce: (Sink) throws -> Void) throws {
        func failed(_ m: String) -> FormatError { FormatError(path: path, kind: .writeFailed, message: m) }
        let (directory, base) = splitPath(path)
        try checkTarget(path, io: io)
        var rng = SystemRandomNumberGenerator()
        let tempName = temporaryName(for: base, pid: getpid(), suffix: rng.next() as UInt32)
        let tempPath = directory == "" ? tempName : directory + "/" + tempName
        var fd: Int32 = -1
        var retired: String? = nil
        do {
            fd = try io.createExclusive(tempPath)
            do {
                try produce(Sink(fd: fd, tempPath: tempPath, io: io))
            } catch let e as FileSystemError {
                throw e
            } catch {
                try? io.close(fd, path: tempPath)
                io.remove(tempPath)
                throw error
            }
            try io.sync(fd, path: tempPath)
            let closing = fd
            fd = -1
            try io.close(closing, path: tempPath)
            // A rename over a file frees it inside the call: its blocks and its cached
            // pages (10 ms for 50 MB here, a sixth of a save). A second name keeps the old
            // file alive through the rename, and it is freed afterwards in the background.
            // The name is a temporary file's, so if this process dies before removing it,
            // the next writer removes it as a stale temporary file.
            if case .regular = io.status(path) {
                let name = temporaryName(for: base, pid: getpid(), suffix: rng.next() as UInt32)
                let keep = directory == "" ? name : directory + "/" + name
                if (try? io.link(path, keep)) != nil { retired = keep }
            }
            try io.rename(tempPath, path)
        } catch let e as FileSystemError {
            if fd >= 0 { try? io.close(fd, path: tempPath) }
            io.remove(tempPath)
            if let retired { io.remove(retired) }
            throw failed("save failed, previous file (if any) left unchanged: \(e)")
        }
        if let retired { Retired.remove(retired, io: io) }
        do {
            try io.syncDirectory(directory == "" ? "." : directory)
        } catch let e as FileSystemError {
            throw failed("saved, but the directory could not be synced, so the save may not survive a power loss: \(e)")
        }
    }

    /// Waits until the files replaced by earlier writes are removed (they are removed on a
    /// background thread; see `write(to:io:_:)`). Runs at process exit too.
    public static func finishRemovals() { Retired.wait() }

    /// Replaced files, each unlinked in turn on one background queue.
    private enum Retired {
        static let queue = DispatchQueue(label: "tt-ckpt.retired-files")
        static let pending = DispatchGroup()
        static let registerExit: Void = { atexit { AtomicWrite.finishRemovals() } }()

        static func remove(_ path: String, io: any FileSystemIO) {
            _ = registerExit
            queue.async(group: pending) { io.remove(path) }
        }

        static func wait() { pending.wait() }
    }

    /// Refuses, before anything is written, a target that is not a file path, a
    /// directory, a non-regular file or a read-only file.
    static func checkTarget(_ path: String, io: any FileSystemIO) throws {
        func failed(_ m: String) -> FormatError { FormatError(path: path, kind: .writeFailed, message: m) }
        let base = splitPath(path).1
        guard !base.isEmpty, base != ".", base != ".." else { throw failed("not a file path") }
        switch io.status(path) {
        case .directory: throw failed("is a directory")
        case .other: throw failed("exists and is not a regular file")
        case .regular(writable: false): throw failed("the existing file is read-only; not replacing it")
        case .regular(writable: true), .missing: break
        }
    }

    /// Checks, before any work, that `write` could write `path`: the target checks of
    /// `write`, a file name within the file system's limit, and a real temporary file
    /// created and removed beside it (so an unwritable, read-only or full-of-inodes
    /// directory fails now, not after hours of training). Leaves the directory as it was.
    /// - Throws: `FormatError` of kind `.writeFailed` naming `path`.
    public static func probe(_ path: String, io: any FileSystemIO = POSIXFileSystem()) throws {
        func failed(_ m: String) -> FormatError { FormatError(path: path, kind: .writeFailed, message: m) }
        try checkTarget(path, io: io)
        let (directory, base) = splitPath(path)
        let limit = nameLimit(directory: directory)
        guard base.utf8.count <= limit else {
            throw failed("the file name is \(base.utf8.count) bytes, more than this file system's limit of \(limit)")
        }
        var rng = SystemRandomNumberGenerator()
        let tempName = temporaryName(for: base, pid: getpid(), suffix: rng.next() as UInt32)
        let tempPath = directory == "" ? tempName : directory + "/" + tempName
        do {
            let fd = try io.createExclusive(tempPath)
            defer { io.remove(tempPath) }
            try io.close(fd, path: tempPath)
        } catch let e as FileSystemError {
            throw failed("cannot save here: \(e)")
        }
    }

    /// The longest file name (bytes) the file system holding `directory` accepts
    /// (`pathconf(_PC_NAME_MAX)`, 255 if it does not say).
    public static func nameLimit(directory: String) -> Int {
        let n = pathconf(directory == "" ? "." : directory, Int32(_PC_NAME_MAX))
        return n > 0 ? n : 255
    }

    /// Bytes of NAME kept in temporary and lock file names: with the longest suffix
    /// (`.tmp-` + a 10-digit PID + `-` + 8 hex digits) and the leading dot, 255 bytes,
    /// NAME_MAX on Linux, so a file with any valid name can be saved.
    public static let keptNameBytes = 230

    /// NAME cut to its first `keptNameBytes` bytes at a character boundary: the part of
    /// a target's name that its temporary and lock files carry (NAME itself when short).
    public static func keptName(_ base: String) -> String {
        guard base.utf8.count > keptNameBytes else { return base }
        var kept = ""
        var bytes = 0
        for scalar in base.unicodeScalars {
            let n = String(scalar).utf8.count
            if bytes + n > keptNameBytes { break }
            kept.unicodeScalars.append(scalar)
            bytes += n
        }
        return kept
    }

    /// The temporary file name for target NAME: `.` + `keptName(NAME)` + `.tmp-PID-HEX`,
    /// at most 255 bytes whatever the length of NAME (spec/FORMAT.md §8).
    public static func temporaryName(for base: String, pid: Int32, suffix: UInt32) -> String {
        ".\(keptName(base)).tmp-\(pid)-\(String(suffix, radix: 16))"
    }

    /// The temporary files a writer for `path` may have left behind (after a crash):
    /// `.NAME.tmp-PID-HEX` beside it (NAME cut as `keptName` does). Paths are returned sorted.
    public static func temporaryFiles(for path: String) -> [String] {
        let (directory, base) = splitPath(path)
        guard let dir = opendir(directory == "" ? "." : directory) else { return [] }
        defer { closedir(dir) }
        let prefix = ".\(keptName(base)).tmp-"
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
            let rest = name.dropFirst(".\(keptName(base)).tmp-".count)
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
