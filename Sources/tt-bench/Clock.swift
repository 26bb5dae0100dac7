#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which clock the timings read. `wall` (the default) is what a user waits for; `cpu`
/// counts this process's CPU seconds, which on a machine shared with other jobs isolates
/// single-thread kernel speed from time spent descheduled (not meaningful for
/// multi-thread speedups).
enum BenchClock: String, CaseIterable {
    case wall, cpu
    nonisolated(unsafe) static var current: BenchClock = .wall
}

/// Seconds on the selected clock.
func now() -> Double {
    var ts = timespec()
    clock_gettime(BenchClock.current == .wall ? CLOCK_MONOTONIC : CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// The 1-minute load average, for the record (other jobs on the machine skew timings).
func loadAverage() -> Double {
    var loads = [Double](repeating: 0, count: 3)
    return getloadavg(&loads, 3) >= 1 ? loads[0] : .nan
}

/// Runs `body` once to warm up, then in batches (doubling from one call, so reading the
/// clock costs nothing measurable) until at least `minSeconds` and `minRuns` calls have
/// been timed; returns the mean seconds per call.
func timePerCall(minSeconds: Double, minRuns: Int = 3, _ body: () -> Void) -> Double {
    body()
    var runs = 0
    var batch = 1
    var elapsed = 0.0
    while elapsed < minSeconds || runs < minRuns {
        let start = now()
        for _ in 0..<batch { body() }
        elapsed += now() - start
        runs += batch
        if batch < 1 << 20 { batch *= 2 }
    }
    return elapsed / Double(runs)
}

/// Splits `minSeconds` into `trials` timed trials (see `timePerCall`) and returns the
/// fastest trial's seconds per call: on a shared machine the fastest trial is the one
/// least disturbed by other processes.
func bestTimePerCall(minSeconds: Double, trials: Int = 5, _ body: () -> Void) -> Double {
    var best = Double.infinity
    for _ in 0..<max(trials, 1) {
        best = min(best, timePerCall(minSeconds: minSeconds / Double(max(trials, 1)), minRuns: 2, body))
    }
    return best
}

/// Peak resident set size of this process in bytes (Linux: VmHWM), or nil.
func peakRSSBytes() -> Int? {
    guard let f = fopen("/proc/self/status", "r") else { return nil }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), f) != nil {
        let s = String(cString: line)
        if s.hasPrefix("VmHWM:") {
            let digits = s.filter { $0.isNumber }
            if let kb = Int(digits) { return kb * 1024 }
        }
    }
    return nil
}
