import Foundation
import TTFormat

/// The real file system, recording the calls that name or remove files (link, rename,
/// remove) in order; `removeDelay` (seconds) makes every remove that long, to catch a caller that
/// returns before its background removals are done.
final class RecordingIO: FileSystemIO, @unchecked Sendable {
    let base = POSIXFileSystem()
    let removeDelay: TimeInterval
    private let lock = NSLock()
    private var calls: [String] = []

    init(removeDelay: TimeInterval = 0) { self.removeDelay = removeDelay }

    /// The calls so far, as "link NEW", "rename TO", "remove PATH".
    var recorded: [String] { lock.withLock { calls } }
    private func log(_ s: String) { lock.withLock { calls.append(s) } }

    func createExclusive(_ path: String) throws -> Int32 { try base.createExclusive(path) }
    func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws { try base.write(fd, bytes, path: path) }
    func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws {
        try base.write(fd, bytes, at: offset, path: path)
    }
    func beginWriteback(_ fd: Int32, offset: Int, count: Int) { base.beginWriteback(fd, offset: offset, count: count) }
    func sync(_ fd: Int32, path: String) throws { try base.sync(fd, path: path) }
    func close(_ fd: Int32, path: String) throws { try base.close(fd, path: path) }
    func rename(_ from: String, _ to: String) throws { log("rename \(to)"); try base.rename(from, to) }
    func link(_ existing: String, _ new: String) throws { log("link \(new)"); try base.link(existing, new) }
    func syncDirectory(_ path: String) throws { try base.syncDirectory(path) }
    func remove(_ path: String) {
        if removeDelay > 0 { Thread.sleep(forTimeInterval: removeDelay) }
        log("remove \(path)")
        base.remove(path)
    }
    func status(_ path: String) -> FileStatus { base.status(path) }
}
