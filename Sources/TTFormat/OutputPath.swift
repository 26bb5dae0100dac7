import TTCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks on a path a command is about to write, done before any work so a bad path costs
/// nothing and leaves nothing behind.
public enum OutputPath {
    /// - Parameter overwrite: whether an existing regular file may be replaced.
    /// - Throws: `InputError(path, ...)`: a directory, an existing file without `overwrite`,
    ///   a missing or non-directory parent, or a parent that is not writable.
    public static func check(_ path: String, overwrite: Bool) throws {
        guard !path.isEmpty else { throw InputError("output", "empty path") }
        var info = stat()
        if stat(path, &info) == 0 {
            if (info.st_mode & S_IFMT) == S_IFDIR { throw InputError(path, "is a directory, not a file") }
            guard (info.st_mode & S_IFMT) == S_IFREG else { throw InputError(path, "exists and is not a regular file") }
            if !overwrite {
                throw InputError(path, "already exists", remedy: .allowOverwrite)
            }
        }
        let parent: String
        if let slash = path.lastIndex(of: "/") {
            parent = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            parent = "."
        }
        var dirInfo = stat()
        guard stat(parent, &dirInfo) == 0 else { throw InputError(path, "cannot write here: \(parent): \(systemReason(errno))") }
        guard (dirInfo.st_mode & S_IFMT) == S_IFDIR else { throw InputError(path, "cannot write here: \(parent) is not a directory") }
        guard access(parent, W_OK) == 0 else { throw InputError(path, "cannot write here: \(parent): \(systemReason(errno))") }
    }

    /// True when `a` and `b` name the same file (same device and inode), or the same
    /// path when neither exists yet.
    public static func isSameFile(_ a: String, _ b: String) -> Bool {
        var sa = stat(), sb = stat()
        let ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0
        if ea && eb { return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino }
        return !ea && !eb && a == b
    }

    /// Refuses to write `output` when it is the same file (device and inode) as one of
    /// `inputs`: the command would destroy what it reads.
    /// - Throws: `FormatError` naming `output` and the input.
    public static func refuseOverwritingInput(_ output: String, inputs: [String]) throws {
        var out = stat()
        guard stat(output, &out) == 0 else { return }  // does not exist yet
        for input in inputs {
            var info = stat()
            if stat(input, &info) == 0, info.st_dev == out.st_dev, info.st_ino == out.st_ino {
                throw FormatError(path: output, message: "is the input \(input); refusing to overwrite it")
            }
        }
    }
}

/// The system's message for an errno, lowercased at the start: "no such file or directory".
private func systemReason(_ code: Int32) -> String {
    guard let c = strerror(code) else { return "error \(code)" }
    let text = String(cString: c)
    guard let first = text.first else { return "error \(code)" }
    return first.lowercased() + text.dropFirst()
}
