import Dispatch
import Foundation

/// A flag raised by SIGINT or SIGTERM and checked by the training loop between steps.
///
/// `installSignalHandlers()` sets both signals to SIG_IGN and delivers them through
/// `DispatchSource` handlers, which only record the first signal. So while the flag is
/// installed nothing can kill the process mid-step or mid-save (a second Ctrl-C during the
/// final save is recorded and otherwise ignored); the loop finishes the step, saves and
/// the command exits 130 (SIGINT) or 143 (SIGTERM).
public final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var first: Int32? = nil
    private var sources: [DispatchSourceSignal] = []

    public init() {}

    /// The first signal received, if any.
    public var signal: Int32? {
        lock.lock(); defer { lock.unlock() }
        return first
    }

    /// Raises the flag as if `signal` had arrived (first one wins).
    public func raise(_ signal: Int32) {
        lock.lock(); defer { lock.unlock() }
        if first == nil { first = signal }
    }

    /// Routes SIGINT and SIGTERM to this flag for the rest of the process's life.
    public func installSignalHandlers() {
        for sig in [SIGINT, SIGTERM] {
            Foundation.signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: DispatchQueue.global())
            source.setEventHandler { [weak self] in self?.raise(sig) }
            source.resume()
            sources.append(source)
        }
    }

    /// The conventional exit status for a process stopped by `signal`: 128 + signal.
    public static func exitStatus(for signal: Int32) -> Int32 { 128 + signal }
}
