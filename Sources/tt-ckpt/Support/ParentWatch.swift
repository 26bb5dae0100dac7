import Foundation

/// `TTCKPT_EXIT_WITH_PARENT=1`: when the process that started tt-ckpt ends, tt-ckpt sends
/// itself SIGHUP, as a terminal that closes would. A training then finishes its step,
/// saves and exits 129; any other command ends at once.
///
/// For supervisors and test runners that may die without stopping their children: a
/// crashed `swift test` process would otherwise leave its `tt-ckpt train --steps 100000000`
/// children running for good. A thread checks the parent process id four times a second
/// (a dead parent's children are handed to init or a subreaper, so the id changes); the
/// check costs nothing measurable. Any value other than `1` leaves the watch off.
enum ParentWatch {
    static let variable = "TTCKPT_EXIT_WITH_PARENT"

    static func startIfAsked() {
        guard let value = getenv(variable), String(cString: value) == "1" else { return }
        let parent = getppid()
        guard parent > 1 else { return }   // started by init already: nothing to outlive
        let thread = Thread {
            while getppid() == parent { usleep(250_000) }
            kill(getpid(), SIGHUP)
        }
        thread.name = "parent watch"
        thread.start()
    }
}
