import Foundation

/// Runs one save at a time on a background thread of its own, at the lowest scheduling
/// priority (nice 19), so compression takes the cycles training leaves idle rather than
/// sharing the cores with it. `wait()` before the next save or the end bounds how late it
/// can finish.
final class BackgroundSaver: @unchecked Sendable {
    private let group = DispatchGroup()
    // Written by the background job, read after `group.wait()`.
    private var result: Result<[String], Error>? = nil

    /// Starts `job`. The caller must `wait()` for the previous one first.
    func start(_ job: @escaping @Sendable () throws -> [String]) {
        precondition(result == nil, "BackgroundSaver: previous save not collected")
        group.enter()
        let thread = Thread {
            #if os(Linux)
            // On Linux nice is per thread and `who` 0 is the calling thread: this lowers
            // only the saver's own thread.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
            #endif
            let r = Result { try job() }
            self.result = r
            self.group.leave()
        }
        thread.start()
    }

    /// Waits for the running save (if any); returns the paths it wrote or throws its error.
    func wait() throws -> [String] {
        group.wait()
        defer { result = nil }
        return try result?.get() ?? []
    }
}
