import TTCore
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive advisory lock on a path a command writes, held for the whole run, so two
/// processes writing one file (two `train m.ttc` at once, or `init --force m.ttc` during
/// one) cannot silently lose each other's work: the second is refused at once, naming the
/// first's process id.
///
/// The lock is `flock(2)` on a lock file beside the target, `.NAME.lock` (NAME cut as
/// `AtomicWrite.keptName` does), never on the target itself: saves replace the target by
/// rename, so a lock on it would stay with the old inode. The holder writes its PID in
/// decimal and a newline into the lock file, where a second writer reads it for its
/// message, and removes the file when it releases the lock. A lock file left by a killed
/// process holds no lock (the kernel drops a flock when its holder dies); the next writer
/// takes it over. After locking, a writer checks that the path still names the file it
/// locked (another holder may have removed it in between) and otherwise tries again, so
/// removing the file on release is safe. Readers never lock: every save is atomic.
/// spec/TRAINING.md, "Concurrent runs".
public final class OutputLock: @unchecked Sendable {
    /// The path being written.
    public let path: String
    /// The lock file beside it.
    public let lockPath: String
    private var fd: Int32
    private var holders = 1

    private init(path: String, lockPath: String, fd: Int32) {
        self.path = path
        self.lockPath = lockPath
        self.fd = fd
    }

    /// The lock file for `path`: `.NAME.lock` in the same directory.
    public static func lockPath(for path: String) -> String {
        let (directory, base) = AtomicWrite.splitPath(path)
        let name = ".\(AtomicWrite.keptName(base)).lock"
        return directory == "" ? name : directory + "/" + name
    }

    // Locks this process holds, by lock file: a second acquire of the same path from this
    // process shares the lock (flock would conflict with itself across two descriptors).
    nonisolated(unsafe) private static var held: [String: OutputLock] = [:]
    private static let registry = NSLock()

    /// Takes the lock for writing `path` (blocking no one; failing at once if held).
    /// - Throws: `InputError(path, "is being written by process PID ...")` when another
    ///   process holds it, or `InputError(path, ...)` when the lock file cannot be made.
    @discardableResult
    public static func acquire(_ path: String) throws -> OutputLock {
        let lockPath = lockPath(for: path)
        registry.lock()
        defer { registry.unlock() }
        if let existing = held[lockPath] {
            existing.holders += 1
            return existing
        }
        let lockName = AtomicWrite.splitPath(lockPath).1
        for _ in 0..<100 {
            let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
            guard fd >= 0 else {
                // Said as `OutputPath.check` says it: the directory is what is wrong.
                let code = errno
                let directory = AtomicWrite.splitPath(path).0
                let reason = String(cString: strerror(code))
                throw InputError(path, "cannot write here: \(directory.isEmpty ? "." : directory): "
                                 + reason.prefix(1).lowercased() + reason.dropFirst())
            }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let code = errno
                if code == EINTR { close(fd); continue }
                guard code == EWOULDBLOCK else {
                    close(fd)
                    throw InputError(path, "cannot lock \(lockName): \(String(cString: strerror(code)))")
                }
                let holder = holderPID(fd)
                close(fd)
                let who = holder.map { "process \($0)" } ?? "another process"
                throw InputError(path, "is being written by \(who) (lock file \(lockName)); wait for it to finish or stop it")
            }
            // The file locked must still be the one at the path (a holder releasing removes it).
            var locked = stat(), current = stat()
            guard fstat(fd, &locked) == 0, lstat(lockPath, &current) == 0,
                  locked.st_dev == current.st_dev, locked.st_ino == current.st_ino else {
                close(fd)
                continue
            }
            let text = Array("\(getpid())\n".utf8)
            _ = ftruncate(fd, 0)
            _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            let lock = OutputLock(path: path, lockPath: lockPath, fd: fd)
            held[lockPath] = lock
            return lock
        }
        throw InputError(path, "cannot lock \(lockName): it keeps being replaced")
    }

    /// The PID a holder wrote, waiting briefly for a holder that has locked but not yet written.
    private static func holderPID(_ fd: Int32) -> Int32? {
        for _ in 0..<20 {
            var buffer = [UInt8](repeating: 0, count: 24)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            if n > 0, let text = String(bytes: buffer[0..<n], encoding: .utf8),
               let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 {
                return pid
            }
            usleep(10_000)
        }
        return nil
    }

    /// Releases the lock (the last of this process's holders of it): removes the lock
    /// file, then closes it.
    public func release() {
        Self.registry.lock()
        defer { Self.registry.unlock() }
        guard fd >= 0 else { return }
        holders -= 1
        guard holders == 0 else { return }
        unlink(lockPath)
        close(fd)
        fd = -1
        Self.held[lockPath] = nil
    }

    /// Releases every lock this process holds; the command line calls it before exiting.
    public static func releaseAll() {
        registry.lock()
        let all = Array(held.values)
        registry.unlock()
        for lock in all {
            lock.holders = 1
            lock.release()
        }
    }
}
