import Foundation

/// Unbuffered writes to stdout that report a reader that went away instead of dying of it.
/// With SIGPIPE ignored (`ignoreBrokenPipe()`), a write to a pipe whose reader exited fails
/// with EPIPE; `write` then returns false and the caller stops quietly (`sample | head`).
enum StandardOutput {
    /// Makes a closed pipe an error return (EPIPE) rather than a fatal SIGPIPE.
    static func ignoreBrokenPipe() { signal(SIGPIPE, SIG_IGN) }

    /// Writes all of `text` to stdout (retrying short writes and EINTR). False when stdout
    /// is closed or failing (EPIPE, EIO, ...): nothing more will get through.
    static func write(_ text: String) -> Bool {
        var bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return true }
        return bytes.withUnsafeMutableBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Foundation.write(STDOUT_FILENO, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                done += n
            }
            return true
        }
    }
}
