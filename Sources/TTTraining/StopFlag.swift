import Dispatch
import Foundation

/// A flag raised by SIGINT, SIGTERM or SIGHUP and checked by the training loop between steps.
///
/// `installSignalHandlers()` sets the three signals to SIG_IGN and delivers them through
/// `DispatchSource` handlers, which only record the first signal. So while the flag is
/// installed nothing can kill the process mid-step or mid-save (a second Ctrl-C during the
/// final save, or the terminal closing, is recorded and otherwise ignored); the loop
/// finishes the step, saves and the command exits 130 (SIGINT), 143 (SIGTERM) or 129
/// (SIGHUP: the terminal was closed). It also ignores SIGPIPE, so a closed stdout (a pipe
/// whose reader exited, `| head -1`) makes progress writes fail quietly instead of killing
/// the run: training goes on to the end and saves.
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

    /// The signals the flag catches: SIGINT, SIGTERM and SIGHUP.
    public static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// The signal's name: SIGINT, SIGTERM, SIGHUP, or "signal N".
    public static func name(of signal: Int32) -> String {
        switch signal {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        case SIGHUP: return "SIGHUP"
        default: return "signal \(signal)"
        }
    }

    /// Routes SIGINT, SIGTERM and SIGHUP to this flag, and ignores SIGPIPE, for the rest
    /// of the process's life.
    public func installSignalHandlers() {
        Foundation.signal(SIGPIPE, SIG_IGN)
        for sig in Self.signals {
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
