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
    public static func check(_ path: String, overwrite: Bool, forceHint: String? = "--force") throws {
        guard !path.isEmpty else { throw InputError("output", "empty path") }
        var info = stat()
        if stat(path, &info) == 0 {
            if (info.st_mode & S_IFMT) == S_IFDIR { throw InputError(path, "is a directory, not a file") }
            guard (info.st_mode & S_IFMT) == S_IFREG else { throw InputError(path, "exists and is not a regular file") }
            if !overwrite {
                throw InputError(path, "already exists" + (forceHint.map { " (use \($0) to overwrite)" } ?? ""))
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
}
